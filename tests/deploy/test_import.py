"""apimgen import against the management-API fake: a gateway apimgen applied comes back as a spec
whose plan changes nothing; one built by hand (the labs' shapes) comes back with its policies kept
as written and only apimgen's ownership marks to add; and what cannot be read or written is
reported, with nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import yaml

from apimgen.deploy.kinds import MANAGED_MARK, NAMED_VALUE_TAG
from apimgen.deploy.policy_xml import canonical_policy
from apimgen.errors import ExitCode
from tests.deploy.conftest import EXISTING, INSTANCES, PRODUCTION, SEED, SUBSCRIPTION, Live
from tests.fakes.arm_apim import API_VERSION, Fault

IMPORT_SCHEMA = json.loads(
    (Path(__file__).parents[2] / "apimgen/importer/import.schema.json").read_text()
)
HAND = ("labs-gateway", "rg-labs")
KEPT = {
    "seed": [],
    "production": ["policyFragments/openai-backend-unavailable"],
    "existing-resources": ["apis/chat/policies/policy", "policyFragments/tenant-guard"],
}


def _import(live: Live, folder: Path, service: tuple[str, str], *extra: str) -> Any:
    name, group = service
    return live.run("import", "-g", group, "-n", name, "-o", str(folder), *extra)


@pytest.mark.parametrize("spec", [SEED, PRODUCTION, EXISTING], ids=lambda p: p.parent.name)
def test_an_applied_gateway_imports_to_a_spec_whose_plan_changes_nothing(
    live: Live, tmp_path: Path, spec: Path
) -> None:
    assert live.run("apply", str(spec), "--auto-approve").exit_code == 0
    folder = tmp_path / "imported"
    result = _import(live, folder, INSTANCES[spec], "--json")
    assert result.exit_code == ExitCode.OK, result.output
    summary = json.loads(result.stdout)
    jsonschema.validate(summary, IMPORT_SCHEMA)
    assert summary["read"] == summary["mapped"] + summary["kept"] + summary["skipped"]
    # What stays as written: fragments, and the one API whose semantic cache needs a Redis the
    # spec cannot name (its connection string is never returned); every other document's
    # GenAI policies came back as the keys that generated them.
    kept = sorted(r["path"] for r in summary["resources"] if r["fate"] == "kept")
    assert kept == KEPT[spec.parent.name], summary

    imported = folder / "gateway.yaml"
    plan = live.run("plan", str(imported), "--detailed-exitcode")
    assert plan.exit_code == ExitCode.OK, plan.output
    assert "0 to create, 0 to update, 0 to delete" in plan.stdout

    # Every live policy document renders back with the same meaning (the plan's comparison):
    # as spec keys where they reproduce it, else kept byte for byte.
    rendered = tmp_path / "rendered"
    assert live.run("render", str(imported), "-o", str(rendered)).exit_code == 0
    for path in live.state.paths():
        if path.endswith("policies/policy"):
            scope = path.removesuffix("/policies/policy")
            file = (
                rendered
                / "policies"
                / ("global.xml" if path == "policies/policy" else f"{scope}.xml")
            )
            live_text = live.state.properties(path)["value"]
            assert canonical_policy(file.read_text()) == canonical_policy(live_text), path


def test_the_seed_gateways_policies_come_back_as_its_keys(live: Live, tmp_path: Path) -> None:
    assert live.run("apply", str(SEED), "--auto-approve").exit_code == 0
    assert _import(live, tmp_path / "imported", INSTANCES[SEED]).exit_code == ExitCode.OK
    imported = yaml.safe_load((tmp_path / "imported/gateway.yaml").read_text())
    original = yaml.safe_load(SEED.read_text())
    (api,) = imported["apis"]
    for key in ("token_limits", "token_metrics"):
        assert api[key] == original["apis"][0][key], key
    assert api["semantic_cache"] == {**original["apis"][0]["semantic_cache"], "duration": 3600}
    assert "policy_file" not in api and "global" not in imported
    assert not (tmp_path / "imported/policies").exists()


def test_what_the_spec_cannot_hold_is_left_out_with_a_reason(live: Live, tmp_path: Path) -> None:
    assert live.run("apply", str(EXISTING), "--auto-approve").exit_code == 0
    result = _import(live, tmp_path / "imported", INSTANCES[EXISTING])
    assert result.exit_code == ExitCode.OK, result.output
    assert "1 left out" in result.stdout
    assert (
        "caches/default: an external cache outside the service's resource group: add redis "
        "with existing: true and connection_secret" in result.stdout
    )
    spec = yaml.safe_load((tmp_path / "imported/gateway.yaml").read_text())
    (partner,) = [b for b in spec["backends"] if b["name"] == "partner-llm"]
    assert partner["auth"] == {
        "type": "api_key",
        "key_vault_secret": "https://kv-northwind.vault.azure.net/secrets/partner-llm-key",
        "header": "x-api-key",
    }
    for secret in ("redis-secret-value", "instrumentkey"):
        assert secret not in result.output
        for file in (tmp_path / "imported").rglob("*"):
            assert not file.is_file() or secret not in file.read_text()


def _put(live: Live, relative: str, properties: dict[str, Any], **extra: Any) -> None:
    """Create a resource the way the portal or a lab's script would: straight through the
    management API, with no apimgen mark."""
    name, group = HAND
    url = (
        f"{live.env['APIMGEN_ARM_ENDPOINT'].rstrip('/')}/subscriptions/{SUBSCRIPTION}/"
        f"resourceGroups/{group}/providers/Microsoft.ApiManagement/service/{name}/{relative}"
        f"?api-version={API_VERSION}"
    )
    answer = requests.put(
        url,
        json={"properties": properties, **extra},
        headers={"Authorization": "Bearer test-token"},
        verify=live.env["REQUESTS_CA_BUNDLE"],
        timeout=10,
    )
    assert answer.status_code in (200, 201, 202), (relative, answer.text)


HAND_POLICY = """<policies>
  <inbound>
    <base />
    <set-backend-service backend-id="aoai-pool" />
    <authentication-managed-identity resource="https://cognitiveservices.azure.com" />
    <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="5000"
        estimate-prompt-tokens="false" remaining-tokens-header-name="x-remaining" />
    <llm-emit-token-metric namespace="openai">
      <dimension name="Subscription ID" />
      <dimension name="Team" value="@(context.Request.Headers.GetValueOrDefault("X-Team",""))" />
    </llm-emit-token-metric>
  </inbound>
  <backend>
    <retry condition="@(context.Response.StatusCode == 429)" count="1" interval="0"
        first-fast-retry="true">
      <forward-request buffer-request-body="true" />
    </retry>
  </backend>
  <outbound><base /></outbound>
  <on-error><base /></on-error>
