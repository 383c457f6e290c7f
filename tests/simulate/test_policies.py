"""Request limits, the value cache, caller checks and URL rewriting, per their Learn pages."""

from __future__ import annotations

import pytest

from apimgen.simulate.policy.handlers.base import PolicyConfigError
from apimgen.simulate.traffic import unsigned_jwt
from tests.simulate.harness import Call, api_policy, run, single


def test_rate_limit_by_key_sliding_window() -> None:
    policy = api_policy(
        '<rate-limit-by-key calls="2" renewal-period="60" counter-key="@(context.User.Id)" remaining-calls-header-name="x-left" />'
    )
    results, _, _ = run(policy, [Call(0), Call(1), Call(2), Call(2, user="bob"), Call(61)])
    assert [r.status for r in results] == [200, 200, 429, 200, 200]
    assert results[2].headers["Retry-After"] == ["58"]
    assert "Rate limit is exceeded. Try again in 58 seconds." in (results[2].body or "")
    assert results[0].headers["x-left"] == ["1"]
    assert results[2].state.context.LastError.Reason == "RateLimitExceeded"  # type: ignore[union-attr]


def test_expression_increment_condition_counts_after_the_response() -> None:
    # Counting only successful calls happens at the end: the 429 comes one call late.
    policy = api_policy(
        '<rate-limit-by-key calls="1" renewal-period="60" counter-key="k" increment-condition="@(context.Response.StatusCode == 200)" />'
    )
    results, _, _ = run(policy, [Call(0), Call(0.01), Call(30)])
    assert [r.status for r in results] == [200, 200, 429]


def test_rate_limit_renewal_period_is_capped() -> None:
    results, _, _ = run(
        api_policy('<rate-limit-by-key calls="1" renewal-period="600" counter-key="k" />'),
        [Call(0)],
    )
    assert results[0].status == 500


def test_quota_by_key_fixed_period_and_lifetime() -> None:
    policy = api_policy(
        '<quota-by-key calls="2" renewal-period="300" counter-key="@(context.User.Id)" />'
    )
    results, _, _ = run(policy, [Call(0), Call(10), Call(20), Call(301)])
    assert [r.status for r in results] == [200, 200, 403, 200]
    assert "Quota will be replenished in 00:04:40" in (results[2].body or "")
    lifetime = api_policy('<quota-by-key calls="1" renewal-period="0" counter-key="k" />')
    assert [r.status for r in run(lifetime, [Call(0), Call(10000)])[0]] == [200, 403]


def test_quota_needs_a_valid_period_and_no_bandwidth() -> None:
    with pytest.raises(PolicyConfigError, match="at least 300"):
        run(api_policy('<quota-by-key calls="1" renewal-period="60" counter-key="k" />'), [])
    with pytest.raises(PolicyConfigError, match="bandwidth"):
        run(api_policy('<quota calls="1" bandwidth="10" renewal-period="300" />'), [])


def test_rate_limit_and_quota_per_subscription() -> None:
    policy = api_policy(
        '<rate-limit calls="1" renewal-period="10" /><quota calls="2" renewal-period="3600" />'
    )
    results, _, _ = run(policy, [Call(0), Call(5), Call(20), Call(40)])
    assert [r.status for r in results] == [200, 429, 200, 403]


def test_value_cache_with_expiry() -> None:
    policy = api_policy(
        '<cache-lookup-value key="greeting" default-value="none" variable-name="g" />'
        '<choose><when condition="@((string)context.Variables[&quot;g&quot;] == &quot;none&quot;)">'
        '<cache-store-value key="greeting" value="hello" duration="30" /></when></choose>'
    )
    results, _, _ = run(policy, [Call(0), Call(10), Call(45)])
    assert [r.state.context.Variables.values["g"] for r in results] == ["none", "hello", "none"]


