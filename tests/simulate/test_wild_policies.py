"""Whole policy documents in the shapes gateways carry in the wild, run unchanged (the files are
in tests/simulate/wild/): portal exports with statement ids and no global policy, the
managed-identity token set by hand, the pool retry idiom, JWT-derived keys, body rewrites in
both directions, CORS, concurrency limits and CDATA, a load balancer kept in the cache, cost
attribution with try/catch and no set-backend-service, a PTU kept for one office's working
hours (a C# local function converting the clock to the office's time zone), backends picked by
the clock's ticks, an Entra group gate asking Microsoft Graph through a cache, v1 API
routing by the model named in the body, and classic routing by the deployment in the URL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from apimgen.errors import ExitCode
from apimgen.simulate.traffic import unsigned_jwt
from tests.conftest import run_cli
from tests.simulate.harness import Call, run

WILD = Path(__file__).parent / "wild"


def _simulate(tmp_path: Path, api_policy: str, scenario: dict[str, Any]) -> dict[str, Any]:
    """`apimgen simulate --json` over a policies folder holding ``api_policy`` as its one API
    policy; ``scenario`` may replace the policy source to add named values."""
    apis = tmp_path / "policies" / "apis"
    apis.mkdir(parents=True, exist_ok=True)
    (apis / "openai.xml").write_text(api_policy)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"policies": {"folder": "policies"}, **scenario}))
    result = run_cli("simulate", str(path), "--json")
    assert result.exit_code == ExitCode.OK, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_a_portal_export_runs_without_a_global_policy(tmp_path: Path) -> None:
    scenario = {
        "duration": "5m",
        "backends": {
            "ptu": {
                "tpm": 6000,
                "circuit_breaker": {"failure_count": 1, "interval": "10s", "trip_duration": "30s"},
            },
            "paygo": {"tpm": 300000},
        },
        "pools": {"pool": [{"backend": "ptu", "priority": 1}, {"backend": "paygo", "priority": 2}]},
        "consumers": [
            {
                "name": "heavy",
                "headers": {"x-user-id": "alice"},
                "arrival": {"kind": "constant", "per_minute": 30},
                "completion_tokens": {"min": 200, "max": 300},
            },
            {
                "name": "light",
                "subscription": "sub-light",
                "arrival": {"kind": "constant", "per_minute": 2},
            },
        ],
        "expect": [
            {"consumer": "heavy", "measure": "status_429", "at_least": 1},
            # The retry has no set-backend-service inside, so it resends to the PTU that has
            # just tripped (as newer gateways do): a light call caught by that gets the PTU's
            # 429, once in this run; the pool's spill-over serves the calls after it.
            {"consumer": "light", "measure": "status_429", "at_most": 1},
            {"backend": "paygo", "measure": "requests", "at_least": 1},
            {"backend": "paygo", "while_available": "ptu", "measure": "requests", "equals": 0},
            {"measure": "status_5xx", "equals": 0},
        ],
    }
    document = _simulate(tmp_path, (WILD / "exported-api.xml").read_text(), scenario)
    assert document["errors"] == []
    assert document["metric_samples"] > 0


def test_request_and_response_shaping_runs_as_written() -> None:
    token = f"Bearer {unsigned_jwt({'appid': 'app-7'})}"
    headers = {"Authorization": token, "Origin": "https://portal.contoso.example"}
    # Three at once: the concurrency limit of two per app refuses the third.
    calls = [Call(0, headers=headers), Call(0, headers=headers), Call(0, headers=headers)]
    results, _, _ = run((WILD / "transform-api.xml").read_text(), calls)
    answered = [r for r in results if r.status == 200]
    refused = [r for r in results if r.status == 429]
    assert len(answered) == 2 and len(refused) == 1
    for result in answered:
        sent = json.loads(result.state.context.Request.Body.text)
        assert sent["max_tokens"] == 200, "the inbound rewrite capped the request"
        assert json.loads(result.body)["served_for"] == "app-7"
        assert result.headers["x-app"] == ["app-7"]
        assert result.headers["Access-Control-Allow-Origin"] == ["https://portal.contoso.example"]
        assert result.headers["Access-Control-Allow-Credentials"] == ["true"]
    assert refused[0].headers["x-error"] == ["ConcurrencyLimitExceeded"]


def test_a_load_balancer_kept_in_the_cache_spreads_spill_over_at_random(tmp_path: Path) -> None:
    apis = tmp_path / "policies" / "apis"
    apis.mkdir(parents=True)
    (apis / "openai.xml").write_text((WILD / "priority-lb-named-value.xml").read_text())
    backends = [
        {"id": "ptu", "priority": 1},
        {"id": "paygo-a", "priority": 2},
        {"id": "paygo-b", "priority": 2},
    ]
    scenario = {
        "policies": {
            "folder": "policies",
            # JSON with its quotes, put into an attribute: the XML must still read
            "named_values": {"lb-backends": json.dumps(backends)},
        },
        "duration": "10m",
        "backends": {"ptu": {"tpm": 12000}, "paygo-a": {"tpm": 300000}, "paygo-b": {"tpm": 300000}},
        "consumers": [
            {
                "name": "bot",
                "arrival": {"kind": "constant", "per_minute": 60},
                "max_tokens": 300,
                "completion_tokens": {"min": 150, "max": 300},
            }
        ],
        "expect": [
            {"consumer": "bot", "measure": "status_200", "equals": 600},
            {"backend": "ptu", "measure": "requests", "at_least": 400},
            {"backend": "ptu", "measure": "status_429", "at_least": 1},
            # new Random().Next among equal priorities: both take a share
            {"backend": "paygo-a", "measure": "requests", "at_least": 20},
            {"backend": "paygo-b", "measure": "requests", "at_least": 20},
        ],
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario))
    first = run_cli("simulate", str(path), "--json")
    assert first.exit_code == ExitCode.OK, first.output
    assert json.loads(first.stdout)["errors"] == []
    again = run_cli("simulate", str(path), "--json")
    assert again.stdout == first.stdout, "the random picks come from the run's seed"


def test_cost_attribution_counts_tokens_per_caller_where_the_answer_says(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    (policies / "apis").mkdir(parents=True)
    (policies / "fragments").mkdir()
    (policies / "apis" / "openai.xml").write_text((WILD / "costing-api.xml").read_text())
    (policies / "fragments" / "caller-id.xml").write_text(
        (WILD / "fragments" / "caller-id.xml").read_text()
    )
    scenario = {
        "policies": {"folder": "policies", "api_backend": "aoai"},
        "duration": "5m",
        "backends": {"aoai": {"tpm": 600000}},
        "consumers": [
            {
                "name": "app",
                "jwt_claims": {"appid": "app-42"},
                "arrival": {"kind": "constant", "per_minute": 12},
                "stream_share": 0.5,
            },
            {"name": "team", "arrival": {"kind": "constant", "per_minute": 4}},
        ],
        "expect": [
            {"consumer": "app", "measure": "status_200", "equals": 60},
            {"consumer": "team", "measure": "status_200", "equals": 20},
        ],
    }
    path = tmp_path / "s.yaml"

    def samples(app_streams: float) -> int:
        scenario["consumers"][0]["stream_share"] = app_streams  # type: ignore[index]
        path.write_text(yaml.safe_dump(scenario))
        result = run_cli("simulate", str(path), "--json")
        assert result.exit_code == ExitCode.OK, result.output
        document = json.loads(result.stdout)
        assert document["errors"] == []
        return int(document["metric_samples"])

    # A request sample per call, and a token sample per answer with JSON usage: a stream's
    # events are not one JSON document, so the outbound parse skips them.
    assert samples(0.0) == 80 + 80
    assert samples(1.0) == 80 + 20
    assert 100 < samples(0.5) < 160


def test_cost_attribution_makes_streamed_requests_carry_their_usage() -> None:
    policy = (WILD / "costing-api.xml").read_text()
    policy = policy.replace(
        '<include-fragment fragment-id="caller-id" />', '<set-variable name="caller" value="x" />'
    )
    streamed = Call(0, body='{"messages": [], "stream": true}')
    not_json = Call(1, body="plain text")
    results, _, _ = run(policy, [streamed, Call(1), not_json])
    sent = [r.state.context.Request.Body.text for r in results]
    assert json.loads(sent[0])["stream_options"] == {"include_usage": True}
    assert "stream_options" not in json.loads(sent[1])
    assert sent[2] == "plain text", "the catch passes a body that is not JSON through"


def test_a_stream_carries_its_usage_only_when_the_call_asks() -> None:
    forward = (
        '<policies><inbound><set-backend-service backend-id="aoai" /></inbound>'
        "<backend><forward-request /></backend><outbound /><on-error /></policies>"
    )
    asked = Call(
        0, body='{"messages": [], "stream": true, "stream_options": {"include_usage": true}}'
    )
    silent = Call(1, body='{"messages": [], "stream": true}')
    results, _, _ = run(forward, [asked, silent], stream=True)
    # asked for, the stream ends with a chunk carrying the call's usage before [DONE]
    events = (results[0].body or "").split("\n\n")
    assert events[-2] == "data: [DONE]"
    last = json.loads(events[-3].removeprefix("data: "))
    assert last["choices"] == [] and last["usage"] == results[0].state.usage
    assert '"usage"' not in (results[1].body or "")
    assert (results[1].body or "").endswith("data: [DONE]\n\n")


def _office_hours(tmp_path: Path, starts_at: str, duration: str) -> dict[str, int]:
    """Requests each backend took under the office-hours policy, from ``starts_at`` on."""
    scenario = {
        "duration": duration,
        "starts_at": starts_at,
        "backends": {"ptu": {"tpm": 100000}, "paygo": {"tpm": 100000}},
        "consumers": [{"name": "app", "arrival": {"kind": "constant", "per_minute": 10}}],
    }
    report = _simulate(tmp_path, (WILD / "office-hours-ptu.xml").read_text(), scenario)
    assert report["errors"] == []
    return {name: stats["requests"] for name, stats in report["backends"].items()}


def test_office_hours_routing_follows_the_zone_wall_clock(tmp_path: Path) -> None:
    # Berlin closes at 18:00: 17:00 UTC in winter (CET, +1), 16:00 UTC in summer (CEST, +2).
    winter = _office_hours(tmp_path / "winter", "2026-01-05T16:30:00Z", "60m")
    assert winter == {"ptu": 300, "paygo": 300}
    summer = _office_hours(tmp_path / "summer", "2026-07-06T16:30:00Z", "60m")
    assert summer == {"ptu": 0, "paygo": 600}
    # An offset is converted: 18:30 in Berlin's summer is 16:30 UTC, the same run as above.
    assert _office_hours(tmp_path / "offset", "2026-07-06T18:30:00+02:00", "60m") == summer
    morning = _office_hours(tmp_path / "morning", "2026-07-06T05:30:00", "60m")  # UTC
    assert morning == {"ptu": 300, "paygo": 300}


def test_backends_picked_by_clock_ticks_share_the_calls(tmp_path: Path) -> None:
    # A published way to spread calls: the clock's Ticks modulo the number of backends. The
    # virtual clock reads exact instants and a datetime keeps microseconds, so without a
    # lowest tick digit every call would go to AOAI-0.
    policy = (
        "<policies><inbound><base />"
        '<set-backend-service backend-id="@(string.Format(&quot;AOAI-{0}&quot;, '
        'DateTime.Now.Ticks % int.Parse(&quot;{{AOAICount}}&quot;)))" />'
        "</inbound><backend><forward-request /></backend><outbound /><on-error /></policies>"
    )
    scenario = {
        "policies": {"folder": "policies", "named_values": {"AOAICount": "2"}},
        "duration": "10m",
        "backends": {"AOAI-0": {"tpm": 1000000}, "AOAI-1": {"tpm": 1000000}},
        "consumers": [
            {"name": "steady", "arrival": {"kind": "constant", "per_minute": 30}},
            {"name": "random", "arrival": {"kind": "poisson", "per_minute": 30}},
        ],
    }
    report = _simulate(tmp_path, policy, scenario)
    assert report["errors"] == []
    calls = {name: stats["requests"] for name, stats in report["backends"].items()}
    total = report["requests"]
    assert sum(calls.values()) == total
    assert min(calls.values()) > 0.4 * total


def test_an_entra_group_gate_admits_members_and_asks_graph_once_each(tmp_path: Path) -> None:
    tenant, group = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
    members = f"https://graph.microsoft.com/v1.0/groups/{group}/transitiveMembers"
    audience = "https://cognitiveservices.azure.com"

    def developer(name: str, claims: dict[str, object]) -> dict[str, object]:
        return {
            "name": name,
            "jwt_claims": {"aud": audience, "tid": tenant, **claims},
            "arrival": {"kind": "constant", "per_minute": 6},
        }

    scenario = {
        "policies": {
            "folder": "policies",
            "named_values": {"tenant-id": tenant, "group-id": group},
        },
        "duration": "5m",
        "backends": {"foundry": {"tpm": 1000000}},
        "endpoints": {
            # Graph answers "no such member" unless the filter names alice
            members: {"body": {"value": []}},
            f"{members}/microsoft.graph.user?$filter=id%20eq%20'oid-alice'": {
                "body": {"value": [{"id": "oid-alice"}]}
            },
        },
        "consumers": [
            developer("alice", {"oid": "oid-alice", "name": "Alice"}),
            developer("bob", {"oid": "oid-bob", "upn": "bob@contoso.example"}),
            developer("mallory", {"oid": "oid-m", "aud": "https://graph.microsoft.com"}),
        ],
        "expect": [{"consumer": "mallory", "measure": "status_401", "equals": 30}],
    }
    report = _simulate(tmp_path, (WILD / "entra-group-gate.xml").read_text(), scenario)
    assert report["passed"] and report["expectations"][0]["measured"] == 30
    # refusals other than throttling are listed with their reason
    assert report["errors"] == [
        {"error": "401 TokenValidationFailed: JWT audience is not allowed", "count": 30}
    ]
    statuses = {name: stats["statuses"] for name, stats in report["consumers"].items()}
    assert statuses == {"alice": {"200": 30}, "bob": {"403": 30}, "mallory": {"401": 30}}
    # one Graph call per developer who got past the token check: the answer is cached
    assert sorted(report["endpoint_calls"].values()) == [1, 1]
    assert report["metric_samples"] == 30 * 3


def test_the_model_named_in_the_body_picks_the_pool(tmp_path: Path) -> None:

    def caller(name: str, model: str | None) -> dict[str, object]:
        settings: dict[str, object] = {
            "name": name,
            "arrival": {"kind": "constant", "per_minute": 10},
            "stream_share": 0.5,
        }
        return {**settings, "model": model} if model else settings

    scenario = {
        "duration": "6m",
        "backends": {
            "big": {"tpm": 1000000, "outages": [{"start": "2m", "end": "4m", "status": 500}]},
            "small": {"tpm": 1000000},
        },
        "pools": {
            "gpt-4o-pool": [{"backend": "big", "priority": 1}],
            "gpt-4o-mini-pool": [{"backend": "small", "priority": 1}],
        },
        "consumers": [
            caller("big", "gpt-4o"),
            caller("small", "gpt-4o-mini"),
            caller("classic", None),  # no model in the body: no pool of that name
        ],
    }
    report = _simulate(tmp_path, (WILD / "model-in-body-routing.xml").read_text(), scenario)
    consumers = report["consumers"]
    assert consumers["small"]["statuses"] == {"200": 60}
    assert consumers["classic"]["statuses"] == {"404": 60}  # set-status in on-error
    big = consumers["big"]["statuses"]
    assert big["200"] == 40 and big["503"] == 20  # the outage's calls, normalised in outbound
    # plain calls in the outage were tried three times, streamed ones once
    outage_calls = report["backends"]["big"]["requests"] - 40
    assert 20 < outage_calls < 60
    assert report["backends"]["small"]["requests"] == 60


def test_a_role_check_reads_list_claims_and_the_token_times_a_scenario_gives(
    tmp_path: Path,
) -> None:
    policy = (
        "<policies><inbound><base />"
        '<validate-jwt header-name="Authorization" failed-validation-httpcode="401">'
        "<audiences><audience>api://ai-gateway</audience></audiences>"
        '<required-claims><claim name="roles" match="any"><value>AI.User</value>'
        "<value>AI.Admin</value></claim></required-claims></validate-jwt>"
        '<set-backend-service backend-id="b" /></inbound>'
        "<backend><forward-request /></backend><outbound /><on-error /></policies>"
    )

    def caller(name: str, **claims: object) -> dict[str, object]:
        return {
            "name": name,
            "jwt_claims": {"aud": "api://ai-gateway", **claims},
            "arrival": {"kind": "constant", "per_minute": 6},
        }

    scenario = {
        "duration": "2m",
        "backends": {"b": {"tpm": 100000}},
        "consumers": [
            caller("user", roles=["Other", "AI.User"]),
            caller("outsider", roles=["Other"]),
            caller("expired", roles=["AI.Admin"], exp=1000),  # long before the run starts
        ],
    }
    report = _simulate(tmp_path, policy, scenario)
    statuses = {n: c["statuses"] for n, c in report["consumers"].items()}
    assert statuses == {"user": {"200": 12}, "outsider": {"401": 12}, "expired": {"401": 12}}


def test_foundry_limits_find_their_deployment_through_context_request_foundry(
    tmp_path: Path,
) -> None:
    products = tmp_path / "policies" / "products"
    products.mkdir(parents=True)
    (products / "team-a.xml").write_text(
        "<policies><inbound><base />"
        '<set-variable name="limit-gpt-4.1-mini" value="2000" />'
        '<set-variable name="quota-gpt-4.1-mini" value="6000|Hourly" />'
        '<set-variable name="quota-o3" value="3000|Daily" />'
        '<set-variable name="limit-gpt-4o" value="1000000" />'
        "</inbound><backend><base /></backend><outbound><base /></outbound>"
        "<on-error><base /></on-error></policies>"
    )

    def team(name: str, model: str, per_minute: int) -> dict[str, Any]:
        arrival = {"kind": "constant", "per_minute": per_minute}
        return {"name": name, "product": "team-a", "model": model, "arrival": arrival}

    scenario = {
        "duration": "30m",
        "backends": {"foundry": {"tpm": 1000000}},
        "consumers": [
            team("mini", "gpt-4.1-mini", 12),
            team("reasoning", "o3", 6),
            team("chat", "gpt-4o", 6),
        ],
    }
    policy = (WILD / "foundry-deployment-limits.xml").read_text()
    report = _simulate(tmp_path, policy, scenario)
    assert report["errors"] == []
    consumers = report["consumers"]
    # each deployment is held to its own variables: an hourly quota and a per-minute limit,
    # a daily quota alone, a limit it never reaches
    mini, reasoning, chat = consumers["mini"], consumers["reasoning"], consumers["chat"]
    assert mini["statuses"]["429"] > 0 and mini["statuses"]["403"] > 0
    assert 6000 <= mini["tokens"] < 6000 + 1000
    assert max(mini["tokens_per_minute"]) <= 2000 + 1000
    assert "429" not in reasoning["statuses"] and reasoning["statuses"]["403"] > 0
    assert 3000 <= reasoning["tokens"] < 3000 + 1000
    assert chat["statuses"] == {"200": 180}
    assert set(report["token_limits"]) == {2000, 1000000}


def test_the_deployment_named_in_the_url_picks_the_backend(tmp_path: Path) -> None:
    def caller(name: str, deployment: str | None) -> dict[str, object]:
        settings = {"name": name, "arrival": {"kind": "constant", "per_minute": 10}}
        return {**settings, "deployment": deployment} if deployment else settings

    scenario = {
        "duration": "2m",
        "backends": {"swedencentral": {"tpm": 1000000}, "eastus2": {"tpm": 1000000}},
        "consumers": [
            caller("mini", "gpt-4.1-mini"),
            caller("reasoning", "o3"),
            caller("default", None),  # the scenario's default deployment, gpt-4o
        ],
    }
    policy = (WILD / "deployment-in-url-routing.xml").read_text()
    report = _simulate(tmp_path, policy, scenario)
    consumers = report["consumers"]
    assert consumers["mini"]["statuses"] == {"200": 20}
    assert consumers["reasoning"]["statuses"] == {"200": 20}
    assert consumers["default"]["statuses"] == {"403": 20}
    assert report["backends"]["swedencentral"]["requests"] == 20
    assert report["backends"]["eastus2"]["requests"] == 20
