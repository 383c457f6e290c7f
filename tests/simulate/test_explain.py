"""apimgen simulate --explain: the policies the chosen requests ran, in order, and how each
ended, without changing the run."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from apimgen.errors import ApimgenError, ExitCode
from apimgen.simulate.explain import parse_explain
from tests.conftest import EXAMPLES, run_cli
from tests.simulate.test_cli_simulate import (
    FORWARD_TO_B,
    ONE_CONSUMER,
    SIMULATION_SCHEMA,
    _folder_scenario,
)

# A retry over a backend that fails every call: each attempt is a step.
RETRYING = (
    '<policies><inbound><base /><set-variable name="attempt" value="first" />'
    '<set-backend-service backend-id="b" /></inbound>'
    '<backend><retry condition="@(context.Response.StatusCode &gt;= 500)" count="2" '
    'interval="1"><forward-request buffer-request-body="true" /></retry></backend>'
    '<outbound><base /><set-header name="x-tries" exists-action="override">'
    "<value>3</value></set-header></outbound><on-error><base /></on-error></policies>"
)


@pytest.mark.parametrize(
    ("spec", "chosen"),
    [("3", (None, 3)), ("alice", ("alice", 3)), ("alice:10", ("alice", 10)), (" 2 ", (None, 2))],
)
def test_explain_takes_a_count_a_consumer_or_both(
    spec: str, chosen: tuple[str | None, int]
) -> None:
    assert parse_explain(spec) == chosen


@pytest.mark.parametrize(("spec", "message"), [("", "takes N"), ("alice:0", "1 to 100"),
                                               ("500", "1 to 100")])  # fmt: skip
def test_explain_refuses_what_it_cannot_take(spec: str, message: str) -> None:
    with pytest.raises(ApimgenError, match=message):
        parse_explain(spec)


def test_explained_requests_show_each_attempt_and_how_they_ended(tmp_path: Path) -> None:
    scenario = {
        "duration": "1m",
        "backends": {"b": {"tpm": 100000, "error_rate": 1.0}},
        "consumers": [
            {"name": "alice", "arrival": {"kind": "constant", "per_minute": 6}},
            {"name": "bob", "arrival": {"kind": "constant", "per_minute": 6}},
        ],
    }
    path = _folder_scenario(tmp_path, RETRYING, scenario)
    result = run_cli("simulate", str(path), "--json", "--explain", "bob:2")
    assert result.exit_code == ExitCode.OK, result.output
    report = json.loads(result.stdout)
    jsonschema.validate(report, SIMULATION_SCHEMA)
    explained = report["explained"]
    assert [e["request"] for e in explained] == ["bob-0", "bob-1"]
    first = explained[0]
    assert first["status"] == 500 and first["error"] is None  # the backend's own answer
    steps = [(s["section"], s["policy"]) for s in first["steps"]]
    assert steps == [
        ("inbound", "set-variable"),
        ("inbound", "set-backend-service"),
        ("backend", "retry"),
        *[("backend", "forward-request")] * 3,  # the first try and two retries
        ("outbound", "set-header"),
    ]
    assert first["steps"][0]["at"] == "policies/apis/api.xml:1"
    outcomes = [s["outcome"] for s in first["steps"]]
    assert outcomes == ["", "to b", *["via b, response 500"] * 4, ""]  # retry, then each call
    assert first["variables"] == {"attempt": "first"}
    assert first["arrived"] < first["answered"]  # the retries waited
    # the run itself is the same with or without an explanation
    plain = json.loads(run_cli("simulate", str(path), "--json").stdout)
    assert {k: v for k, v in report.items() if k != "explained"} == plain
    assert "explained" not in plain


def test_the_summary_prints_the_path_and_unknown_consumers_are_refused() -> None:
    scenario = EXAMPLES / "scenarios" / "request-guardrails.yaml"
    shown = run_cli("simulate", str(scenario), "--explain", "creative:1")
    assert shown.exit_code == ExitCode.OK
    assert "creative-0 (creative) arrived 09:00:00.000, answered 09:00:00.000: 400 Bad request" in (
        shown.stdout
    )
    assert "inbound   validate-content" in shown.stdout
    refused = run_cli("simulate", str(scenario), "--explain", "nobody")
    assert refused.exit_code == ExitCode.ERROR
    assert "request-guardrails.yaml has no consumer 'nobody'" in refused.stderr
    assert "creative" in refused.stderr
    swept = run_cli(
        "simulate", str(scenario), "--sweep", "cache.score-threshold=0.1", "--explain", "2"
    )
    assert swept.exit_code == ExitCode.ERROR
    assert "--explain does not combine with --sweep" in swept.stderr


def test_a_cache_hit_is_explained_as_answered_from_the_cache() -> None:
    scenario = EXAMPLES / "scenarios" / "seed-step4.yaml"
    result = run_cli("simulate", str(scenario), "--json", "--explain", "carol:3")
    report = json.loads(result.stdout)
    jsonschema.validate(report, SIMULATION_SCHEMA)
    hits = [e for e in report["explained"] if e["from_cache"]]
    assert hits and all(e["tokens"] == 0 and e["backend"] is None for e in hits)
    # the lookup answered: no policy after it ran
    assert all([s["policy"] for s in e["steps"]] == ["llm-semantic-cache-lookup"] for e in hits)
    assert all(e["steps"][0]["outcome"] == "hit: answered from the cache" for e in hits)
    misses = [e for e in report["explained"] if not e["from_cache"]]
    assert misses and all(e["steps"][0]["outcome"] == "miss" for e in misses)


def test_explain_says_why_the_response_cache_did_nothing_for_a_chat_call(tmp_path: Path) -> None:
    # A global policy written for GET APIs, carried over to the AI gateway: the calls are POST,
    # so Learn's response cache neither looks up nor stores, and every call reaches the backend.
    cached = (
        '<policies><inbound><base /><cache-lookup vary-by-developer="false" '
        'vary-by-developer-groups="false" /><set-backend-service backend-id="b" /></inbound>'
        "<backend><base /></backend>"
        '<outbound><base /><cache-store duration="3600" /></outbound>'
        "<on-error><base /></on-error></policies>"
    )
    path = _folder_scenario(tmp_path, cached, ONE_CONSUMER)
    result = run_cli("simulate", str(path), "--json", "--explain", "1")
    assert result.exit_code == ExitCode.OK, result.output
    report = json.loads(result.stdout)
    assert report["backends"]["b"]["requests"] == 6
    steps = {s["policy"]: s["outcome"] for s in report["explained"][0]["steps"]}
    not_get = "not a GET request: API Management looks up and stores GET responses only"
    assert steps["cache-lookup"] == not_get
    assert steps["cache-store"] == not_get


def test_outbound_calls_and_records_are_explained_as_themselves(tmp_path: Path) -> None:
    # An outbound send-request waits, as forward-request does, but calls no backend: its step
    # says what landed in its variable, not the backend's answer again. A trace says what it
    # wrote, and the run counts the records per source.
    checked = (
        '<policies><inbound><base /><set-backend-service backend-id="b" /></inbound>'
        "<backend><base /></backend><outbound><base />"
        '<send-request mode="new" response-variable-name="verdict" timeout="5">'
        "<set-url>https://dlp.contoso.example/check</set-url></send-request>"
        '<send-request mode="new" response-variable-name="lost" ignore-error="true">'
        "<set-url>https://nowhere.contoso.example/</set-url></send-request>"
        '<trace source="audit"><message>checked</message>'
        '<metadata name="Verdict" value="@(((IResponse)context.Variables[&quot;verdict&quot;])'
        '.StatusCode.ToString())" /></trace>'
        "</outbound><on-error><base /></on-error></policies>"
    )
    scenario = {**ONE_CONSUMER, "endpoints": {"https://dlp.contoso.example": {"status": 202}}}
    path = _folder_scenario(tmp_path, checked, scenario)
    result = run_cli("simulate", str(path), "--json", "--explain", "1")
    assert result.exit_code == ExitCode.OK, result.output
    report = json.loads(result.stdout)
    jsonschema.validate(report, SIMULATION_SCHEMA)
    assert report["log_records"] == {"trace": {"audit": 6}}
    steps = [(s["policy"], s["outcome"]) for s in report["explained"][0]["steps"]]
    assert steps == [
        ("set-backend-service", "to b"),
        # gpt-4o's admission estimate: 640 without max_tokens, plus 2 for the short prompt
        ("forward-request", "via b, response 200, deployment reserved 642 tokens, 99358 TPM left"),
        ("send-request", "verdict = 202"),
        ("send-request", "lost = null (the call failed; ignore-error)"),
        ("trace", "wrote audit: checked {Verdict=202}"),
    ]
    summary = run_cli("simulate", str(path)).stdout
    assert "trace records written: audit 6" in summary
    quiet = json.loads(
        run_cli(
            "simulate",
            str(_folder_scenario(tmp_path / "quiet", FORWARD_TO_B, ONE_CONSUMER)),
            "--json",
        ).stdout
    )
    assert "log_records" not in quiet


# A per-minute token limit inside a choose, so small that the second call is refused; on-error
# adds a header, so the refusal must reach it.
REFUSING = (
    '<policies><inbound><base /><set-backend-service backend-id="b" />'
    '<choose><when condition="@(true)"><llm-token-limit counter-key="k" tokens-per-minute="10" '
    'estimate-prompt-tokens="false" /></when></choose></inbound>'
    "<backend><base /></backend><outbound><base /></outbound>"
    '<on-error><base /><set-header name="x-seen" exists-action="override">'
    "<value>@(context.LastError.Reason)</value></set-header></on-error></policies>"
)


def test_a_refusal_is_explained_where_it_happened_and_on_error_runs(tmp_path: Path) -> None:
    path = _folder_scenario(tmp_path, REFUSING, ONE_CONSUMER)
    report = json.loads(run_cli("simulate", str(path), "--json", "--explain", "c:2").stdout)
    first, second = report["explained"]
    assert first["status"] == 200 and [s["policy"] for s in first["steps"]] == [
        "set-backend-service",
        "choose",
        "llm-token-limit",
        "forward-request",  # the global policy's
    ]
    assert second["status"] == 429
    assert second["error"]["reason"] == "OpenAITokenLimitExceeded"
    steps = [(s["section"], s["policy"], s["outcome"]) for s in second["steps"]]
    assert steps == [
        ("inbound", "set-backend-service", "to b"),
        # the policy that refused, and the choose it sat in, both end with it
        ("inbound", "choose", "raised OpenAITokenLimitExceeded"),
        ("inbound", "llm-token-limit", "raised OpenAITokenLimitExceeded"),
        ("on-error", "set-header", ""),
    ]
    assert report["consumers"]["c"]["statuses"]["429"] == 5