</policies>"""


# What API Management answers for a property a client left out (the fake stores bodies as sent).
TLS = {"validateCertificateChain": True, "validateCertificateName": True}
DEFAULT_GLOBAL = (
    "<policies><inbound /><backend><forward-request /></backend><outbound /><on-error /></policies>"
)


SERVICE_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{HAND[1]}/providers/"
    f"Microsoft.ApiManagement/service/{HAND[0]}"
)
BREAKER = {
    "rules": [
        {
            "name": "openAIBreakerRule",
            "failureCondition": {
                "count": 1,
                "interval": "PT5M",
                "statusCodeRanges": [{"min": 429, "max": 429}, {"min": 500, "max": 503}],
                "errorReasons": ["Server errors"],
            },
            "tripDuration": "PT1M",
            "acceptRetryAfter": True,
        }
    ]
}
# A gateway in the shape of the AI-Gateway labs: a PTU backend first and a pay-as-you-go one as
# spill-over in a pool with circuit breakers, managed identity in the policy, a token limit and
# metric, a product, a subscription, and what the spec has no key for. Bodies carry the
# defaults API Management fills in and returns.
HAND_RESOURCES: list[tuple[str, dict[str, Any]]] = [
    ("policies/policy", {"format": "xml", "value": DEFAULT_GLOBAL}),
    *(
        (
            f"backends/{name}",
            {
                "type": "Single",
                "url": url,
                "protocol": "http",
                "tls": TLS,
                "circuitBreaker": BREAKER,
            },
        )
        for name, url in (
            ("ptu", "https://ptu.openai.azure.com/openai"),
            ("paygo", "https://paygo.openai.azure.com/openai"),
        )
    ),
    (
        "backends/aoai-pool",
        {
            "type": "Pool",
            "pool": {
                "services": [
                    {"id": f"{SERVICE_ID}/backends/ptu", "priority": 1, "weight": 1},
                    {"id": f"{SERVICE_ID}/backends/paygo", "priority": 2, "weight": 1},
                ]
            },
        },
    ),
    ("namedValues/team-header", {"displayName": "team-header", "value": "X-Team", "secret": False}),
    (
        "namedValues/legacy-key",
        {"displayName": "legacy-key", "value": "s3cr3t-value", "secret": True},
    ),
    (
        "apis/openai",
        {
            "displayName": "Azure OpenAI",
            "type": "http",
            "path": "openai",
            "protocols": ["https"],
            "subscriptionRequired": True,
            "subscriptionKeyParameterNames": {"header": "api-key", "query": "api-key"},
        },
    ),
    (
        "apis/openai/operations/chat",
        {
            "displayName": "Chat",
            "method": "POST",
            "urlTemplate": "/deployments/{deployment-id}/chat/completions",
            "templateParameters": [{"name": "deployment-id", "type": "string", "required": True}],
        },
    ),
    ("apis/openai/policies/policy", {"format": "rawxml", "value": HAND_POLICY}),
    (
        "products/team-a",
        {
            "displayName": "Team A",
            "subscriptionRequired": True,
            "approvalRequired": False,
            "state": "published",
        },
    ),
    ("products/team-a/apis/openai", {}),
    (
        "subscriptions/team-a-app",
        {
            "displayName": "Team A app",
            "scope": f"{SERVICE_ID}/products/team-a",
            "state": "active",
            "allowTracing": False,
        },
    ),
    (
        "loggers/eventhub",
        {
            "loggerType": "azureEventHub",
            "credentials": {
                "name": "hub",
                "connectionString": "Endpoint=sb://x/;SharedAccessKey=hub-secret",
            },
        },
    ),
]


def _hand_built(live: Live) -> None:
    live.state.add_service(SUBSCRIPTION, HAND[1], HAND[0])
    for path, properties in HAND_RESOURCES:
        _put(live, path, properties)


def test_a_hand_built_gateway_imports_with_its_policy_kept_and_only_marks_to_add(
    live: Live, tmp_path: Path
) -> None:
    _hand_built(live)
    folder = tmp_path / "imported"
    result = _import(live, folder, HAND)
    assert result.exit_code == ExitCode.OK, result.output
    out = result.stdout
    assert "apis/openai/policies/policy → policies/apis/openai.xml: kept as written" in out
    assert "namedValues/legacy-key: a secret value, which the management API never returns" in out
    assert "loggers/eventhub: a azureEventHub logger" in out
    assert "s3cr3t-value" not in out and "hub-secret" not in out

    spec = yaml.safe_load((folder / "gateway.yaml").read_text())
    assert spec["pools"] == [
        {
            "name": "aoai-pool",
            "members": [
                {"backend": "ptu", "priority": 1, "weight": 1},
                {"backend": "paygo", "priority": 2, "weight": 1},
            ],
        }
    ]
    (ptu,) = [b for b in spec["backends"] if b["name"] == "ptu"]
    assert ptu["circuit_breaker"] == {
        "failure_count": 1,
        "interval": 300,
        "status_codes": ["429", "500-503"],
        "error_reasons": ["Server errors"],
        "trip_duration": 60,
        "accept_retry_after": True,
        "rule_name": "openAIBreakerRule",  # kept: the plan does not rename the live rule
    }
    (api,) = spec["apis"]
    assert api["backend"] == "aoai-pool"  # read from the kept policy's set-backend-service
    assert api["policy_file"] == "policies/apis/openai.xml"
    assert (folder / "policies/apis/openai.xml").read_bytes().decode() == (
        live.state.properties("apis/openai/policies/policy")["value"]
    )
    assert spec["products"][0]["apis"] == ["openai"]
    assert spec["consumers"] == [
        {"name": "team-a-app", "display_name": "Team A app", "product": "team-a"}
    ]

    # The plan adopts what was built by hand: each change only adds apimgen's mark.
    plan = live.run("plan", str(folder / "gateway.yaml"), "--json")
    assert plan.exit_code == ExitCode.OK, plan.output
    changes = json.loads(plan.stdout)["changes"]
    assert changes and all(c["action"] == "update" and c["adopt"] for c in changes), changes
    for change in changes:
        for difference in change["differences"]:
            assert difference["property"] in ("description", "tags", "note"), change
            assert MANAGED_MARK in str(difference["desired"]) or NAMED_VALUE_TAG in str(
                difference["desired"]
            )


def test_unreadable_or_unwritable_instances_leave_no_folder(live: Live, tmp_path: Path) -> None:
    _hand_built(live)
    folder = tmp_path / "imported"
    live.state.faults.append(Fault("GET", "/backends", 403, times=10))
    result = _import(live, folder, HAND)
    assert result.exit_code == ExitCode.ERROR
    assert "403" in result.output and "API Management Service Contributor" in result.output
    assert not folder.exists()

    # Throttled lists are retried after Retry-After, and the import completes.
    live.state.faults[:] = [Fault("GET", "/apis", 429, retry_after=1)]
    assert _import(live, folder, HAND).exit_code == ExitCode.OK
    assert (folder / "gateway.yaml").is_file()

    # A folder apimgen did not write is never replaced.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    refused = _import(live, mine, HAND)
    assert refused.exit_code == ExitCode.ERROR
    assert "was not written by apimgen" in refused.output
    assert (mine / "notes.txt").read_text() == "keep me"


def test_an_instance_the_spec_cannot_hold_is_refused_before_anything_is_written(
    live: Live, tmp_path: Path
) -> None:
    _hand_built(live)
    service_id = SERVICE_ID
    members = []
    for index in range(31):
        _put(
            live,
            f"backends/m{index}",
            {"url": f"https://m{index}.example/openai", "protocol": "http"},
        )
        members.append({"id": f"{service_id}/backends/m{index}", "priority": 1, "weight": 1})
    _put(live, "backends/wide-pool", {"type": "Pool", "pool": {"services": members}})
    folder = tmp_path / "imported"
    result = _import(live, folder, HAND)
    assert result.exit_code == ExitCode.ERROR
    assert "cannot be written as a valid spec" in result.output
    assert "backends/wide-pool (pools[1].members): a pool holds at most 30 backends" in (
        result.output
    )
    assert not folder.exists()


def test_odd_instances_are_imported_with_what_is_wrong_said(live: Live, tmp_path: Path) -> None:
    _hand_built(live)
    # A policy that is not well-formed, a backend whose key names a missing named value, and an
    # API with 400 operations.
    broken = "<policies><inbound><base /><set-header name='x'></inbound></policies>"
    _put(live, "products/team-a/policies/policy", {"format": "rawxml", "value": broken})
    _put(
        live,
        "backends/keyed",
        {
            "type": "Single",
            "url": "https://keyed.example/v1",
            "protocol": "http",
            "tls": TLS,
            "credentials": {"header": {"api-key": ["{{missing-key}}"]}},
        },
    )
    _put(
        live,
        "apis/wide",
        {
            "displayName": "Wide",
            "type": "http",
            "path": "wide",
            "protocols": ["https"],
            "subscriptionRequired": True,
        },
    )
    for index in range(400):
        _put(
            live,
            f"apis/wide/operations/op{index}",
            {
                "displayName": f"Op {index}",
                "method": "GET",
                "urlTemplate": f"/items/{index}",
                "templateParameters": [],
            },
        )
    folder = tmp_path / "imported"
    result = _import(live, folder, HAND, "--json")
    assert result.exit_code == ExitCode.OK, result.output
    outcomes = {r["path"]: r for r in json.loads(result.stdout)["resources"]}
    product_policy = outcomes["products/team-a/policies/policy"]
    assert product_policy["fate"] == "kept"
    assert product_policy["reason"].startswith("kept as written: ")
    assert "set-header" in product_policy["reason"]  # the reader's located complaint
    assert (folder / "policies/products/team-a.xml").read_text() == broken
    assert outcomes["backends/keyed"]["reason"].startswith(
        "its credentials are not a header from a Key Vault named value"
    )
    spec = yaml.safe_load((folder / "gateway.yaml").read_text())
    (wide,) = [api for api in spec["apis"] if api["name"] == "wide"]
    assert len(wide["operations"]) == 400


def _apiops_folder(root: Path, resources: list[tuple[str, dict[str, Any]]]) -> None:
    """What the APIOps extractor writes for ``resources``: an information file per resource
    (secret values left out, as it does), policy.xml beside it, an API's operations in its
    OpenAPI specification, a product's APIs in apis.json."""

    def write(relative: str, content: Any) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        text = content if isinstance(content, str) else json.dumps(content, indent=2)
        path.write_text(text, encoding="utf-8")

    folders = {
        "namedValues": ("named values", "namedValueInformation.json"),
        "backends": ("backends", "backendInformation.json"),
        "loggers": ("loggers", "loggerInformation.json"),
        "apis": ("apis", "apiInformation.json"),
        "products": ("products", "productInformation.json"),
        "subscriptions": ("subscriptions", "subscriptionInformation.json"),
    }
    specifications: dict[str, dict[str, Any]] = {}
    product_apis: dict[str, list[dict[str, str]]] = {}
    for path, properties in resources:
        parts = path.split("/")
        if path == "policies/policy":
            write("policy.xml", properties["value"])
        elif len(parts) == 2:
            folder, info = folders[parts[0]]
            extracted = {
                k: v
                for k, v in properties.items()
                if not (k == "value" and properties.get("secret"))
            }
            write(f"{folder}/{parts[1]}/{info}", {"name": parts[1], "properties": extracted})
        elif parts[2] == "policies":
            write(f"{parts[0]}/{parts[1]}/policy.xml", properties["value"])
        elif parts[2] == "operations" and len(parts) == 4:
            paths = specifications.setdefault(parts[1], {"openapi": "3.0.1", "paths": {}})["paths"]
            paths.setdefault(properties["urlTemplate"], {})[properties["method"].lower()] = {
                "operationId": parts[3],
                "summary": properties["displayName"],
            }
        elif parts[2] == "operations":
            write(f"apis/{parts[1]}/operations/{parts[3]}/policy.xml", properties["value"])
        elif parts[0] == "products" and parts[2] == "apis":
            product_apis.setdefault(parts[1], []).append({"name": parts[3]})
    for api, document in specifications.items():
        write(f"apis/{api}/specification.yaml", yaml.safe_dump(document))
    for product, links in product_apis.items():
        write(f"products/{product}/apis.json", links)