def test_validate_jwt_checks_audience_issuer_expiry_and_claims() -> None:
    policy = api_policy(
        '<validate-jwt header-name="Authorization" failed-validation-httpcode="401" failed-validation-error-message="Unauthorized">'
        "<audiences><audience>api://gateway</audience></audiences>"
        "<issuers><issuer>https://login.example/tenant</issuer></issuers>"
        '<required-claims><claim name="roles" match="any"><value>ai.user</value></claim></required-claims>'
        "</validate-jwt>"
    )
    good = {
        "aud": "api://gateway",
        "iss": "https://login.example/tenant",
        "roles": "ai.user",
        "exp": 4102444800,
    }
    calls = [
        Call(0, headers={"Authorization": f"Bearer {unsigned_jwt(good)}"}),
        Call(1, headers={"Authorization": f"Bearer {unsigned_jwt({**good, 'aud': 'other'})}"}),
        Call(2, headers={"Authorization": f"Bearer {unsigned_jwt({**good, 'exp': 1})}"}),
        Call(3, headers={"Authorization": f"Bearer {unsigned_jwt({**good, 'roles': 'guest'})}"}),
        Call(4),
    ]
    results, _, _ = run(policy, calls)
    assert [r.status for r in results] == [200, 401, 401, 401, 401]
    assert results[1].state.context.LastError.Message == "JWT audience is not allowed"  # type: ignore[union-attr]
    assert results[2].state.context.LastError.Message == "JWT has expired"  # type: ignore[union-attr]


def test_validate_azure_ad_token_tenant_and_client() -> None:
    policy = api_policy(
        '<validate-azure-ad-token tenant-id="tenant-1"><client-application-ids><application-id>app-1</application-id>'
        "</client-application-ids></validate-azure-ad-token>"
    )
    token = {"tid": "tenant-1", "appid": "app-1", "exp": 4102444800}
    calls = [
        Call(0, headers={"Authorization": f"Bearer {unsigned_jwt(token)}"}),
        Call(1, headers={"Authorization": f"Bearer {unsigned_jwt({**token, 'tid': 'x'})}"}),
        Call(2, headers={"Authorization": f"Bearer {unsigned_jwt({**token, 'appid': 'app-2'})}"}),
    ]
    assert [r.status for r in run(policy, calls)[0]] == [200, 401, 401]


def test_content_safety_blocks_flagged_prompts_before_the_backend() -> None:
    policy = api_policy(
        '<llm-content-safety backend-id="safety" shield-prompt="true"><categories><category name="Hate" threshold="4" /></categories></llm-content-safety>'
    )
    results, _, _ = run(policy, [Call(0), Call(1, flagged=True)])
    assert [r.status for r in results] == [200, 403]
    assert results[1].state.backend_calls == 0


def test_rewrite_uri_changes_the_forwarded_path() -> None:
    policy = api_policy('<rewrite-uri template="/v1/chat/completions" />')
    results, _, _ = run(policy, [Call(0)])
    assert results[0].state.context.Request.Url.Path == "/v1/chat/completions"


def test_the_portals_statement_ids_are_accepted_and_change_nothing() -> None:
    """An API imported in the portal carries ``id="apim-generated-policy"`` statements."""
    policy = api_policy(
        '<set-backend-service id="apim-generated-policy" backend-id="aoai" />'
        '<set-header id="apim-generated-policy" name="X-A" exists-action="override">'
        "<value>1</value></set-header>"
    )
    results, _, _ = run(policy, [Call(0)], backends=[single("aoai")])
    assert results[0].status == 200 and results[0].state.backend_used == "aoai"
    assert results[0].state.context.Request.Headers.GetValueOrDefault("X-A") == "1"
    with pytest.raises(PolicyConfigError, match="does not allow expressions"):
        run(api_policy('<set-header id="@(1)" name="X-A" />'), [Call(0)])


def test_set_header_actions_and_return_response() -> None:
    policy = api_policy(
        '<set-header name="X-A" exists-action="override"><value>1</value></set-header>'
        '<set-header name="X-A" exists-action="append"><value>2</value></set-header>'
        '<set-header name="X-A" exists-action="skip"><value>3</value></set-header>'
        '<set-variable name="a" value="@(context.Request.Headers.GetValueOrDefault(&quot;X-A&quot;, &quot;&quot;))" />'
        '<return-response><set-status code="418" reason="Teapot" /><set-header name="X-Echo" exists-action="override"><value>@((string)context.Variables[&quot;a&quot;])</value></set-header><set-body>short</set-body></return-response>'
    )
    results, _, _ = run(policy, [Call(0)])
    assert results[0].status == 418
    assert results[0].headers["X-Echo"] == ["1,2"]
    assert results[0].body == "short"
    assert results[0].state.backend_calls == 0


