"""send-request against the scenario's endpoints: the response in a variable after the
endpoint's latency, timeouts and ignore-error as Learn documents them."""

from __future__ import annotations

import pytest

from apimgen.simulate.policy.handlers.base import PolicyConfigError
from apimgen.simulate.scenario import Endpoint, Outage
from tests.simulate.harness import Call, api_policy, run

SAFETY = "https://safety.contoso.example"


def _check(*, timeout: str = "5", ignore: str = "false", body: str = "") -> str:
    return api_policy(
        f'<send-request mode="new" response-variable-name="verdict" timeout="{timeout}" '
        f'ignore-error="{ignore}"><set-url>{SAFETY}/text:analyze?api-version=2024-09-01</set-url>'
        "<set-method>POST</set-method>"
        '<set-header name="Content-Type" exists-action="override"><value>application/json</value>'
        f"</set-header><set-body>{body or '@(context.Request.Body.As<string>(true))'}</set-body>"
        "</send-request>"
        '<choose><when condition="@(context.Variables[&quot;verdict&quot;] != null &amp;&amp; '
        "((IResponse)context.Variables[&quot;verdict&quot;]).Body.As&lt;JObject&gt;()"
        '[&quot;blocked&quot;].Value&lt;bool&gt;())">'
        '<return-response><set-status code="403" reason="Blocked" /></return-response>'
        "</when></choose>"
    )


def test_the_answer_lands_in_the_variable_after_the_endpoint_latency() -> None:
    blocked = {SAFETY: Endpoint(body={"blocked": True}, latency=0.25)}
    results, _, _ = run(_check(), [Call(0)], endpoints=blocked)
    assert results[0].status == 403 and results[0].done_at == 0.25
    assert results[0].state.backend_calls == 0
    allowed = {SAFETY: Endpoint(body={"blocked": False}, latency=0.25)}
    results, _, _ = run(_check(), [Call(0)], endpoints=allowed)
    assert results[0].status == 200 and results[0].state.backend_calls == 1


@pytest.mark.parametrize(
    ("endpoints", "failure", "took"),
    [
        ({}, f"no scenario endpoint answers {SAFETY}/text:analyze?api-version=2024-09-01", 0.0),
        (
            {SAFETY: Endpoint(body={"blocked": True}, latency=9)},
            f"{SAFETY}/text:analyze?api-version=2024-09-01 did not answer within 5 s",
            5.0,
        ),
    ],
)
def test_a_failed_call_fails_the_request_unless_errors_are_ignored(
    endpoints: dict[str, Endpoint], failure: str, took: float
) -> None:
    results, _, _ = run(_check(), [Call(0)], endpoints=endpoints)
    assert results[0].status == 500
    assert results[0].state.error == ("SendRequestFailure", failure)
    assert results[0].done_at == took
    ignored, _, _ = run(_check(ignore="true"), [Call(0)], endpoints=endpoints)
    assert ignored[0].status == 200, "the variable is null and the request goes on"
    assert ignored[0].state.context.Variables.values["verdict"] is None


def test_the_call_is_built_as_the_policy_says_so_its_expressions_can_fail() -> None:
    policy = _check(body="@(context.Variables[&quot;missing&quot;])")
    results, _, _ = run(policy, [Call(0)], endpoints={SAFETY: Endpoint()})
    assert results[0].status == 500
    assert results[0].state.error is not None
    assert results[0].state.error[0] == "ExpressionValueEvaluationFailure"


@pytest.mark.parametrize(
    ("inner", "message"),
    [
        ("<set-method>GET</set-method>", "needs <set-url>"),
        (f"<set-url>{SAFETY}</set-url><proxy url='http://p' />", "<proxy> is not simulated"),
    ],
)
def test_what_the_simulator_cannot_build_is_refused(inner: str, message: str) -> None:
    with pytest.raises(PolicyConfigError, match=message):
        run(api_policy(f'<send-request response-variable-name="r">{inner}</send-request>'), [])


def test_a_one_way_request_neither_waits_nor_cares_about_the_answer() -> None:
    policy = api_policy(
        f"<send-one-way-request><set-url>{SAFETY}/audit</set-url>"
        "<set-body>@(context.Request.Body.As&lt;string&gt;(true))</set-body>"
        "</send-one-way-request>"
    )
    slow = {SAFETY: Endpoint(latency=30)}
    for endpoints in ({}, slow):
        results, services, _ = run(policy, [Call(0)], endpoints=endpoints)
        assert results[0].status == 200
        assert results[0].done_at == 0.2 + 0.01 * 500  # the backend call alone
        assert services.endpoint_calls == ({SAFETY: 1} if endpoints else {})


