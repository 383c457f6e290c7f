"""What the rendered policies say: the behaviours the spec promises, checked in parsed XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from apimgen.pipeline import render_spec
from tests.conftest import EXAMPLES, make_spec, write_spec


def _policies(tmp_path: Path, **overrides: object) -> dict[str, ET.Element]:
    _, files = render_spec(write_spec(tmp_path / "spec.yaml", make_spec(**overrides)))
    return {name: ET.fromstring(text) for name, text in files.items() if name.endswith(".xml")}


def _tags(section: ET.Element) -> list[str]:
    return [child.tag for child in section]


def test_global_scope_forwards_the_request_and_has_no_base(tmp_path: Path) -> None:
    root = _policies(tmp_path)["policies/global.xml"]
    assert _tags(root.find("backend")) == ["forward-request"]  # type: ignore[arg-type]
    assert root.find(".//base") is None


def test_api_scope_inherits_every_section_and_authenticates(tmp_path: Path) -> None:
    root = _policies(tmp_path)["policies/apis/openai.xml"]
    for section in root:
        assert _tags(section)[0] == "base", section.tag
    inbound = root.find("inbound")
    assert inbound is not None
    assert _tags(inbound)[-2:] == ["set-backend-service", "authentication-managed-identity"]
    auth = inbound.find("authentication-managed-identity")
    assert auth is not None and auth.get("resource") == "https://cognitiveservices.azure.com"


def test_pool_gets_the_documented_retry_idiom(tmp_path: Path) -> None:
    backends = [{"name": f"b{i}", "url": f"https://b{i}.openai.azure.com/openai"} for i in range(4)]
    pools = [{"name": "pool", "members": [{"backend": f"b{i}"} for i in range(4)]}]
    apis = [{"name": "openai", "path": "openai", "backend": "pool"}]
    root = _policies(tmp_path, backends=backends, pools=pools, apis=apis)[
        "policies/apis/openai.xml"
    ]
    backend = root.find("backend")
    assert backend is not None
    assert _tags(backend) == ["retry"]  # replaces <base/>: the retry wraps forward-request
    retry = backend.find("retry")
    assert retry is not None
    assert retry.get("count") == "3"  # members - 1
    assert retry.get("condition") == (
        "@(context.Response.StatusCode == 429 || (context.Response.StatusCode == 503"
        ' && !context.Response.StatusReason.Contains("Backend pool")))'
    )  # the pool's own 503 (every member tripped) is not worth a retry
    assert _tags(retry) == ["set-backend-service", "forward-request"]
    assert retry[1].get("buffer-request-body") == "true"


def test_single_backend_has_no_retry(tmp_path: Path) -> None:
    root = _policies(tmp_path)["policies/apis/openai.xml"]
    assert root.find(".//retry") is None


def test_policy_family_is_chosen_per_api(tmp_path: Path) -> None:
    limit = [{"key": "subscription", "tokens_per_minute": 10}]
    apis = [
        {"name": "a", "path": "a", "backend": "aoai", "token_limits": limit},
        {
            "name": "b",
            "path": "b",
            "backend": "aoai",
            "policy_family": "azure-openai",
            "token_limits": limit,
        },
    ]
    policies = _policies(tmp_path, apis=apis)
    assert policies["policies/apis/a.xml"].find(".//llm-token-limit") is not None
    assert policies["policies/apis/b.xml"].find(".//azure-openai-token-limit") is not None


def test_limits_at_every_scope_land_in_their_own_file(tmp_path: Path) -> None:
    limit = {"key": "subscription", "tokens_per_minute": 10}
    policies = _policies(
        tmp_path,
        global_={"token_limits": [limit]},
        products=[{"name": "gold", "apis": ["openai"], "token_limits": [limit]}],
        apis=[
            {
                "name": "openai",
                "path": "openai",
                "backend": "aoai",
                "token_limits": [limit],
                "operations": [
                    {"name": "chat", "url_template": "/chat", "token_limits": [limit]},
                    {"name": "other", "url_template": "/other"},
                ],
            }
        ],
    )
    assert set(policies) == {
        "policies/global.xml",
        "policies/products/gold.xml",
        "policies/apis/openai.xml",
        "policies/apis/openai/operations/chat.xml",
    }
    for root in policies.values():
        assert root.find("inbound/llm-token-limit") is not None


def test_token_limit_attributes(tmp_path: Path) -> None:
    limit = {
        "key": {"header": "X-App-Id", "default": "none"},
        "tokens_per_minute": 500,
        "quota": {"tokens": 10000, "period": "weekly"},
        "estimate_prompt_tokens": True,
        "retry_after_header": "x-retry",
        "tokens_consumed_variable": "consumed",
    }
    apis = [{"name": "openai", "path": "openai", "backend": "aoai", "token_limits": [limit]}]
    element = _policies(tmp_path, apis=apis)["policies/apis/openai.xml"].find(
        "inbound/llm-token-limit"
    )
    assert element is not None
    assert element.attrib == {
        "counter-key": '@(context.Request.Headers.GetValueOrDefault("X-App-Id", "none"))',
        "tokens-per-minute": "500",
        "token-quota": "10000",
        "token-quota-period": "Weekly",
        "estimate-prompt-tokens": "true",
        "retry-after-header-name": "x-retry",
        "tokens-consumed-variable-name": "consumed",
    }


def test_jwt_claim_key_is_null_safe(tmp_path: Path) -> None:
    apis = [
        {
            "name": "openai",
            "path": "openai",
            "backend": "aoai",
            "token_limits": [{"key": {"jwt_claim": "oid"}, "tokens_per_minute": 5}],
        }
    ]
    element = _policies(tmp_path, apis=apis)["policies/apis/openai.xml"].find(
        "inbound/llm-token-limit"
    )
    assert element is not None
    key = element.get("counter-key")
    assert key is not None and "AsJwt()?.Claims" in key and key.endswith('?? "anonymous")')


def test_user_assigned_identity_passes_its_client_id(tmp_path: Path) -> None:
    gateway = {
        **make_spec()["gateway"],
        "identity": "user_assigned",
        "user_assigned_identity_id": "/subscriptions/0/resourceGroups/rg/providers/"
        "Microsoft.ManagedIdentity/userAssignedIdentities/gw",
        "user_assigned_client_id": "00000000-0000-0000-0000-000000000001",
    }
    auth = _policies(tmp_path, gateway=gateway)["policies/apis/openai.xml"].find(
        "inbound/authentication-managed-identity"
    )
    assert auth is not None
    assert auth.get("client-id") == "00000000-0000-0000-0000-000000000001"


def test_seed_example_tells_the_seed_story() -> None:
    _, files = render_spec(EXAMPLES / "seed" / "gateway.yaml")
    api = ET.fromstring(files["policies/apis/azure-openai.xml"])
    limit = api.find("inbound/llm-token-limit")
    assert limit is not None and limit.get("tokens-per-minute") == "1000"
    assert "context.User" in (limit.get("counter-key") or "")
    dims = [d.get("name") for d in api.findall("inbound/llm-emit-token-metric/dimension")]
    assert "User ID" in dims
    assert api.find("inbound/llm-semantic-cache-lookup") is not None
    assert api.find("outbound/llm-semantic-cache-store") is not None