def test_token_limit_numbers_are_checked_when_built_or_when_evaluated() -> None:
    # A literal that is no number is refused before any traffic, with the policy's location;
    # an expression that gives no number fails its request, which on-error sees.
    with pytest.raises(
        PolicyConfigError, match="tokens-per-minute' must be a whole number"
    ) as error:
        run(
            api_policy('<llm-token-limit counter-key="k" tokens-per-minute="lots" />'),
            [],
        )
    assert error.value.location is not None and error.value.location.line == 1
    policy = api_policy(
        '<llm-token-limit counter-key="k" tokens-per-minute="@(&quot;many&quot;)" />'
    )
    results, _, _ = run(policy, [Call(0)])
    assert results[0].status == 500
    last_error = results[0].state.context.LastError
    assert last_error is not None and last_error.Reason == "ExpressionValueEvaluationFailure"
    assert "'many', not a whole number" in last_error.Message


def test_trace_records_its_source_and_message_per_request() -> None:
    policy = api_policy(
        '<trace source="gateway"><message>@("user " + context.User.Id)</message></trace>'
    )
    results, services, _ = run(policy, [Call(0), Call(1, user="bob")])
    assert [r.state.log_texts for r in results] == [["gateway: user alice"], ["gateway: user bob"]]
    assert services.log_records == {("trace", "gateway"): 2}
    untraced, services, _ = run(api_policy(""), [Call(0)])
    assert untraced[0].state.log_texts is None and not services.log_records


def test_trace_metadata_is_evaluated_and_a_failing_one_fails_the_request() -> None:
    # Learn: metadata name and value take expressions, so the gateway evaluates them
    traced = api_policy(
        '<trace source="costs" severity="information"><message>call</message>'
        '<metadata name="User" value="@(context.User.Id)" />'
        '<metadata name="@(&quot;Api&quot;)" value="openai" /></trace>'
    )
    results, _, _ = run(traced, [Call(0)])
    assert results[0].state.log_texts == ["costs: call {User=alice, Api=openai}"]
    failing = api_policy(
        '<trace source="costs"><message>call</message>'
        '<metadata name="Tokens" value="@(int.Parse(&quot;many&quot;).ToString())" /></trace>'
    )
    results, services, _ = run(failing, [Call(0)])
    assert results[0].status == 500
    assert results[0].state.error is not None
    assert results[0].state.error[0] == "ExpressionValueEvaluationFailure"
    assert not services.log_records


def test_trace_without_a_message_is_refused_where_it_stands() -> None:
    with pytest.raises(PolicyConfigError, match="<trace> needs <message>") as error:
        run(api_policy('<trace source="costs"><metadata name="a" value="b" /></trace>'), [])
    assert error.value.location is not None and error.value.location.line == 1


def test_log_to_eventhub_counts_records_per_logger_and_evaluates_the_partition_key() -> None:
    logged = api_policy(
        '<log-to-eventhub logger-id="usage" partition-key="@(context.User.Id)">'
        "@(context.User.Id + &quot; called&quot;)</log-to-eventhub>"
        '<log-to-eventhub logger-id="audit">audit</log-to-eventhub>'
    )
    results, services, _ = run(logged, [Call(0), Call(1, user="bob")])
    assert services.log_records == {("log-to-eventhub", "usage"): 2,
                                    ("log-to-eventhub", "audit"): 2}  # fmt: skip
    assert results[1].state.log_texts == ["usage: bob called", "audit: audit"]
    failing_key = api_policy(
        '<log-to-eventhub logger-id="usage" partition-key="@(context.Variables[&quot;none&quot;]'
        '.ToString())">x</log-to-eventhub>'
    )
    results, _, _ = run(failing_key, [Call(0)])
    assert results[0].status == 500


LIMITED_FORWARD = '<limit-concurrency key="@(context.Api.Id)" max-count="2"><forward-request /></limit-concurrency>'


