"""apimgen lint: every trap of the catalogue is reported where it is, rendered examples are
clean, and the SARIF is what code scanning reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from apimgen.errors import ExitCode
from apimgen.lint.report import finding_location
from apimgen.lint.rules import RULES
from apimgen.lint.runner import lint_paths
from tests.conftest import EXAMPLES, make_spec, run_cli, write_spec

BAD = Path(__file__).parent / "bad"

EXPECTED: dict[str, list[str]] = yaml.safe_load((BAD / "expected.yaml").read_text())


def _lint_global(tmp_path: Path, inbound: str, backend: str = "<forward-request />") -> list[dict]:
    """The findings `apimgen lint --json` reports for a global policy with this inbound."""
    policy = tmp_path / "global.xml"
    policy.write_text(
        f"<policies><inbound>{inbound}</inbound><backend>{backend}</backend>"
        "<outbound /><on-error /></policies>"
    )
    return list(json.loads(run_cli("lint", str(policy), "--json").stdout)["findings"])


def _found() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for finding in lint_paths([BAD]).findings:
        file, line, _ = finding_location(finding)
        found.setdefault(Path(file).relative_to(BAD).as_posix(), []).append(
            f"{finding.rule}@{line}"
        )
    return found


@pytest.mark.parametrize("file", sorted(EXPECTED))
def test_catalogue_file_gives_exactly_its_findings(file: str) -> None:
    assert sorted(_found().get(file, [])) == sorted(EXPECTED[file])


def test_every_rule_is_exercised_by_the_catalogue() -> None:
    exercised = {entry.split("@")[0] for entries in EXPECTED.values() for entry in entries}
    assert {rule.id for rule in RULES} - exercised <= {"APIM013"}  # needs a spec: tested below


def test_retry_count_over_pool_size_needs_the_spec(tmp_path: Path) -> None:
    backends = [{"name": f"b{i}", "url": f"https://b{i}.openai.azure.com/openai"} for i in range(3)]
    spec = make_spec(
        backends=backends,
        pools=[{"name": "pool", "members": [{"backend": f"b{i}"} for i in range(3)]}],
        apis=[{"name": "openai", "path": "openai", "backend": "pool", "retry": {"count": 5}}],
    )
    report = lint_paths([write_spec(tmp_path / "s.yaml", spec)])
    assert [f.rule for f in report.findings] == ["APIM013"]
    assert 'count="2"' in report.findings[0].hint


@pytest.mark.parametrize(
    "path",
    [
        *sorted(p for p in EXAMPLES.glob("*/*.yaml") if p.parent.name != "scenarios"),
        EXAMPLES / "hand-written" / "policies",
        EXAMPLES / "smart-load-balancing" / "policies",
        EXAMPLES / "office-hours" / "policies",
    ],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_examples_lint_clean(path: Path) -> None:
    result = run_cli("lint", str(path))
    assert result.exit_code == ExitCode.OK, result.output
    assert "0 error(s), 0 warning(s)" in result.stderr


def test_exit_code_text_json_and_sarif(tmp_path: Path) -> None:
    sarif_path = tmp_path / "out" / "lint.sarif"
    result = run_cli("lint", str(BAD), "--sarif", str(sarif_path))
    assert result.exit_code == ExitCode.ERROR
    assert (
        "global.xml:4:9: error APIM002: <llm-token-limit> has no attribute 'estimate-prompt-token'"
        in result.stdout
    )
    assert "did you mean 'estimate-prompt-tokens'?" in result.stdout
    document = json.loads(run_cli("lint", str(BAD), "--json").stdout)
    assert document["schema"] == "apimgen.lint/v1" and document["ok"] is False
    assert document["errors"] == sum(1 for f in document["findings"] if f["severity"] == "error")
    sarif = json.loads(sarif_path.read_text())
    sarif_pydantic = pytest.importorskip("sarif_pydantic")
    parsed = sarif_pydantic.Sarif.model_validate(sarif)
    assert parsed.version == "2.1.0"
    run = sarif["runs"][0]
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert rule_ids == [rule.id for rule in RULES]
    for result_entry in run["results"]:
        assert result_entry["level"] in ("error", "warning")
        region = result_entry["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1
        if result_entry["ruleId"] in rule_ids:
            assert rule_ids[result_entry["ruleIndex"]] == result_entry["ruleId"]


def test_rules_can_be_disabled_or_reclassified(tmp_path: Path) -> None:
    config = tmp_path / "lint.yaml"
    noisy = "APIM001, APIM002, APIM003, APIM004, APIM005, APIM006, APIM007, APIM008, APIM009"
    config.write_text(f"disable: [{noisy}, APIM011, APIM014]\nseverity: {{APIM015: error}}\n")
    result = run_cli("lint", str(BAD / "apis" / "traps.xml"), "--config", str(config), "--json")
    findings = json.loads(result.stdout)["findings"]
    assert {f["rule"] for f in findings} == {"APIM012", "APIM015", "APIM016", "APIM017"}
    assert all(f["severity"] == "error" for f in findings if f["rule"] == "APIM015")
    config.write_text("disable: [APIM999]\n")
    bad = run_cli("lint", str(BAD), "--config", str(config))
    assert bad.exit_code == ExitCode.ERROR and "unknown rule 'APIM999'" in bad.stderr


def test_spec_lint_settings_apply_and_are_checked(tmp_path: Path) -> None:
    backends = [{"name": f"b{i}", "url": f"https://b{i}.openai.azure.com/openai"} for i in range(3)]
    spec = make_spec(
        backends=backends,
        pools=[{"name": "pool", "members": [{"backend": f"b{i}"} for i in range(3)]}],
        apis=[{"name": "openai", "path": "openai", "backend": "pool", "retry": {"count": 5}}],
        lint={"disable": ["APIM013"]},
    )
    assert lint_paths([write_spec(tmp_path / "s.yaml", spec)]).findings == []
    spec["lint"] = {"severity": {"APIM999": "error"}}
    path = write_spec(tmp_path / "t.yaml", spec)
    result = run_cli("lint", str(path))
    assert result.exit_code == ExitCode.ERROR
    assert "lint.severity.APIM999: unknown rule 'APIM999'" in result.stderr


def test_rules_are_listed_with_severity_and_rationale() -> None:
    listed = json.loads(run_cli("lint", "--rules", "--json").stdout)["rules"]
    assert [rule["id"] for rule in listed] == sorted(rule.id for rule in RULES)
    assert all(rule["rationale"] and rule["severity"] in ("error", "warning") for rule in listed)
    text = run_cli("lint", "--rules").stdout
    assert "APIM018" in text and "retry-on-pool-unavailable" in text
    assert run_cli("lint").exit_code == 2, "no path and no --rules is a usage error"


def test_the_portals_statement_ids_are_not_unknown_attributes(tmp_path: Path) -> None:
    findings = _lint_global(
        tmp_path,
        '<set-backend-service id="apim-generated-policy" backend-id="aoai" />'
        '<set-headr id="x" name="X" />',
    )
    assert [f["rule"] for f in findings] == ["APIM001"]  # only the misspelt policy


def test_apim_policies_the_simulator_does_not_run_are_not_unknown(tmp_path: Path) -> None:
    findings = _lint_global(
        tmp_path,
        '<ip-filter action="allow"><address>10.0.0.1</address></ip-filter>'
        '<send-request mode="new" response-variable-name="r"><set-url>https://x.example</set-url>'
        '</send-request><ip-fliter action="allow" />',
    )
    assert [(f["rule"], f["message"], f["hint"]) for f in findings] == [
        ("APIM001", "unknown policy <ip-fliter>", "did you mean <ip-filter>?")
    ]


def test_every_simulated_policy_is_an_apim_policy() -> None:
    from apimgen.simulate.policy.apim_policies import APIM_POLICIES
    from apimgen.simulate.policy.handlers.base import registry

    assert set(registry()) <= APIM_POLICIES


@pytest.mark.parametrize(
    ("expression", "flagged"),
    [
        ("@(new System.Text.StringBuilder().Append(1).ToString())", False),
        ("@(BitConverter.ToString(new byte[] { 1 }))", False),
        ("@(System.Security.Cryptography.SHA256.Create() != null)", False),
        ("@(System.Net.WebUtility.UrlEncode(&quot;a b&quot;))", False),
        ("@(System.Diagnostics.Process.GetCurrentProcess().Id)", True),
        ("@(HttpClient.DefaultProxy)", True),
    ],
)
def test_expression_types_are_judged_by_what_apim_allows(
    tmp_path: Path, expression: str, flagged: bool
) -> None:
    """APIM009 is for types APIM refuses, not for allowed ones the simulator lacks."""
    findings = _lint_global(tmp_path, f'<set-variable name="v" value="{expression}" />')
    rules = [f["rule"] for f in findings]
    assert rules == (["APIM009"] if flagged else [])


def test_an_unclosed_expression_is_a_parse_error_not_text(tmp_path: Path) -> None:
    findings = _lint_global(
        tmp_path,
        '<set-header name="x" exists-action="override">'
        "<value>@(context.Subscription.Id</value></set-header>",
    )
    assert [(f["rule"], f["message"]) for f in findings] == [
        (
            "APIM008",
            "expression does not parse: the expression is not closed: it starts with @( but "
            "does not end with ) (at 1:26)",
        )
    ]


def test_numeric_attributes_must_be_numbers(tmp_path: Path) -> None:
    findings = _lint_global(
        tmp_path,
        '<rate-limit-by-key calls="ten" renewal-period="60" counter-key="k" />'
        '<rate-limit-by-key calls="@(10)" renewal-period="1.5" counter-key="k" />',
        backend='<retry condition="@(true)" count="2.5" interval="1">'
        '<forward-request buffer-request-body="true" /></retry>',
    )
    assert [(f["rule"], f["message"]) for f in findings] == [
        ("APIM004", "<rate-limit-by-key> calls must be a whole number, not 'ten'"),
        ("APIM004", "<retry> count must be a whole number, not '2.5'"),
    ]


def test_exception_types_other_than_exception_are_not_allowed(tmp_path: Path) -> None:
    findings = _lint_global(
        tmp_path,
        '<set-variable name="n" value="@{ try { return int.Parse('
        '&quot;x&quot;); } catch (FormatException) { return 0; } }" />'
        '<set-variable name="m" value="@{ try { return int.Parse(&quot;x&quot;); } '
        'catch (System.Exception e) { return e.Message.Length; } }" />',
    )
    assert [(f["rule"], f["message"]) for f in findings] == [
        (
            "APIM009",
            "the name 'FormatException' is not a type or name APIM allows in expressions",
        )
    ]


def test_a_named_value_in_a_numeric_attribute_is_not_judged(tmp_path: Path) -> None:
    findings = _lint_global(
        tmp_path,
        '<llm-token-limit counter-key="@(context.Subscription.Id)" '
        'tokens-per-minute="{{tpm}}" estimate-prompt-tokens="true" />'
        '<rate-limit-by-key calls="{{ rpm }}" renewal-period="six" counter-key="k" />',
    )
    assert [(f["rule"], f["message"]) for f in findings] == [
        ("APIM004", "<rate-limit-by-key> renewal-period must be a number, not 'six'")
    ]


def test_a_managed_identity_token_for_another_service_is_not_an_audience_mistake(
    tmp_path: Path,
) -> None:
    graph = (
        '<authentication-managed-identity resource="https://graph.microsoft.com" '
        'output-token-variable-name="graphToken" />'
    )
    to_graph = (
        '<send-request mode="new" response-variable-name="r"><set-url>https://graph.microsoft.com/v1.0/me</set-url>'
        '<set-method>GET</set-method><set-header name="Authorization" exists-action="override">'
        '<value>@("Bearer " + (string)context.Variables["graphToken"])</value></set-header>'
        "</send-request>"
    )
    on_the_call = (
        '<set-header name="Authorization" exists-action="override">'
        '<value>@("Bearer " + (string)context.Variables["graphToken"])</value></set-header>'
    )
    assert [f["rule"] for f in _lint_global(tmp_path, graph + to_graph)] == []
    assert [f["rule"] for f in _lint_global(tmp_path, graph + on_the_call)] == ["APIM017"]
    plain = '<authentication-managed-identity resource="https://graph.microsoft.com" />'
    assert [f["rule"] for f in _lint_global(tmp_path, plain)] == ["APIM017"]


def test_a_datetime_member_learn_does_not_list_is_an_error(tmp_path: Path) -> None:
    findings = _lint_global(
        tmp_path,
        '<set-variable name="t" value="@(DateTime.ParseExact(&quot;2026-01-05&quot;, '
        '&quot;yyyy-MM-dd&quot;, null).ToString())" />'
        '<set-variable name="u" value="@(DateTimeOffset.ParseExact(&quot;2026-01-05&quot;, '
        '&quot;yyyy-MM-dd&quot;, null).ToString())" />',
    )
    assert [(f["rule"], f["line"]) for f in findings] == [("APIM009", 1)]
    assert "APIM does not allow DateTime.ParseExact" in findings[0]["message"]
    assert "DateTimeOffset allows all of its own" in findings[0]["message"]


def test_ipaddress_is_allowed_as_learn_lists_it(tmp_path: Path) -> None:
    findings = _lint_global(
        tmp_path,
        '<set-variable name="first" value="@(System.Net.IPAddress.Parse(context.Request.IpAddress)'
        '.GetAddressBytes()[0].ToString())" />',
    )
    assert findings == []


def test_attributes_learn_documents_are_not_findings(tmp_path: Path) -> None:
    # Service Fabric resolution on set-backend-service and set-body's parse-date
    findings = _lint_global(
        tmp_path,
        '<set-backend-service backend-id="b" sf-resolve-condition="@(true)" '
        'sf-service-instance-name="fabric:/app" />'
        '<set-body parse-date="false">x</set-body>',
    )
    assert findings == []


def test_a_variable_stored_in_the_global_policy_is_known_to_an_api_policy(tmp_path: Path) -> None:
    (tmp_path / "apis").mkdir()
    (tmp_path / "global.xml").write_text(
        '<policies><inbound><set-variable name="budget" value="5000" /></inbound>'
        "<backend><forward-request /></backend><outbound /><on-error /></policies>"
    )
    api = (
        '<policies><inbound><base /><set-header name="x-budget" exists-action="override">'
        '<value>@(((int)context.Variables["budget"] * 2).ToString())</value></set-header>'
        "</inbound><backend><base /></backend><outbound><base /></outbound>"
        "<on-error><base /></on-error></policies>"
    )
    (tmp_path / "apis" / "openai.xml").write_text(api)
    report = json.loads(run_cli("lint", str(tmp_path), "--json").stdout)
    assert [(f["rule"], Path(f["file"]).name) for f in report["findings"]] == [
        ("APIM020", "openai.xml")
    ]
    assert "the policies store a string in 'budget'" in report["findings"][0]["message"]
    alone = json.loads(run_cli("lint", str(tmp_path / "apis"), "--json").stdout)
    assert alone["findings"] == []  # linted alone, the API policy stores nothing in it


def test_an_unset_variable_is_reported_only_when_every_setter_is_in_view(tmp_path: Path) -> None:
    # A file linted alone may read what the global policy sets: APIM026 speaks for a whole
    # policies folder (or a spec) only, where Microsoft's latency-routing fragment's read of
    # a variable nothing sets is a KeyNotFoundException on every call.
    (tmp_path / "apis").mkdir()
    (tmp_path / "global.xml").write_text(
        "<policies><inbound /><backend><forward-request /></backend><outbound /><on-error />"
        "</policies>"
    )
    (tmp_path / "apis" / "openai.xml").write_text(
        '<policies><inbound><base /><set-backend-service backend-id="@((string)context.'
        'Variables[&quot;default-backend-id&quot;])" /></inbound><backend><base /></backend>'
        "<outbound><base /></outbound><on-error><base /></on-error></policies>"
    )
    whole = json.loads(run_cli("lint", str(tmp_path), "--json").stdout)["findings"]
    assert [(f["rule"], f["line"]) for f in whole] == [("APIM026", 1)]
    assert "no policy sets 'default-backend-id'" in whole[0]["message"]
    alone = run_cli("lint", str(tmp_path / "apis" / "openai.xml"), "--json").stdout
    assert json.loads(alone)["findings"] == []