def test_an_endpoint_can_fail_on_schedule_or_at_a_rate() -> None:
    """Its answer carries the failure; the policy decides what a failed check means."""
    policy = api_policy(
        f'<send-request response-variable-name="r"><set-url>{SAFETY}/check</set-url>'
        "</send-request>"
        '<choose><when condition="@(((IResponse)context.Variables[&quot;r&quot;]).StatusCode '
        '&gt;= 500)"><return-response><set-status code="503" reason="Check unavailable" />'
        "</return-response></when></choose>"
    )
    down_at_first = {SAFETY: Endpoint(outages=[Outage(start=0, end=10)])}
    results, _, _ = run(policy, [Call(0), Call(20)], endpoints=down_at_first)
    assert [r.status for r in results] == [503, 200]
    always_failing = {SAFETY: Endpoint(error_rate=1.0)}
    results, _, _ = run(policy, [Call(0)], endpoints=always_failing)
    assert results[0].status == 503


FAST, SLOW = "https://fast.contoso.example", "https://slow.contoso.example"


def _both(wait_for: str) -> str:
    calls = "".join(
        f'<send-request mode="new" response-variable-name="{name}"><set-url>{url}/</set-url>'
        "<set-method>GET</set-method></send-request>"
        for name, url in (("slow", SLOW), ("fast", FAST))
    )
    return api_policy(
        f'<wait for="{wait_for}">{calls}</wait>'
        '<return-response><set-status code="200" reason="OK" />'
        '<set-header name="x-got" exists-action="override"><value>'
        '@(string.Join(",", new [] {"slow", "fast"}.Where(v => context.Variables.ContainsKey(v)'
        " &amp;&amp; context.Variables[v] != null)))</value></set-header></return-response>"
    )


ENDPOINTS = {
    FAST: Endpoint(body={"ok": 1}, latency=0.2),
    SLOW: Endpoint(body={"ok": 2}, latency=0.5),
}


def test_wait_for_all_runs_its_calls_side_by_side() -> None:
    results, services, _ = run(_both("all"), [Call(0)], endpoints=ENDPOINTS)
    # both answered, after the slower one's latency rather than the sum of both
    assert results[0].done_at == 0.5 and results[0].headers["x-got"] == ["slow,fast"]
    assert services.endpoint_calls == {FAST: 1, SLOW: 1}  # counted by endpoint


def test_wait_for_any_goes_on_after_the_first_answer() -> None:
    results, _, _ = run(_both("any"), [Call(0)], endpoints=ENDPOINTS)
    assert results[0].done_at == 0.2 and results[0].headers["x-got"] == ["fast"]


def test_wait_holds_only_what_learn_lists() -> None:
    with pytest.raises(PolicyConfigError, match="<wait> has no element <set-variable>"):
        run(api_policy('<wait><set-variable name="a" value="b" /></wait>'), [Call(0)])


def test_wait_for_any_is_over_when_a_child_finishes_at_once() -> None:
    policy = api_policy(
        '<wait for="any"><cache-lookup-value key="k" variable-name="cached" />'
        f'<send-request mode="new" response-variable-name="slow"><set-url>{SLOW}/</set-url>'
        "</send-request></wait>"
        '<return-response><set-status code="200" reason="OK" />'
        '<set-header name="x-slow" exists-action="override">'
        '<value>@(context.Variables.ContainsKey("slow").ToString())</value></set-header>'
        "</return-response>"
    )
    results, _, _ = run(policy, [Call(0)], endpoints=ENDPOINTS)
    assert results[0].done_at == 0 and results[0].headers["x-slow"] == ["False"]


def test_a_limit_refusing_inside_wait_stops_the_wait_and_on_error_runs() -> None:
    # A rate limit in a choose beside a slow call: the second request is refused at once, the
    # wait ends with it and nothing after it runs (no x-got header, no slow call waited for).
    policy = api_policy(
        '<wait for="all">'
        f'<send-request mode="new" response-variable-name="slow"><set-url>{SLOW}/</set-url>'
        "<set-method>GET</set-method></send-request>"
        '<choose><when condition="@(true)"><rate-limit calls="1" renewal-period="60" />'
        "</when></choose></wait>"
        '<return-response><set-status code="200" reason="OK" />'
        '<set-header name="x-got" exists-action="override"><value>yes</value></set-header>'
        "</return-response>",
        on_error='<base /><set-header name="x-error" exists-action="override">'
        "<value>@(context.LastError.Reason)</value></set-header>",
    )
    results, _, _ = run(policy, [Call(0), Call(1)], endpoints=ENDPOINTS)
    assert [r.status for r in results] == [200, 429]
    assert results[0].headers["x-got"] == ["yes"]
    refused = results[1]
    assert "x-got" not in refused.headers
    assert refused.headers["x-error"] == ["RateLimitExceeded"]
    assert refused.done_at == 1.0, "refused at once, without waiting for the slow call"
