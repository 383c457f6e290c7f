"""Documented gateway behaviours, reproduced by the engine on the virtual clock."""

from __future__ import annotations

import math
from typing import Any

import pytest

from apimgen.simulate.backends import BreakerRule, Outage, PoolMember, SingleBackend
from apimgen.simulate.policy.handlers.base import PolicyConfigError
from tests.simulate.harness import Call, api_policy, run, single

TPM_1000 = '<llm-token-limit counter-key="@(context.User.Id)" tokens-per-minute="1000" estimate-prompt-tokens="false" remaining-tokens-header-name="x-remaining" />'


def test_token_limit_overshoots_once_then_refuses_until_the_window_frees() -> None:
    calls = [Call(0), Call(10), Call(20), Call(30, user="bob")]
    results, _, _ = run(api_policy(TPM_1000), calls)
    assert [r.status for r in results] == [200, 200, 429, 200]
    refused = results[2]
    # 1200 tokens in the window after two calls: the first 600 leave at 0 + latency + 60 s.
    first_done = results[0].done_at
    expected = math.ceil(first_done + 60 - 20)
    assert refused.headers["Retry-After"] == [str(expected)]
    assert f"Try again in {expected} seconds." in (refused.body or "")
    assert refused.state.backend_calls == 0, "refused calls never reach the backend"
    assert refused.state.context.LastError.Reason == "OpenAITokenLimitExceeded"  # type: ignore[union-attr]
    # Written after the answer, so the call's own 600 tokens are gone from it (not 1000).
    assert results[0].headers["x-remaining"] == ["400"]
    assert results[1].headers["x-remaining"] == ["0"], "clamped at 0, not -200"


def test_estimation_refuses_a_prompt_that_can_never_fit_without_retry_time() -> None:
    policy = api_policy(
        TPM_1000.replace('estimate-prompt-tokens="false"', 'estimate-prompt-tokens="true"')
    )
    results, _, _ = run(policy, [Call(0, prompt_tokens=1500)])
    assert results[0].status == 429
    assert "Retry-After" not in results[0].headers
    assert results[0].body is not None and "Try again" not in results[0].body


def test_estimate_is_replaced_by_actual_usage() -> None:
    policy = api_policy(
        TPM_1000.replace('estimate-prompt-tokens="false"', 'estimate-prompt-tokens="true"').replace(
            "/>", 'tokens-consumed-variable-name="consumed" />'
        )
    )
    results, services, _ = run(policy, [Call(0, prompt_tokens=100, completion_tokens=50)])
    assert results[0].status == 200
    assert results[0].state.context.Variables.values["consumed"] == 150
    window = services.counters[("tpm", "alice")]
    assert window.total == 150


def test_quota_is_refused_only_past_the_quota_with_403() -> None:
    policy = api_policy(
        '<llm-token-limit counter-key="@(context.User.Id)" token-quota="1200" token-quota-period="Monthly" estimate-prompt-tokens="false" />'
    )
    # 600 tokens a call: 1200 spent equals the quota and is still allowed; 1800 is past it.
    results, _, _ = run(policy, [Call(0), Call(100), Call(200), Call(300)])
    assert [r.status for r in results] == [200, 200, 200, 403]
    assert "Token quota is exceeded" in (results[3].body or "")
    assert results[3].state.context.LastError.Reason == "OpenAITokenQuotaExceeded"  # type: ignore[union-attr]


def test_quota_and_its_period_may_come_from_expressions() -> None:
    # Per-tier quotas read from variables, as token limits allow since April 2026.
    policy = api_policy(
        '<set-variable name="quota" value="@(context.Request.Headers.GetValueOrDefault(&quot;x-quota&quot;, &quot;&quot;))" />'
        '<llm-token-limit counter-key="@(context.User.Id)" estimate-prompt-tokens="false" '
        'token-quota="@((string)context.Variables[&quot;quota&quot;])" '
        'token-quota-period="@(context.Request.Headers.GetValueOrDefault(&quot;x-period&quot;, &quot;Daily&quot;))" '
        'remaining-quota-tokens-variable-name="left" />'
    )
    small = {"x-quota": "600"}  # 600 tokens a call: the second spends past it, the third is refused
    calls = [Call(t, headers=small) for t in (0, 100, 200)]
    results, services, _ = run(policy, calls)
    assert [r.status for r in results] == [200, 200, 403]
    # The variable is written once the call answered: its own 600 tokens spent the quota.
    assert results[0].state.context.Variables.values["left"] == 0
    assert ("quota", "alice", "Daily") in services.counters
    # An empty quota means none for the call; a period APIM does not know fails it.
    unlimited = [Call(t, headers={}) for t in (0, 100, 200)]
    assert [r.status for r in run(policy, unlimited)[0]] == [200, 200, 200]
    wrong = run(policy, [Call(0, headers={"x-quota": "600", "x-period": "Fortnightly"})])[0]
    assert wrong[0].status == 500
    assert wrong[0].state.error == (
        "ExpressionValueEvaluationFailure",
        "<llm-token-limit> token-quota-period gave 'Fortnightly', not one of Hourly, Daily, "
        "Weekly, Monthly, Yearly",
    )


