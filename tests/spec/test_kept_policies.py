"""A policy document kept as written (``policy_file``): deployed byte for byte at its scope,
depended on in the IaC like a generated one, simulated, and refused with a located error when
it cannot be deployed as it stands."""

from __future__ import annotations

import json
from pathlib import Path

import hcl2
import yaml
from pycep import BicepParser

from apimgen.errors import ExitCode
from tests.conftest import make_spec, run_cli, write_spec

# What a hand-written gateway holds: an expression that is not well-formed XML (APIM accepts
# it), a fragment, a backend routed to by id, a token limit the spec could not say this way.
KEPT = """<policies>
    <inbound>
        <base />
        <include-fragment fragment-id="tenant-guard" />
        <set-backend-service backend-id="aoai" />
        <llm-token-limit
            counter-key="@(context.Request.Headers.GetValueOrDefault("X-Team","") + "-"
                + (context.Subscription?.Id ?? "none"))"
            tokens-per-minute="300" estimate-prompt-tokens="false" />
        <choose>
            <when condition="@(context.Request.Headers.ContainsKey("X-Debug") && true)">
                <set-header name="X-Debug-Seen" exists-action="override">
                    <value>yes</value>
                </set-header>
            </when>
        </choose>
    </inbound>
    <backend><base /></backend>
    <outbound><base /></outbound>
    <on-error><base /></on-error>
</policies>
"""
FRAGMENT = """<fragment>
    <check-header name="X-Team" failed-check-httpcode="400"
        failed-check-error-message="team?" ignore-case="true" />
</fragment>
"""


def _kept_spec(tmp_path: Path, kept: str = KEPT, **api: object) -> Path:
    (tmp_path / "policies").mkdir(exist_ok=True)
    (tmp_path / "policies" / "openai.xml").write_text(kept, encoding="utf-8")
    (tmp_path / "tenant-guard.xml").write_text(FRAGMENT, encoding="utf-8")
    data = make_spec(
        fragments=[{"name": "tenant-guard", "file": "tenant-guard.xml"}],
        apis=[
            {
                "name": "openai",
                "path": "openai",
                "backend": "aoai",
                "policy_file": "policies/openai.xml",
                **api,
            }
        ],
    )
    return write_spec(tmp_path / "gateway.yaml", data)


def test_a_kept_document_is_rendered_byte_for_byte_and_deployed_after_what_it_names(
    tmp_path: Path,
) -> None:
    spec = _kept_spec(tmp_path)
    out = tmp_path / "out"
    result = run_cli("render", str(spec), "-o", str(out))
    assert result.exit_code == ExitCode.OK, result.output
    assert (out / "policies/apis/openai.xml").read_bytes() == KEPT.encode()
    # The global document is still generated.
    assert "<forward-request" in (out / "policies/global.xml").read_text()

    bicep = (out / "bicep/modules/apis.bicep").read_text()
    BicepParser().parse(text=bicep)
    policy = bicep[bicep.index("resource policy_api_openai") :]
    policy = policy[: policy.index("\n}\n")]
    assert "loadTextContent('../../policies/apis/openai.xml')" in policy
    assert "fragment_tenant_guard" in policy.split("dependsOn")[1]

    terraform = hcl2.loads((out / "terraform/apis.tf").read_text())
    (policy_tf,) = [
        body
        for block in terraform["resource"]
        for kind, named in block.items()
        if kind.strip('"') == "azurerm_api_management_api_policy"
        for body in named.values()
    ]
    assert policy_tf["xml_content"] == '${file("${path.module}/../policies/apis/openai.xml")}'
    assert policy_tf["depends_on"] == [
        "${azurerm_api_management_backend.backend_aoai}",
        "${azurerm_api_management_policy_fragment.fragment_tenant_guard}",
    ]


def test_a_kept_document_beside_generated_keys_is_a_located_error(tmp_path: Path) -> None:
    spec = _kept_spec(tmp_path, token_limits=[{"key": "user", "tokens_per_minute": 100}])
    result = run_cli("validate", str(spec))
    assert result.exit_code == ExitCode.ERROR
    assert "gateway.yaml:" in result.output
    assert "policy_file replaces the generated document, so token_limits" in result.output


def test_what_a_kept_document_cannot_be_deployed_with_is_located(tmp_path: Path) -> None:
    spec = _kept_spec(
        tmp_path,
        kept=KEPT.replace("tenant-guard", "unknown-guard").replace('"aoai"', '"elsewhere"'),
    )
    result = run_cli("validate", str(spec))
    assert result.exit_code == ExitCode.ERROR
    line = next(
        number
        for number, text in enumerate(spec.read_text().splitlines(), 1)
        if "policy_file" in text
    )
    assert f"gateway.yaml:{line}" in result.output
    assert "includes fragment 'unknown-guard', which the spec does not declare" in result.output
    assert "routes to backend 'elsewhere'" in result.output

    (tmp_path / "policies/openai.xml").write_text("<fragment/>", encoding="utf-8")
    result = run_cli("validate", str(spec))
    assert result.exit_code == ExitCode.ERROR
    assert "is not a policy document" in result.output

    (tmp_path / "policies/openai.xml").unlink()
    result = run_cli("validate", str(spec))
    assert result.exit_code == ExitCode.ERROR
    assert "cannot read" in result.output


def test_a_kept_document_runs_in_the_simulator(tmp_path: Path) -> None:
    _kept_spec(tmp_path)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "apimgen_scenario": 1,
                "policies": {"spec": "gateway.yaml"},
                "duration": "2m",
                "consumers": [
                    {
                        "name": "team-a",
                        "headers": {"X-Team": "a"},
                        "arrival": {"kind": "constant", "per_minute": 30},
                        "prompts": ["Hello there"],
                        "completion_tokens": {"min": 90, "max": 90},
                    },
                    {
                        "name": "no-team",
                        "arrival": {"kind": "constant", "per_minute": 5},
                        "prompts": ["Hello there"],
                        "completion_tokens": {"min": 90, "max": 90},
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    result = run_cli("simulate", str(scenario), "--json")
    assert result.exit_code == ExitCode.OK, result.output
    consumers = json.loads(result.stdout)["consumers"]
    # 99 tokens a call (9 of prompt, 90 of completion) against the kept limit of 300 a
    # minute, counted from the answer (estimate-prompt-tokens is false): a call is let in
    # while fewer than 300 were used, so four a minute pass (396 tokens) and the rest get 429.
    assert consumers["team-a"]["statuses"] == {"200": 8, "429": 52}
    assert consumers["team-a"]["tokens_per_minute"] == [396, 396]
    # The kept fragment's check-header refuses a call without X-Team before any limit.
    assert consumers["no-team"]["statuses"] == {"400": 10}
