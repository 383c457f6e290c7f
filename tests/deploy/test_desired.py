"""Desired state, normalisation and ownership, without a network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.apimanagement import models

from apimgen.deploy.desired import SecretRef, map_secrets
from apimgen.deploy.kinds import KINDS, MANAGED_MARK, kind_for_path, kind_named
from apimgen.deploy.live import LiveResource
from apimgen.deploy.normalise import comparable, differences, normalised
from apimgen.deploy.plan import owned
from apimgen.deploy.session import TargetOptions, desired_for, resolve_target
from apimgen.pipeline import build_gateway
from apimgen.spec.load import load_spec
from tests.deploy.conftest import EXISTING, INSTANCES, PRODUCTION, SEED, SUBSCRIPTION

SERVICE_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.ApiManagement/service/gw"
)


def _desired(spec: Path) -> list[Any]:
    gateway = build_gateway(load_spec(spec))
    target = resolve_target(TargetOptions(subscription_id=SUBSCRIPTION), gateway, None)
    return list(desired_for(gateway, target, None).resources)


@pytest.mark.parametrize("spec", list(INSTANCES), ids=lambda p: p.parent.name)
def test_every_body_survives_the_sdk_contract_model(spec: Path) -> None:
    """Property names and shapes the SDK does not know would be dropped silently on apply."""
    for resource in _desired(spec):
        if not resource.kind.has_body:
            continue
        body = {"properties": map_secrets(resource.properties, lambda _: "secret-from-environment")}
        model = getattr(models, resource.kind.model).deserialize(body)
        assert normalised(model.serialize()) == normalised(body), resource.path
        assert set(body["properties"]) <= set(resource.kind.managed) | set(resource.kind.secret)


def test_desired_state_is_in_dependency_order_and_marked() -> None:
    resources = _desired(EXISTING)
    order = [KINDS.index(r.kind) for r in resources]
    assert order == sorted(order)
    paths = [r.path for r in resources]
    assert paths.index("backends/aoai-eus2") < paths.index("apis/chat/policies/policy")
    for resource in resources:
        marker = resource.kind.marker
        if marker == "description":
            assert resource.properties["description"].endswith(MANAGED_MARK), resource.path
        if marker == "tags":
            assert resource.properties["tags"] == ["apimgen-managed"]


def test_references_resolve_to_ids_under_the_target_and_secrets_to_environment() -> None:
    by_path = {r.path: r for r in _desired(PRODUCTION)}
    pool = by_path["backends/aoai-pool"].properties["pool"]["services"]
    assert pool[0]["id"] == (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-fabrikam-ai/providers/"
        "Microsoft.ApiManagement/service/fabrikam-ai-gateway/backends/aoai-ptu-weu"
    )
    logger = by_path["loggers/appinsights"].properties
    assert logger["credentials"]["instrumentationKey"] == SecretRef(
        "APIMGEN_APP_INSIGHTS_INSTRUMENTATION_KEY"
    )
    assert logger["resourceId"].endswith(
        "/resourceGroups/rg-fabrikam-ai/providers/Microsoft.Insights/components/"
        "fabrikam-ai-gateway-insights"
    )
    seed = {r.path: r for r in _desired(SEED)}
    assert seed["caches/default"].properties["connectionString"] == SecretRef(
        "APIMGEN_REDIS_CONNECTION_STRING"
    )


@pytest.mark.parametrize(
    ("live", "desired"),
    [
        ({"tripDuration": "PT60S"}, {"tripDuration": "PT1M"}),
        ({"interval": "PT1H"}, {"interval": "PT3600S"}),
        ({"method": "post"}, {"method": "POST"}),
        ({"state": "Active"}, {"state": "active"}),
        ({"scope": SERVICE_ID.upper() + "/PRODUCTS/P"}, {"scope": SERVICE_ID + "/products/p"}),
        ({"description": None}, {}),
        ({"templateParameters": []}, {}),
        ({"keyVault": {"secretIdentifier": "u", "lastStatus": {"code": "ok"}}},
         {"keyVault": {"secretIdentifier": "u"}}),
    ],
)  # fmt: skip
def test_equivalent_spellings_compare_equal(live: dict[str, Any], desired: dict[str, Any]) -> None:
    wide = kind_named("backend")
    wide = type(wide)(**{**wide.__dict__, "managed": tuple(set(live) | set(desired))})
    assert comparable(wide, live, "x") == comparable(wide, desired, "x")


def test_policy_xml_compares_by_meaning_and_unmanaged_properties_are_ignored() -> None:
    kind = kind_named("API policy")
    sent = '<policies>\n  <inbound>\n    <base />\n    <set-header name="a" exists-action="override"><value>@(context.Request.Headers.GetValueOrDefault("x",""))</value></set-header>\n  </inbound>\n</policies>'  # noqa: E501
    stored = sent.replace("\n", "\r\n\t").replace('"x",""', "&quot;x&quot;,&quot;&quot;")
    stored = stored.replace(
        'name="a" exists-action="override"', 'exists-action="override" name="a"'
    )
    live = {"value": stored, "format": "xml", "id": "whatever"}
    assert comparable(kind, live, "p") == comparable(kind, {"value": sent, "format": "rawxml"}, "p")
    changed = comparable(kind, {"value": sent.replace('"a"', '"b"')}, "p")
    assert [d[0] for d in differences(comparable(kind, live, "p"), changed)] == ["value"]


def _live(path: str, **properties: Any) -> LiveResource:
    kind = kind_for_path(path)
    assert kind is not None
    return LiveResource(path, kind, properties)


def test_ownership_follows_markers_parents_loggers_and_scopes() -> None:
    product = _live("products/p", description=f"Gold tier\n\n{MANAGED_MARK}")
    foreign = _live("products/q", description="made in the portal")
    logger = _live("loggers/l", description=MANAGED_MARK)
    resources = {
        r.path: r
        for r in (
            product,
            foreign,
            logger,
            _live("products/p/policies/policy"),
            _live("products/q/policies/policy"),
            _live("diagnostics/applicationinsights", loggerId=f"{SERVICE_ID}/loggers/l"),
            _live("subscriptions/s1", scope=f"{SERVICE_ID}/products/p"),
            _live("subscriptions/s2", scope="/products/q"),
            _live("subscriptions/all", scope="/apis"),
            _live("namedValues/n", tags=["apimgen-managed"]),
            _live("namedValues/m", tags=["other"]),
            _live("policies/policy"),
        )
    }
    owners = {path for path, resource in resources.items() if owned(resource, resources)}
    assert owners == {
        "products/p",
        "loggers/l",
        "products/p/policies/policy",
        "diagnostics/applicationinsights",
        "subscriptions/s1",
        "namedValues/n",
    }