def test_limit_concurrency_refuses_one_more_while_the_others_wait_on_the_backend() -> None:
    # each answer takes 0.2 s + 500 tokens x 10 ms = 5.2 s
    calls = [Call(0), Call(0), Call(0), Call(1), Call(6)]
    results, services, _ = run(api_policy(backend=LIMITED_FORWARD), calls)
    at_once = sorted(results[:3], key=lambda r: r.status)  # in the order they finished
    assert [r.status for r in at_once] + [r.status for r in results[3:]] == [
        200,
        200,
        429,
        429,
        200,
    ]
    refused = at_once[2].state
    assert refused.error == ("ConcurrencyLimitExceeded", "Concurrency limit is exceeded.")
    assert refused.backend_calls == 0 and results[3].state.backend_calls == 0
    assert services.node_counters[("concurrency", "openai")] == 0, "every slot was given back"


def test_limit_concurrency_gives_the_slot_back_however_the_policies_end() -> None:
    failing = (
        '<limit-concurrency key="k" max-count="1">'
        '<set-variable name="x" value="@(int.Parse(&quot;nope&quot;))" /></limit-concurrency>'
    )
    results, services, _ = run(api_policy(failing), [Call(0), Call(0), Call(0)])
    assert [r.status for r in results] == [500, 500, 500]
    assert {r.state.error[0] for r in results if r.state.error} == {
        "ExpressionValueEvaluationFailure"
    }
    assert services.node_counters[("concurrency", "k")] == 0


def test_limit_concurrency_needs_a_literal_count_of_at_least_one() -> None:
    for count in ('"0"', '"@(2)"', '"two"'):
        with pytest.raises(PolicyConfigError):
            run(api_policy(f'<limit-concurrency key="k" max-count={count} />'), [Call(0)])


def test_numeric_attributes_are_checked_when_built_and_when_evaluated() -> None:
    with pytest.raises(PolicyConfigError, match="'calls' must be a whole number, not 'ten'"):
        run(
            api_policy('<rate-limit-by-key calls="ten" renewal-period="60" counter-key="k" />'),
            [Call(0)],
        )
    policy = api_policy(
        '<rate-limit-by-key calls="@(&quot;ten&quot;)" renewal-period="60" counter-key="k" />'
    )
    results, _, _ = run(policy, [Call(0)])
    assert results[0].status == 500
    assert results[0].state.error == (
        "ExpressionValueEvaluationFailure",
        "<rate-limit-by-key> calls gave 'ten', not a whole number",
    )
    bad_status = api_policy(
        '<return-response><set-status code="@(&quot;x&quot;)" reason="r" /></return-response>'
    )
    results, _, _ = run(bad_status, [Call(0)])
    assert results[0].state.error == (
        "ExpressionValueEvaluationFailure",
        "<set-status> code gave 'x', not an HTTP status",
    )


def test_an_expression_failing_at_run_time_is_named_by_its_policy_and_place() -> None:
    # An int kept in a variable and cast to string: C# throws, and the summary should say
    # which of many expressions did, without repeating a whole @{ } block.
    policy = api_policy(
        '<set-variable name="left" value="@(3)" />\n'
        '<set-header name="x-left" exists-action="override">\n'
        '<value>@(((string)context.Variables["left"]).PadLeft(40, (char)48) + "-and-some-more")</value>'
        "</set-header>"
    )
    results, _, _ = run(policy, [Call(0)])
    assert results[0].status == 500
    reason, message = results[0].state.error
    assert reason == "ExpressionValueEvaluationFailure"
    assert message.startswith(
        "InvalidCastException: Unable to cast object of type 'System.Int32' to type "
        "'System.String'. in @(((string)"
    )
    assert message.endswith("… (<value> at api.xml:3:1)")
    unsupported = api_policy('<set-variable name="t" value="@(context.Variables.GetType())" />')
    results, _, _ = run(unsupported, [Call(0)])
    assert results[0].state.error == (
        "SimulatorUnsupported",
        "unsupported in the simulator: IReadOnlyDictionary<string, object>.GetType() (at 1:19) "
        "in @(context.Variables.GetType()) (<set-variable value> at api.xml:1:28)",
    )


