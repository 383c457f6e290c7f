"""The numbers a user reads, replayed from runs published against live gateways and live Azure
OpenAI deployments, through ``apimgen simulate`` on scenarios (docs/simulator.md, "How close to
a live gateway", lists each source).

Most figures come from stuartleeks/aoai-testing (results/chat.md, chat-gpt-4.md,
chat-gpt-4o.md, embeddings.md; 10,000 TPM pay-as-you-go deployments, 2024): the drop of
``x-ratelimit-remaining-tokens`` per call, and the gateway's token-limit headers beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from apimgen.errors import ExitCode
from apimgen.simulate.tokenizer import count_chat_tokens
from tests.conftest import run_cli

MEANING = "What is the meaning of life?"  # the published runs' prompt: 28 characters

# Outbound copies what the caller will get into variables, which --explain shows.
_CAPTURE = (
    '<set-variable name="left" value="@(context.Response.Headers.GetValueOrDefault('
    '&quot;x-ratelimit-remaining-tokens&quot;, &quot;&quot;))" />'
    '<set-variable name="region" value="@(context.Response.Headers.GetValueOrDefault('
    '&quot;x-ms-region&quot;, &quot;&quot;))" />'
    '<set-variable name="retry" value="@(context.Response.Headers.GetValueOrDefault('
    '&quot;Retry-After&quot;, &quot;&quot;))" />'
    '<set-variable name="reset" value="@(context.Response.Headers.GetValueOrDefault('
    '&quot;x-ratelimit-reset-tokens&quot;, &quot;&quot;))" />'
)


def _policy(inbound: str = "", backend: str = "<base />", outbound: str = _CAPTURE) -> str:
    return (
        f'<policies><inbound><base /><set-backend-service backend-id="b" />{inbound}</inbound>'
        f"<backend>{backend}</backend><outbound><base />{outbound}</outbound>"
        "<on-error><base /></on-error></policies>"
    )


def _explained(
    tmp_path: Path, api_xml: str, scenario: dict[str, Any], count: int
) -> list[dict[str, Any]]:
    """The first ``count`` requests of a run, as ``--explain`` reports them, in arrival order."""
    apis = tmp_path / "policies" / "apis"
    apis.mkdir(parents=True)
    (tmp_path / "policies" / "global.xml").write_text(
        "<policies><inbound /><backend><forward-request /></backend><outbound /><on-error />"
        "</policies>"
    )
    (apis / "api.xml").write_text(api_xml)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"policies": {"folder": "policies"}, **scenario}))
    result = run_cli("simulate", str(path), "--json", "--explain", str(count))
    assert result.exit_code == ExitCode.OK, result.output
    explained: list[dict[str, Any]] = json.loads(result.stdout)["explained"]
    return sorted(explained, key=lambda request: request["arrived"])


def _calls(
    model: str, *, max_tokens: int | None = None, prompts: list[str] | None = None
) -> dict[str, Any]:
    consumer: dict[str, Any] = {
        "name": "c",
        "arrival": {"kind": "constant", "per_minute": 10},  # inside one 60 s window
        "prompts": prompts or [MEANING],
        "completion_tokens": {"min": 50, "max": 400},
    }
    if max_tokens is not None:
        consumer["max_tokens"] = max_tokens
    return {
        "duration": "1m",
        "backends": {"b": {"tpm": 10000, "model": model, "region": "swedencentral"}},
        "consumers": [consumer],
    }


@pytest.mark.parametrize(
    ("model", "max_tokens", "prompts", "drop"),
    [
        # gpt-35-turbo without max_tokens: 16 a call, whatever the prompt (15 to 914 tokens)
        ("gpt-35-turbo", None, [MEANING, "Explain " + "the history of tea. " * 40], 16),
        ("gpt-35-turbo", 10, [MEANING], 10),  # max_tokens exactly, the prompt not counted
        ("gpt-35-turbo", 1000, [MEANING], 1000),
        ("gpt-4o", None, [MEANING], 648),  # 640 and the prompt's 28 ÷ 4 + 1
        ("gpt-4", 1000, [MEANING], 1008),
    ],
)
def test_a_deployment_reserves_azures_estimate_not_the_real_usage(
    tmp_path: Path, model: str, max_tokens: int | None, prompts: list[str], drop: int
) -> None:
    scenario = _calls(model, max_tokens=max_tokens, prompts=prompts)
    requests = _explained(tmp_path, _policy(), scenario, 5)
    lefts = [int(request["variables"]["left"]) for request in requests]
    assert lefts == [10000 - drop * n for n in range(1, 6)]
    forward = next(s for s in requests[0]["steps"] if s["policy"] == "forward-request")
    assert f"deployment reserved {drop} tokens, {10000 - drop} TPM left" in forward["outcome"]
    # the real usage is what the caller is billed and the chart shows, not the reservation
    assert {request["tokens"] for request in requests} != {drop}


def test_a_large_max_tokens_is_refused_long_before_the_real_usage_reaches_the_tpm(
    tmp_path: Path,
) -> None:
    # gpt-4o, max_tokens 2000: 7992, 5984, 3976, 1968 left, then 429 (published: the same
    # four figures, then 429 from the fifth call on), while the calls used about 400 each.
    requests = _explained(tmp_path, _policy(), _calls("gpt-4o", max_tokens=2000), 6)
    assert [r["status"] for r in requests] == [200, 200, 200, 200, 429, 429]
    assert [r["variables"]["left"] for r in requests] == [
        "7992",
        "5984",
        "3976",
        "1968",
        "1968",
        "1968",
    ]
    assert sum(r["tokens"] for r in requests[:4]) < 2000
    refused = requests[4]
    # the deployment's own 429, passed through unchanged: its region, a short wait, the
    # tokens window's reset (the first reservation leaves the 60 s window at 60 s)
    assert refused["variables"]["region"] == "Sweden Central"
    assert refused["variables"]["reset"] == str(60 - 24)
    assert refused["variables"]["retry"] == str(60 - 24)
    forward = next(s for s in refused["steps"] if s["policy"] == "forward-request")
    assert "deployment needed 2008 tokens, 1968 TPM left" in forward["outcome"]


def test_embeddings_reserve_a_quarter_of_their_characters(tmp_path: Path) -> None:
    # text-embedding-ada-002, "This is some text to generate embeddings for" (44
    # characters): 9989, then 9978 (published), whatever its 8 real tokens.
    scenario = _calls("text-embedding-ada-002", prompts=[])
    scenario["consumers"][0].update(
        operation="embeddings", prompts=["This is some text to generate embeddings for"]
    )
    del scenario["consumers"][0]["completion_tokens"]
    requests = _explained(tmp_path, _policy(), scenario, 2)
    assert [r["variables"]["left"] for r in requests] == ["9989", "9978"]
    assert requests[0]["variables"]["region"] == "Sweden Central"


def test_a_scenario_overrides_a_models_reservation(tmp_path: Path) -> None:
    scenario = _calls("gpt-4o")
    scenario["backends"]["b"]["reservation"] = {"without_max_tokens": 100, "counts_prompt": False}
    requests = _explained(tmp_path, _policy(), scenario, 2)
    assert [r["variables"]["left"] for r in requests] == ["9900", "9800"]


_TOKEN_LIMIT = (
    '<llm-token-limit counter-key="all" tokens-per-minute="10000" estimate-prompt-tokens="true" '
    'remaining-tokens-variable-name="remaining" remaining-tokens-header-name="remaining-tokens" '
    'tokens-consumed-variable-name="consumed" tokens-consumed-header-name="consumed-tokens" />'
)


def test_token_limit_headers_are_written_after_the_answer(tmp_path: Path) -> None:
    # Published (gpt-35-turbo behind llm-token-limit, 10,000 a minute): the first call's
    # header read 9852 with 148 consumed, the call's own usage already counted; the backend's
    # own 429s reported their 14-token prompt estimate as consumed, and the count kept it.
    outbound = (
        _CAPTURE + '<set-variable name="header" value="@(context.Response.Headers'
        '.GetValueOrDefault(&quot;remaining-tokens&quot;, &quot;&quot;))" />'
        '<set-variable name="consumed-header" value="@(context.Response.Headers'
        '.GetValueOrDefault(&quot;consumed-tokens&quot;, &quot;&quot;))" />'
    )
    scenario = _calls("gpt-35-turbo", max_tokens=2000)
    requests = _explained(tmp_path, _policy(_TOKEN_LIMIT, outbound=outbound), scenario, 7)
    assert [r["status"] for r in requests] == [200] * 5 + [429] * 2
    spent = 0
    for request in requests[:5]:
        spent += request["tokens"]
        assert request["variables"]["consumed"] == str(request["tokens"])
        assert request["variables"]["remaining"] == str(10000 - spent)
        assert request["variables"]["header"] == str(10000 - spent)
    estimate = count_chat_tokens([{"role": "user", "content": MEANING}])
    for request in requests[5:]:
        spent += estimate
        assert request["variables"]["consumed"] == str(estimate)
        assert request["variables"]["consumed-header"] == str(estimate)
        assert request["variables"]["remaining"] == str(10000 - spent)


_STICKY = (
    '<retry condition="@(context.Response.StatusCode == 429)" count="2" interval="1">'
    '<forward-request buffer-request-body="true" /></retry>'
)


@pytest.mark.parametrize("reselects", [False, True])
def test_a_sticky_retry_stays_on_the_member_that_tripped(tmp_path: Path, reselects: bool) -> None:
    # A pool of a small PTU (priority 1) and pay-as-you-go (2); the PTU's breaker trips on its
    # first 429. Late-2025 gateways resend a retry without set-backend-service to the same
    # member, tripped or not: three attempts on the PTU, and the caller gets its 429 with its
    # Retry-After. Older gateways picked again, and the retry spilled over.
    scenario: dict[str, Any] = {
        "duration": "1m",
        "gateway": {"retry_reselects_backend": reselects},
        "backends": {
            "ptu": {
                "tpm": 1000,
                "model": "gpt-4o",
                "circuit_breaker": {"failure_count": 1, "interval": "10s", "trip_duration": "1m"},
            },
            "paygo": {"tpm": 300000},
        },
        "pools": {"b": [{"backend": "ptu", "priority": 1}, {"backend": "paygo", "priority": 2}]},
        "consumers": [
            {
                "name": "c",
                "arrival": {"kind": "constant", "per_minute": 10},
                "max_tokens": 600,
                "prompts": [MEANING],
            }
        ],
    }
    requests = _explained(tmp_path, _policy(backend=_STICKY), scenario, 2)
    first, second = requests
    assert first["status"] == 200 and first["backend"] == "ptu"
    if reselects:
        assert second["status"] == 200 and second["backend"] == "paygo"
        return
    # 600 + 8 reserved at 0 s: the second call (6 s) needs 608 more of 1000
    assert second["status"] == 429 and second["backend"] == "ptu"
    attempts = [s["outcome"] for s in second["steps"] if s["policy"] == "forward-request"]
    assert len(attempts) == 3
    assert all(outcome.startswith("via ptu, response 429") for outcome in attempts)
    assert second["variables"]["retry"] == str(60 - 8)  # the PTU's own wait, passed on


def test_weighted_members_take_their_turns_in_blocks(tmp_path: Path) -> None:
    # 80/10/10 on one gateway node: A eight times, then B, then C, and again (live pools).
    scenario: dict[str, Any] = {
        "duration": "2m",
        "backends": {name: {"tpm": 1000000} for name in ("a", "b2", "c")},
        "pools": {
            "b": [
                {"backend": "a", "priority": 1, "weight": 80},
                {"backend": "b2", "priority": 1, "weight": 10},
                {"backend": "c", "priority": 1, "weight": 10},
            ]
        },
        "consumers": [{"name": "c", "arrival": {"kind": "constant", "per_minute": 10}}],
    }
    requests = _explained(tmp_path, _policy(), scenario, 20)
    assert [r["backend"] for r in requests] == (["a"] * 8 + ["b2", "c"]) * 2


# A route table kept in the cache, as published routing policies keep it: each request looks
# it up, copies its first route into a list of its own and marks that copy throttled, then
# marks the looked-up table's first route throttled without storing the table back.
_ROUTES = (
    '<cache-lookup-value key="routes" variable-name="routes" />'
    '<choose><when condition="@(!context.Variables.ContainsKey(&quot;routes&quot;))">'
    '<cache-store-value key="routes" duration="600" value="@(new JArray('
    "new JObject(new JProperty(&quot;name&quot;, &quot;ptu&quot;), "
    'new JProperty(&quot;throttled&quot;, false))))" />'
    '<cache-lookup-value key="routes" variable-name="routes" /></when></choose>'
    '<set-variable name="seen" value="@(((JArray)context.Variables[&quot;routes&quot;])[0]'
    '[&quot;throttled&quot;].ToString())" />'
    '<set-variable name="original-after-copy" value="@{ var routes = '
    "(JArray)context.Variables[&quot;routes&quot;]; var mine = new JArray(); "
    "mine.Add(routes[0]); mine[0][&quot;throttled&quot;] = true; "
    'return routes[0][&quot;throttled&quot;].ToString(); }" />'
    '<set-variable name="marked" value="@{ var routes = '
    "(JArray)context.Variables[&quot;routes&quot;]; routes[0][&quot;throttled&quot;] = true; "
    'return routes[0][&quot;throttled&quot;].ToString(); }" />'
)


def test_json_tokens_and_cached_values_are_values_not_shared_objects(tmp_path: Path) -> None:
    scenario = _calls("gpt-4o")
    requests = _explained(tmp_path, _policy(_ROUTES), scenario, 3)
    for request in requests:
        variables = request["variables"]
        assert variables["original-after-copy"] == "False", "Add copied the route"
        assert variables["marked"] == "True"
        assert variables["seen"] == "False", "a mark not stored back stays out of the cache"