def test_on_error_sees_last_error_and_can_answer() -> None:
    on_error = '<base /><choose><when condition="@(context.LastError.Reason == &quot;OpenAITokenLimitExceeded&quot;)"><return-response><set-status code="429" reason="Slow down" /><set-header name="x-why" exists-action="override"><value>@(context.LastError.Reason)</value></set-header></return-response></when></choose>'
    results, _, _ = run(api_policy(TPM_1000, on_error=on_error), [Call(0), Call(10), Call(20)])
    assert results[2].status == 429
    assert results[2].headers["x-why"] == ["OpenAITokenLimitExceeded"]


def test_token_metrics_three_samples_per_success_none_for_refusals() -> None:
    metric = '<llm-emit-token-metric namespace="openai"><dimension name="User ID" /><dimension name="App" value="@(context.Request.Headers.GetValueOrDefault(&quot;X-App&quot;, &quot;none&quot;))" /></llm-emit-token-metric>'
    results, services, _ = run(
        api_policy(TPM_1000 + metric),
        [Call(0, headers={"X-App": "hr"}), Call(10), Call(20)],
    )
    assert [r.status for r in results] == [200, 200, 429]
    metrics = services.metrics
    assert metrics.samples == 6, "three samples for each of the two successful calls"
    assert {series[2] for series in metrics.totals()} == {
        "Total Tokens",
        "Prompt Tokens",
        "Completion Tokens",
    }
    assert metrics.sum("Total Tokens") == 1200
    assert metrics.sum("Total Tokens", namespace="openai") == 1200
    assert metrics.sum("Total Tokens", namespace="API Management") == 0
    assert metrics.sum("Prompt Tokens", {"App": "hr"}) == 100
    assert metrics.sum("Completion Tokens", {"User ID": "alice", "App": "none"}) == 500
    assert all(series[1] == "openai" for series in metrics.totals())