def test_set_backend_service_points_the_request_url_at_the_backend() -> None:
    from apimgen.simulate.context import Request

    request = Request(url="https://gw.example/openai/deployments/gpt-4o/chat?api-version=1")
    request.Url.Query._set("trace", ["on"])  # a set-query-parameter before routing stays
    request.route_to("https://aoai-eu.example/openai/", "openai")
    assert request.Url.ToString() == (
        "https://aoai-eu.example/openai/deployments/gpt-4o/chat?api-version=1&trace=on"
    )
    assert request.Url.Query.GetValueOrDefault("trace") == "on"
    request.route_to("https://aoai-us.example:8443", "openai")  # again, as a retry does
    assert (request.Url.Host, request.Url.Port, request.Url.Path) == (
        "aoai-us.example",
        8443,
        "/deployments/gpt-4o/chat",
    )
    assert request.OriginalUrl.Host == "gw.example", "OriginalUrl keeps the caller's"


def test_a_policy_reads_the_backend_it_routed_to_from_the_request_url() -> None:
    # Microsoft's back-end redundancy snippet: after a 404, route to the region the URL is
    # not in. Its test of the status matters: the response is never null in the retry.
    backend = (
        '<retry condition="@(context.Response.StatusCode == 404)" count="1" interval="0">'
        '<choose><when condition="@(context.Response != null &amp;&amp; '
        'context.Response.StatusCode == 404)">'
        '<set-backend-service base-url="@(context.Request.Url.Host.StartsWith(&quot;eu.&quot;)'
        ' ? &quot;https://us.example&quot; : &quot;https://eu.example&quot;)" />'
        '</when></choose><forward-request buffer-request-body="true" /></retry>'
    )
    policy = api_policy(
        '<set-backend-service base-url="https://eu.example" />',
        backend=backend,
        outbound='<base /><set-header name="x-served-from" exists-action="override">'
        "<value>@(context.Request.Url.Host)</value></set-header>",
    )
    from apimgen.simulate.backends import Outage

    eu = single("eu", outages=(Outage(0, 100, 404),))
    urls = {"eu": "https://eu.example", "us": "https://us.example"}
    results, services, _ = run(policy, [Call(0)], backends=[eu, single("us")], urls=urls)
    assert results[0].status == 200
    assert results[0].headers["x-served-from"] == ["us.example"]
    assert [services.backends.singles[name].deployment.calls for name in ("eu", "us")] == [1, 1]


ON_ERROR_SAYS_WHY = (
    '<base /><set-header name="x-why" exists-action="override">'
    "<value>@(context.LastError.Reason)</value></set-header>"
)


@pytest.mark.parametrize(
    ("rule", "status", "why"),
    [
        ('action="allow"><address>203.0.113.10</address>', 200, None),
        (
            'action="allow"><address-range from="10.0.0.0" to="10.255.255.255" />',
            403,
            "CallerIpNotAllowed",
        ),
        (
            'action="forbid"><address-range from="203.0.113.0" to="203.0.113.255" />',
            403,
            "CallerIpBlocked",
        ),
        (
            'action="@(&quot;forbid&quot;)"><address>@(&quot;198.51.100.1&quot;)</address>',
            200,
            None,
        ),
    ],
)
def test_ip_filter_lets_in_or_keeps_out_the_listed_callers(
    rule: str, status: int, why: str | None
) -> None:
    # The harness's callers come from 203.0.113.10.
    policy = api_policy(f"<ip-filter {rule}</ip-filter>", on_error=ON_ERROR_SAYS_WHY)
    results, _, _ = run(policy, [Call(0)])
    assert results[0].status == status
    assert results[0].headers.get("x-why") == ([why] if why else None)
    assert results[0].state.backend_calls == (1 if status == 200 else 0)