def test_an_apiops_folder_imports_as_the_instance_it_was_extracted_from(
    live: Live, tmp_path: Path
) -> None:
    _hand_built(live)
    from_live = tmp_path / "from-live"
    assert _import(live, from_live, HAND).exit_code == ExitCode.OK
    artifacts = tmp_path / "artifacts"
    _apiops_folder(artifacts, HAND_RESOURCES)
    from_apiops = tmp_path / "from-apiops"
    service = ("--location", "swedencentral", "--publisher-name", "p", "--publisher-email", "a@b.c")
    result = live.run(
        "import", "--from-apiops", str(artifacts), "-g", HAND[1], "-n", HAND[0],
        *service, "-o", str(from_apiops),
    )  # fmt: skip
    assert result.exit_code == ExitCode.OK, result.output
    assert "namedValues/legacy-key: a secret value" in result.stdout
    live_spec = yaml.safe_load((from_live / "gateway.yaml").read_text())
    apiops_spec = yaml.safe_load((from_apiops / "gateway.yaml").read_text())
    for spec in (live_spec, apiops_spec):
        spec["gateway"].pop("sku", None), spec["gateway"].pop("capacity", None)
    assert apiops_spec == live_spec
    kept = "policies/apis/openai.xml"  # as the artifact has it; the instance reformatted it
    assert (from_apiops / kept).read_text() == HAND_POLICY
    assert canonical_policy(HAND_POLICY) == canonical_policy((from_live / kept).read_text())
    # The imported spec plans against the instance as the live import does: adoptions only.
    plan = live.run("plan", str(from_apiops / "gateway.yaml"), "--json")
    assert plan.exit_code == ExitCode.OK, plan.output
    assert all(c["adopt"] for c in json.loads(plan.stdout)["changes"])

    missing = live.run("import", "--from-apiops", str(artifacts), "-o", str(tmp_path / "x"))
    assert missing.exit_code == ExitCode.ERROR
    assert "--from-apiops: missing --resource-group, --service, --location" in missing.output
    (artifacts / "backends/ptu/backendInformation.json").write_text("{not json")
    broken = live.run(
        "import", "--from-apiops", str(artifacts), "-g", HAND[1], "-n", HAND[0],
        *service, "-o", str(tmp_path / "y"),
    )  # fmt: skip
    assert broken.exit_code == ExitCode.ERROR
    assert "backendInformation.json: not valid JSON" in broken.output
    assert not (tmp_path / "y").exists()