def test_token_metrics_sum_per_minute_and_series_on_each_gateway_node() -> None:
    # Known dimensions: one emission serves every request and remembers each series for the
    # current minute; the sums must still land per minute, per user and per node.
    metric = '<llm-emit-token-metric namespace="openai"><dimension name="User ID" /><dimension name="API ID" /></llm-emit-token-metric>'
    times = ((0, "alice"), (10, "bob"), (20, "alice"), (70, "alice"), (130, "bob"), (140, "bob"))
    results, first, compiled = run(api_policy(metric), [Call(t, user=u) for t, u in times])
    _, second, _ = run("", [Call(0, user="carol"), Call(65, user="alice")], compiled=compiled)

    def totals(services: Any) -> dict[tuple[int, str], tuple[float, int]]:
        return {
            (minute, dict(dims)["User ID"]): (value, count)
            for minute, _, name, dims, value, count in services.metrics.totals()
            if name == "Total Tokens"
        }

    expected: dict[tuple[int, str], tuple[float, int]] = {}
    for result in results:
        key = (int(result.done_at // 60), result.call.user)
        value, count = expected.get(key, (0.0, 0))
        expected[key] = (value + 600, count + 1)
    assert totals(first) == expected
    assert len(expected) == 4, "alice and bob in minute 0, alice in 1, bob in 2"
    assert totals(second) == {(0, "carol"): (600.0, 1), (1, "alice"): (600.0, 1)}
    assert (first.metrics.samples, second.metrics.samples) == (18, 6)


def test_pool_fails_over_from_ptu_to_paygo_and_comes_back() -> None:
    breaker = BreakerRule(1, None, 10, ((429, 429), (500, 599)), 30, accept_retry_after=False)
    # 2000 TPM allows 2 requests per 10 s (Azure: 6 RPM per 1000 TPM), so the third call is throttled.
    ptu = single("ptu", tpm=2000, breaker=breaker, latency_base=0.1, latency_per_token=0)
    paygo = single("paygo", tpm=1_000_000, breaker=breaker, latency_base=0.1, latency_per_token=0)
    pool = {"pool": [PoolMember("ptu", 1, 1), PoolMember("paygo", 2, 1)]}
    backend = (
        '<retry condition="@(context.Response.StatusCode == 429 || context.Response.StatusCode == 503)" count="1" interval="0" first-fast-retry="true">'
        '<set-backend-service backend-id="pool" /><forward-request buffer-request-body="true" /></retry>'
    )
    policy = api_policy('<set-backend-service backend-id="pool" />', backend=backend)
    calls = [
        Call(t, prompt_tokens=100, completion_tokens=100, max_tokens=300) for t in (0, 1, 2, 3, 40)
    ]
    results, _, _ = run(policy, calls, backends=[ptu, paygo], pools=pool)
    assert [r.status for r in results] == [200, 200, 200, 200, 200]
    assert [r.state.backend_used for r in results] == ["ptu", "ptu", "paygo", "paygo", "ptu"]
    assert results[2].state.backend_calls == 2, "the throttled PTU call was retried on paygo"
    assert ptu.trips == 1


def test_pool_with_every_member_tripped_answers_503_without_calling() -> None:
    breaker = BreakerRule(1, None, 60, ((500, 599),), 60, accept_retry_after=False)
    broken = single("broken", breaker=breaker, error_rate=1.0)
    policy = api_policy('<set-backend-service backend-id="pool" />')
    results, _, _ = run(
        policy, [Call(0), Call(5)], backends=[broken], pools={"pool": [PoolMember("broken", 1, 1)]}
    )
    assert [r.status for r in results] == [500, 503]
    assert results[1].state.backend_calls == 0


@pytest.mark.parametrize(
    ("condition", "answered_at"),
    [
        ("context.Response.StatusCode == 503", 15.0),
        (
            "context.Response.StatusCode == 503 && "
            "!context.Response.StatusReason.Contains(&quot;Backend pool&quot;)",
            5.0,
        ),
    ],
    ids=["retries-the-exhausted-pool", "excludes-the-pool-503"],
)
def test_retry_condition_sees_the_pools_own_503(condition: str, answered_at: float) -> None:
    breaker = BreakerRule(1, None, 60, ((500, 599),), 60, accept_retry_after=False)
    broken = single("broken", breaker=breaker, error_rate=1.0)
    backend = (
        f'<retry condition="@({condition})" count="2" interval="5">'
        '<set-backend-service backend-id="pool" /><forward-request /></retry>'
    )
    policy = api_policy('<set-backend-service backend-id="pool" />', backend=backend)
    results, _, _ = run(
        policy, [Call(0), Call(5)], backends=[broken], pools={"pool": [PoolMember("broken", 1, 1)]}
    )
    exhausted = results[1]
    assert exhausted.status == 503
    assert exhausted.state.backend_calls == 0
    assert exhausted.done_at == answered_at
    response = exhausted.state.context.Response
    assert (
        response is not None
        and response.StatusReason == "Backend pool pool is temporarily unavailable"
    )
    assert exhausted.state.context.LastError.Reason == "BackendServiceUnavailable"  # type: ignore[union-attr]


def test_backend_throttling_passes_through_with_retry_after() -> None:
    results, _, _ = run(
        api_policy(),
        [Call(0, max_tokens=900), Call(1, max_tokens=900)],
        backends=[single("aoai", tpm=1000)],
    )
    assert [r.status for r in results] == [200, 429]
    assert "Retry-After" in results[1].headers and "retry-after-ms" in results[1].headers


def test_reading_the_body_without_preserving_it_empties_the_forwarded_request() -> None:
    policy = api_policy(
        '<set-variable name="b" value="@(context.Request.Body.As&lt;string&gt;())" />'
    )
    results, _, _ = run(policy, [Call(0)])
    assert results[0].status == 400
    preserved = api_policy(
        '<set-variable name="b" value="@(context.Request.Body.As&lt;string&gt;(preserveContent: true))" />'
    )
    assert run(preserved, [Call(0)])[0][0].status == 200


def test_expression_failure_goes_to_on_error_with_500() -> None:
    results, _, _ = run(
        api_policy('<set-variable name="x" value="@(context.Variables[&quot;missing&quot;])" />'),
        [Call(0)],
    )
    assert results[0].status == 500
    assert results[0].state.context.LastError.Reason == "ExpressionValueEvaluationFailure"  # type: ignore[union-attr]


def test_unknown_policy_is_a_located_error_or_skipped_on_request() -> None:
    policy = api_policy('<rate-limit-by-kee calls="1" renewal-period="60" counter-key="x" />')
    with pytest.raises(PolicyConfigError) as error:
        run(policy, [Call(0)])
    assert error.value.location is not None and error.value.location.file == "api.xml"
    assert "--skip-unknown" in error.value.hint
    results, _, compiled = run(policy, [Call(0)], skip_unknown=True)
    assert results[0].status == 200
    assert [e.name for e in compiled.skipped] == ["rate-limit-by-kee"]


def test_misspelt_attribute_gets_a_hint() -> None:
    with pytest.raises(PolicyConfigError) as error:
        run(
            api_policy(
                '<llm-token-limit counter-key="x" tokens-per-minute="5" estimate-prompt-token="true" />'
            ),
            [],
        )
    assert "no attribute 'estimate-prompt-token'" in error.value.message
    assert "estimate-prompt-tokens" in error.value.hint


def test_runs_are_reproducible() -> None:
    calls = [Call(t * 0.5, user=("alice", "bob")[t % 2]) for t in range(40)]
    first = [(r.status, r.done_at) for r in run(api_policy(TPM_1000), calls)[0]]
    second = [(r.status, r.done_at) for r in run(api_policy(TPM_1000), calls)[0]]
    assert first == second


POOL = {"pool": [PoolMember("ptu", 1, 1), PoolMember("paygo", 2, 1)]}
LIMITED_POOL_WITH_RETRIES = api_policy(
    TPM_1000 + '<set-backend-service backend-id="pool" />',
    backend='<retry condition="@(context.Response.StatusCode == 429)" count="2" interval="1">'
    '<forward-request buffer-request-body="true" /></retry>',
)


def _ptu_and_paygo() -> list[SingleBackend]:
    """A small PTU that throttles and trips its breaker, and a pay-as-you-go spill-over."""
    breaker = BreakerRule(1, None, 10, ((429, 429), (500, 599)), 5, accept_retry_after=False)
    return [
        single("ptu", tpm=3000, breaker=breaker, latency_base=0.3),
        single("paygo", tpm=10**6, breaker=breaker, latency_base=0.2),
    ]


def test_arriving_one_by_one_runs_as_queueing_up_front() -> None:
    # A scenario run hands each request to the loop as it arrives and runs its first step at
    # once; that must interleave exactly as queueing every request up front does, including
    # equal arrival times, throttling, breaker trips and retries across a pool.
    calls = [
        Call(t * 0.25, user=("alice", "bob", "carol")[t % 3], prompt_tokens=60, max_tokens=200)
        for t in range(120)
    ] + [Call(3.0, user="dave"), Call(3.0, user="erin")]

    def outcome(arrive: bool) -> list[tuple[object, ...]]:
        results, services, _ = run(
            LIMITED_POOL_WITH_RETRIES, calls, backends=_ptu_and_paygo(), pools=POOL, arrive=arrive
        )
        return [
            (r.call.time, r.call.user, r.status, r.done_at, r.state.backend_used, r.body)
            for r in results
        ] + [(services.metrics.samples, sorted(map(str, services.counters)))]

    queued = outcome(arrive=False)
    assert {row[2] for row in queued[:-1]} >= {200, 429}, "the run exercises refusals"
    assert outcome(arrive=True) == queued


def test_streaming_estimates_prompts_and_reports_the_estimate_up_front() -> None:
    policy = api_policy(
        '<llm-token-limit counter-key="@(context.User.Id)" tokens-per-minute="10000" estimate-prompt-tokens="false" tokens-consumed-header-name="x-consumed" tokens-consumed-variable-name="consumed" />'
    )
    from tests.simulate import harness

    calls = [Call(0, prompt_tokens=120, completion_tokens=400)]
    results, services, _ = harness.run(policy, calls, stream=True)
    response = results[0]
    assert response.status == 200
    assert response.headers["Content-Type"] == ["text/event-stream"]
    assert response.headers["x-consumed"] == ["120"], "the header leaves before the stream"
    # so does outbound: a live measurement saw the variable report the prompt only
    assert response.state.context.Variables["consumed"] == 120
    whole, _, _ = harness.run(policy, calls)
    assert whole[0].state.context.Variables["consumed"] == 520
    assert services.counters[("tpm", "alice")].total == 520, "the streamed tokens still count"
    assert (response.body or "").endswith("data: [DONE]\n\n")


@pytest.mark.parametrize(
    ("reselects", "used", "status"),
    [(False, ["broken", "broken"], 500), (True, ["broken", "healthy"], 200)],
    ids=["newer-gateways-resend-to-the-same-member", "older-gateways-pick-anew"],
)
def test_retry_without_set_backend_service_resends_per_the_gateway_setting(
    reselects: bool, used: list[str], status: int
) -> None:
    """apim-genai-policies.md §12: newer gateways resend to the member they chose; older ones
    chose again. `gateway.retry_reselects_backend` in a scenario picks the older behaviour."""
    broken = single("broken", error_rate=1.0)
    healthy = single("healthy")
    backend = (
        '<retry condition="@(context.Response.StatusCode == 500)" count="1" interval="0">'
        '<forward-request buffer-request-body="true" /></retry>'
    )
    policy = api_policy('<set-backend-service backend-id="pool" />', backend=backend)
    pools = {"pool": [PoolMember("broken", 1, 1), PoolMember("healthy", 1, 1)]}
    results, _, _ = run(
        policy, [Call(0)], backends=[broken, healthy], pools=pools,
        retry_reselects_backend=reselects,
    )  # fmt: skip
    assert results[0].state.backend_calls == 2
    assert [broken.deployment.calls, healthy.deployment.calls] == [
        used.count("broken"), used.count("healthy")
    ]  # fmt: skip
    assert results[0].status == status


def test_the_timestamp_is_the_arrival_on_the_scenarios_clock() -> None:
    from datetime import UTC, datetime

    from apimgen.simulate.context import Context
    from apimgen.simulate.expr.compiler import compile_expression
    from apimgen.simulate.state import GatewayServices

    context = Context()
    assert context.Timestamp is None
    context.arrived(datetime(2026, 1, 5, 9, 0, tzinfo=UTC), 90.5)
    hour = compile_expression('@(context.Timestamp.ToString("HH:mm:ss"))')
    assert hour.evaluate(context, GatewayServices().statics) == "09:01:30"


def test_finished_requests_leave_no_cyclic_garbage() -> None:
    # A request's objects must be freed as soon as it finishes, not wait for the garbage
    # collector: a cycle per request (a kept exception's traceback holding the frames that
    # hold the request, say) made long runs 16 % slower in collector passes alone.
    import gc

    def garbage_after(count: int) -> int:
        calls = [Call(t * 0.25, user=("alice", "bob")[t % 2]) for t in range(count)]
        backends = _ptu_and_paygo()
        gc.collect()
        gc.disable()
        try:
            results, _, _ = run(
                LIMITED_POOL_WITH_RETRIES, calls, backends=backends, pools=POOL, arrive=True
            )
            assert {r.status for r in results} >= {200, 429}
            del results
            return gc.collect()
        finally:
            gc.enable()

    few, many = garbage_after(100), garbage_after(1100)
    assert many - few < 100, f"{many - few} objects in cycles for 1000 more requests"


def test_a_backend_error_reaches_on_error_only_with_fail_on_error_status_code() -> None:
    # A hand-written circuit breaker trips in on-error: with the default forward-request a
    # backend's 503 is an ordinary response, so on-error never runs and nothing trips.
    down = [single("aoai", outages=(Outage(0, 100),))]
    on_error = (
        '<base /><set-header name="x-on-error" exists-action="override">'
        "<value>@(context.LastError.Reason)</value></set-header>"
    )
    plain, _, _ = run(api_policy(on_error=on_error), [Call(0)], backends=down)
    assert plain[0].status == 503 and "x-on-error" not in plain[0].headers
    failing = api_policy(
        backend='<forward-request fail-on-error-status-code="true" />', on_error=on_error
    )
    results, _, _ = run(failing, [Call(0)], backends=down)
    assert results[0].status == 503, "on-error keeps the backend's response"
    assert results[0].headers["x-on-error"] == ["BackendErrorStatusCode"]
    answered, _, _ = run(failing, [Call(200)], backends=down)
    assert answered[0].status == 200 and "x-on-error" not in answered[0].headers


def test_forward_request_takes_one_timeout_and_expressions_in_it() -> None:
    both = api_policy(backend='<forward-request timeout="10" timeout-ms="100" />')
    with pytest.raises(PolicyConfigError, match="timeout or timeout-ms, not both"):
        run(both, [Call(0)])
    by_expression = api_policy(backend='<forward-request timeout="@(60 * 2)" />')
    assert run(by_expression, [Call(0)])[0][0].status == 200
    no_number = api_policy(backend='<forward-request timeout-ms="@(&quot;soon&quot;)" />')
    refused = run(no_number, [Call(0)])[0][0]
    assert refused.status == 500
    assert refused.state.error == (
        "ExpressionValueEvaluationFailure",
        "<forward-request> timeout-ms gave 'soon', not a whole number",
    )


def test_a_backend_slower_than_the_timeout_times_out_into_on_error() -> None:
    # 500 completion tokens at 10 ms each: the whole answer takes 5.2 s, a stream's first
    # token 0.2 s. Only the whole answer misses a 2 s wait for response headers.
    on_error = (
        '<base /><set-header name="x-on-error" exists-action="override">'
        "<value>@(context.LastError.Reason)</value></set-header>"
    )
    waits = api_policy(backend='<forward-request timeout="2" />', on_error=on_error)
    whole, _, _ = run(waits, [Call(0)])
    assert (whole[0].status, whole[0].done_at) == (504, 2.0)
    assert whole[0].headers["x-on-error"] == ["Timeout"]
    streamed, _, _ = run(waits, [Call(0)], stream=True)
    assert (streamed[0].status, streamed[0].done_at) == (200, 5.2)
    in_ms = api_policy(backend='<forward-request timeout-ms="6000" />')
    assert run(in_ms, [Call(0)])[0][0].status == 200
    by_default, _, _ = run(api_policy(), [Call(0, completion_tokens=40_000)])
    assert by_default[0].status == 504 and by_default[0].done_at == 300.0  # Learn's default


@pytest.mark.parametrize(("buffered", "status"), [(True, 200), (False, 400)])
def test_a_retry_resends_the_body_only_when_it_was_buffered(buffered: bool, status: int) -> None:
    # The first attempt meets a 500; the retry goes to the healthy member, with the body only
    # if forward-request buffered it (Learn), else the member gets none and refuses it.
    broken = single("broken", error_rate=1.0)
    pool = {"pool": [PoolMember("broken", 1, 1), PoolMember("ok", 1, 1)]}  # in turn
    attribute = ' buffer-request-body="true"' if buffered else ""
    backend = (
        '<retry condition="@(context.Response.StatusCode == 500)" count="1" interval="0">'
        f'<set-backend-service backend-id="pool" /><forward-request{attribute} /></retry>'
    )
    results, services, _ = run(
        api_policy(backend=backend),
        [Call(0)],
        backends=[broken, single("ok")],
        pools=pool,
        retry_reselects_backend=True,
    )
    assert results[0].status == status
    assert results[0].state.backend_calls == 2
    ok = services.backends.singles["ok"].deployment
    assert (ok.calls, ok.tokens_served) == (1, 600 if buffered else 0)


def test_a_retry_decides_on_a_timed_out_attempt_like_on_a_response() -> None:
    # A published trace (a forward-request timing out inside retry) shows the retry's condition
    # evaluated afterwards, with a response of status 429 or more: the gateway's 504. Here the
    # slow deployment times out and the retry moves to the fast one; without a retry left the
    # timeout still reaches on-error.
    slow = single("slow", latency_base=5.0)
    backend = (
        '<retry condition="@(context.Response != null &amp;&amp; context.Response.StatusCode == 504)" '
        'count="{count}" interval="0">'
        '<choose><when condition="@(context.Response.StatusCode == 504)">'
        '<set-backend-service backend-id="fast" /></when></choose>'
        '<forward-request timeout="2" buffer-request-body="true" /></retry>'
    )
    on_error = (
        '<base /><set-header name="x-on-error" exists-action="override">'
        "<value>@(context.LastError.Reason)</value></set-header>"
    )
    inbound = '<base /><set-backend-service backend-id="slow" />'

    def attempt(count: int) -> Any:
        policy = api_policy(inbound=inbound, backend=backend.format(count=count), on_error=on_error)
        return run(policy, [Call(0, completion_tokens=50)], backends=[slow, single("fast")])[0][0]

    retried = attempt(1)
    assert retried.status == 200 and retried.state.backend_calls == 2
    assert retried.done_at > 2.0 and "x-on-error" not in retried.headers
    given_up = attempt(0)
    assert (given_up.status, given_up.done_at) == (504, 2.0)
    assert given_up.headers["x-on-error"] == ["Timeout"]


def test_a_literal_variable_cast_to_int_fails_the_retry_after_a_timeout() -> None:
    # The shape of a published load-balancing sample's bug: a counter initialised by a
    # literal (a string) and cast with (Int32) in the retry condition. A 429 reassigns it as
    # a number before the condition reads it; a timeout does not, and the cast throws —
    # "Unable to cast object of type 'System.String' to type 'System.Int32'", as its users
    # reported from gateway traces.
    inbound = (
        '<base /><set-backend-service backend-id="aoai" /><set-variable name="left" value="1" />'
    )
    backend = (
        '<retry condition="@(context.Response != null &amp;&amp; context.Response.StatusCode >= 429'
        ' &amp;&amp; ((Int32)context.Variables[&quot;left&quot;]) &gt; 0)" count="3" interval="0">'
        '<forward-request buffer-request-body="true" timeout="{timeout}" />'
        '<choose><when condition="@(context.Response.StatusCode == 429)">'
        '<set-variable name="left" value="@(0)" /></when></choose></retry>'
    )
    busy = single("aoai", tpm=1000)  # the second call's reservation is refused with 429

    def answer(timeout: int) -> Any:
        policy = api_policy(inbound=inbound, backend=backend.format(timeout=timeout))
        calls = [Call(0, completion_tokens=50, max_tokens=900), Call(0.1, completion_tokens=50)]
        return run(policy, calls, backends=[busy])[0][1]

    throttled = answer(300)
    assert throttled.status == 429, "reassigned as a number, the cast holds and the retry stops"
    timed_out = answer(0)
    assert timed_out.status == 500
    reason, message = timed_out.state.error
    assert reason == "ExpressionValueEvaluationFailure"
    assert message.startswith(
        "InvalidCastException: Unable to cast object of type 'System.String' to type "
        "'System.Int32'. in @(context.Response != null"
    )
    assert message.endswith("(<retry condition> at api.xml:1:134)")


@pytest.mark.parametrize(
    ("read", "status"),
    [
        # a JSON token kept in a variable is an object: casting it unboxes and fails
        ('@(((int)context.Variables["max"]).ToString())', 500),
        ('@((string)context.Variables["model"])', 500),
        # read as a token, its own conversions apply
        ('@(((int)(JToken)context.Variables["max"]).ToString())', 200),
        ('@(context.Variables["model"].ToString())', 200),
    ],
)
def test_a_json_token_stored_in_a_variable_casts_only_as_a_token(read: str, status: int) -> None:
    inbound = (
        '<set-variable name="max" value="@(context.Request.Body.As&lt;JObject&gt;(true)[&quot;max_tokens&quot;])" />'
        '<set-variable name="model" value="@(context.Request.Body.As&lt;JObject&gt;(true)[&quot;model&quot;])" />'
        f'<set-header name="x-read" exists-action="override"><value>{read}</value></set-header>'
    )
    body = {"model": "gpt-4o", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    result = run(api_policy(inbound=inbound), [Call(0, body=body)])[0][0]
    assert result.status == status
    if status == 500:
        assert result.state.error is not None
        assert (
            "Unable to cast object of type 'Newtonsoft.Json.Linq.JValue'" in result.state.error[1]
        )


def test_the_request_id_is_a_guid_derived_from_the_requests_label() -> None:
    from apimgen.simulate.context import Context
    from apimgen.simulate.expr.typesystem import Guid

    alice, again, bob = (
        Context(RequestId="alice-0"),
        Context(RequestId="alice-0"),
        Context(RequestId="bob-0"),
    )
    assert isinstance(alice.RequestId, Guid) and alice.request_label == "alice-0"
    assert alice.RequestId == again.RequestId != bob.RequestId  # the same in every run
    given = "6f1e2d3c-0000-4000-8000-000000000009"
    assert Context(RequestId=given).RequestId.ToString() == given


def test_without_a_forward_request_outbound_gets_the_gateway_s_own_200() -> None:
    # Learn (forward-request): without it the request is not forwarded and outbound runs
    # right after inbound; the caller gets 200 with no body. No backend is called.
    policy = api_policy(
        '<set-backend-service backend-id="b" />',
        backend="<!-- <base /> left out: the global forward-request is lost -->",
        outbound='<base /><set-header name="x-status" exists-action="override">'
        "<value>@(context.Response.StatusCode + &quot; &quot; + context.Response.StatusReason)"
        "</value></set-header>",
    )
    results, services, _ = run(policy, [Call(0)], backends=[single("b")])
    assert (results[0].status, results[0].body) == (200, "")
    assert results[0].headers["x-status"] == ["200 OK"]
    assert results[0].state.backend_calls == 0 and results[0].done_at == 0
    assert services.backends.singles["b"].deployment.calls == 0


def test_a_retry_body_sees_the_gateway_s_response_before_the_first_attempt() -> None:
    # The response is never null (Microsoft's GenAI gateway toolkit reads its StatusCode at the
    # top of a retry body): a body that moves on whenever "context.Response != null" leaves the
    # first backend before ever calling it.
    backend = (
        '<retry condition="@(context.Response.StatusCode == 429)" count="1" interval="0">'
        '<set-variable name="first-seen" value="@(context.Variables.ContainsKey('
        "&quot;first-seen&quot;) ? context.Variables[&quot;first-seen&quot;] : "
        'context.Response.StatusCode)" />'
        '<choose><when condition="@(context.Response != null)">'
        '<set-backend-service backend-id="second" /></when></choose>'
        "<forward-request /></retry>"
    )
    policy = api_policy('<set-backend-service backend-id="first" />', backend=backend)
    results, services, _ = run(policy, [Call(0)], backends=[single("first"), single("second")])
    assert results[0].status == 200
    assert results[0].state.context.Variables["first-seen"] == 200
    calls = [services.backends.singles[name].deployment.calls for name in ("first", "second")]
    assert calls == [0, 1]


@pytest.mark.parametrize(("buffered", "status", "why"), [(True, 200, None),
                                                          (False, 400, "BackendErrorStatusCode")])  # fmt: skip
def test_a_retry_decides_on_an_error_status_that_fails_the_forward_request(
    buffered: bool, status: int, why: str | None
) -> None:
    # Microsoft's GenAI gateway toolkit spills a PTU's 429 over to pay-as-you-go with
    # fail-on-error-status-code="true" inside retry (its load test shows the spill-over): the
    # condition sees the 429 rather than on-error. Unbuffered, the retry reaches the second
    # backend without a body; its 400 fails the request, which the condition does not retry.
    ptu = single("ptu", outages=(Outage(0, 100, 429),))
    attribute = ' buffer-request-body="true"' if buffered else ""
    backend = (
        '<retry condition="@(context.Response.StatusCode == 429)" count="3" interval="1">'
        '<choose><when condition="@(context.Response.StatusCode == 429)">'
        '<set-backend-service backend-id="payg" /></when>'
        '<otherwise><set-backend-service backend-id="ptu" /></otherwise></choose>'
        f'<forward-request fail-on-error-status-code="true"{attribute} /></retry>'
    )
    on_error = (
        '<base /><set-header name="x-why" exists-action="override">'
        "<value>@(context.LastError.Reason)</value></set-header>"
    )
    policy = api_policy(backend=backend, on_error=on_error)
    results, services, _ = run(policy, [Call(0)], backends=[ptu, single("payg")])
    assert results[0].status == status
    assert results[0].headers.get("x-why") == ([why] if why else None)
    calls = [services.backends.singles[name].deployment.calls for name in ("ptu", "payg")]
    assert calls == [1, 1]