def test_ip_filter_refuses_what_apim_would_not_save() -> None:
    for rule in (
        'action="allow" />',
        'action="allow"><address-range from="10.0.0.9" to="10.0.0.1" /></ip-filter>',
        'action="allow"><address-range from="10.0.0.1" to="::1" /></ip-filter>',
        'action="deny"><address>10.0.0.1</address></ip-filter>',
    ):
        with pytest.raises(PolicyConfigError):
            run(api_policy(f"<ip-filter {rule}"), [Call(0)])


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "HeaderNotFound"),
        ({"x-app": "payroll"}, "HeaderValueNotAllowed"),
        ({"x-app": "BILLING"}, None),
    ],
)
def test_a_failed_check_header_goes_to_on_error_with_its_status(
    headers: dict[str, str], why: str | None
) -> None:
    check = (
        '<check-header name="x-app" failed-check-httpcode="401" '
        'failed-check-error-message="unknown app" ignore-case="true"><value>billing</value>'
        "</check-header>"
    )
    results, _, _ = run(api_policy(check, on_error=ON_ERROR_SAYS_WHY), [Call(0, headers=headers)])
    assert results[0].status == (401 if why else 200)
    assert results[0].headers.get("x-why") == ([why] if why else None)
    if why:
        assert "unknown app" in (results[0].body or "")


def test_find_and_replace_rewrites_the_body_of_its_side() -> None:
    policy = api_policy(
        '<find-and-replace from="hi" to="hello there" />',
        outbound='<base /><find-and-replace from="chatcmpl-" to="" />'
        '<find-and-replace from="@(&quot;assistant&quot;)" to="@(&quot;bot&quot;)" />',
    )
    results, _, _ = run(policy, [Call(0)])
    assert '"content": "hello there"' in results[0].state.context.Request.Body.text
    answer = results[0].body or ""
    assert '"id": "req-0"' in answer and '"role": "bot"' in answer


def test_rewrite_uri_fills_template_parameters_and_keeps_the_callers_other_query() -> None:
    show = (
        '<set-header name="x-url" exists-action="override">'
        "<value>@(context.Request.Url.ToString())</value></set-header>"
    )
    before = api_policy(
        '<set-query-parameter name="trace" exists-action="override"><value>on</value>'
        "</set-query-parameter>"
        '<rewrite-uri template="/deployments/{deployment-id}/chat/completions?api-version=2024-10-21" />'
        '<set-backend-service backend-id="aoai" />' + show
    )
    call = Call(
        0,
        url="https://gw.example/deployments/gpt-4o/chat?api-version=1&user=7",
        matched={"deployment-id": "gpt-4o"},
    )
    results, _, _ = run(before, [call], urls={"aoai": "https://aoai.example/openai"})
    # the template's api-version wins; the caller's other parameters follow (copy-unmatched)
    assert results[0].state.context.Request.Headers.GetValueOrDefault("x-url") == (
        "https://aoai.example/openai/deployments/gpt-4o/chat/completions"
        "?api-version=2024-10-21&user=7&trace=on"
    )
    # after set-backend-service the template is under the backend's path all the same, and
    # copy-unmatched-params="false" drops the caller's parameters
    after = api_policy(
        '<set-backend-service backend-id="aoai" />'
        '<rewrite-uri template="/deployments/{deployment-id}/embeddings" '
        'copy-unmatched-params="false" />' + show
    )
    results, _, _ = run(after, [call], urls={"aoai": "https://aoai.example/openai"})
    assert results[0].state.context.Request.Headers.GetValueOrDefault("x-url") == (
        "https://aoai.example/openai/deployments/gpt-4o/embeddings"
    )


def test_last_error_names_the_failing_policy_by_its_id() -> None:
    # Learn: LastError.PolicyId is the id attribute of the policy where the error occurred.
    policy = api_policy(
        '<rate-limit id="burst" calls="1" renewal-period="60" />',
        on_error='<base /><set-header name="x-where" exists-action="override"><value>@('
        "context.LastError.Source + &quot;/&quot; + context.LastError.PolicyId + &quot;/&quot; "
        "+ context.LastError.Section)</value></set-header>",
    )
    results, _, _ = run(policy, [Call(0), Call(1)])
    assert [r.status for r in results] == [200, 429]
    assert results[1].headers["x-where"] == ["rate-limit/burst/inbound"]
    unnamed, _, _ = run(policy.replace(' id="burst"', ""), [Call(0), Call(1)])
    assert unnamed[1].headers["x-where"] == ["rate-limit//inbound"]