def test_an_imported_gateway_simulates_with_its_kept_policy(live: Live, tmp_path: Path) -> None:
    _hand_built(live)
    assert _import(live, tmp_path / "adopted", HAND).exit_code == ExitCode.OK
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "apimgen_scenario: 1\n"
        "policies: {spec: adopted/gateway.yaml}\n"
        "duration: 10m\n"
        "consumers:\n"
        "  - name: team-a\n"
        "    arrival: {kind: poisson, per_minute: 30}\n"
        '    prompts: ["Summarise this ticket for the on-call engineer."]\n'
    )
    result = live.run("simulate", str(scenario), "--json")
    assert result.exit_code == ExitCode.OK, result.output
    document = json.loads(result.stdout)
    statuses = document["consumers"]["team-a"]["statuses"]
    # The kept llm-token-limit (5000 a minute, counted from the answers) refuses the calls
    # past it; the pool sends every admitted call to the PTU member first.
    assert set(statuses) == {"200", "429"} and statuses["429"] > 0
    # Counted from the answers, calls already in flight overshoot a minute now and then (the
    # documented behaviour without estimate-prompt-tokens); on average the limit holds.
    assert sum(document["consumers"]["team-a"]["tokens_per_minute"]) / 10 <= 5000
    assert document["backends"]["ptu"]["requests"] == statuses["200"]
    assert document["backends"]["paygo"]["requests"] == 0


def test_import_without_a_target_says_which_flags(live: Live, tmp_path: Path) -> None:
    result = live.run("import", "-o", str(tmp_path / "x"))
    assert result.exit_code == ExitCode.ERROR
    assert "import: which instance? give --resource-group and --service" in result.output
    assert not (tmp_path / "x").exists()
