"""set-status, set-method and cors, as their Learn pages describe them."""

from __future__ import annotations

import pytest

from apimgen.simulate.policy.handlers.base import PolicyConfigError
from tests.simulate.harness import Call, api_policy, run

CORS = (
    '<cors allow-credentials="{credentials}">'
    "<allowed-origins><origin>{origin}</origin></allowed-origins>"
    "<allowed-methods><method>POST</method></allowed-methods>"
    "<allowed-headers><header>*</header></allowed-headers>"
    "<expose-headers><header>x-ratelimit-remaining-tokens</header></expose-headers>"
    "</cors>"
)


def _cors(origin: str = "https://app.contoso.example", credentials: str = "false") -> str:
    return api_policy(CORS.format(origin=origin, credentials=credentials))


def test_an_allowed_origin_gets_cors_headers_on_the_answer() -> None:
    results, _, _ = run(_cors(), [Call(0, headers={"Origin": "https://app.contoso.example"})])
    headers = results[0].headers
    assert results[0].status == 200
    assert headers["Access-Control-Allow-Origin"] == ["https://app.contoso.example"]
    assert headers["Access-Control-Expose-Headers"] == ["x-ratelimit-remaining-tokens"]
    assert "Access-Control-Allow-Credentials" not in headers


def test_credentials_name_the_origin_even_when_any_origin_may_call() -> None:
    origin = {"Origin": "https://elsewhere.example"}
    anyone, _, _ = run(_cors("*"), [Call(0, headers=origin)])
    assert anyone[0].headers["Access-Control-Allow-Origin"] == ["*"]
    credentialed, _, _ = run(_cors("*", "true"), [Call(0, headers=origin)])
    assert credentialed[0].headers["Access-Control-Allow-Origin"] == ["https://elsewhere.example"]
    assert credentialed[0].headers["Access-Control-Allow-Credentials"] == ["true"]


def test_calls_without_an_allowed_origin_get_no_cors_headers_but_an_answer() -> None:
    results, _, _ = run(_cors(), [Call(0), Call(1, headers={"Origin": "https://evil.example"})])
    for result in results:
        assert result.status == 200 and result.state.backend_calls == 1
        assert not any(name.startswith("Access-Control") for name in result.headers)


def test_an_unmatched_get_ends_with_an_empty_200_before_the_backend() -> None:
    policy = api_policy(
        "<set-method>GET</set-method>"
        + CORS.format(origin="https://app.contoso.example", credentials="false")
    )
    results, _, _ = run(policy, [Call(0, headers={"Origin": "https://evil.example"})])
    assert results[0].status == 200 and results[0].state.backend_calls == 0
    assert results[0].state.context.Request.Method == "GET"


def test_cors_needs_its_origins() -> None:
    with pytest.raises(PolicyConfigError, match="allowed-origins"):
        run(api_policy("<cors><allowed-methods /></cors>"), [Call(0)])


def test_set_status_changes_the_answer_in_outbound_and_on_error() -> None:
    results, _, _ = run(
        api_policy(outbound='<base /><set-status code="202" reason="Accepted" />'), [Call(0)]
    )
    assert (results[0].status, results[0].state.context.Response.StatusReason) == (202, "Accepted")
    refused = api_policy(
        '<llm-token-limit counter-key="k" tokens-per-minute="1" estimate-prompt-tokens="true" />',
        on_error='<set-status code="@(context.Response.StatusCode + 1)" reason="Busy" />',
    )
    results, _, _ = run(refused, [Call(0)])
    assert results[0].status == 430


def test_set_status_checks_its_code() -> None:
    with pytest.raises(PolicyConfigError, match="100 to 599"):
        run(api_policy(outbound='<set-status code="ok" reason="x" />'), [Call(0)])
    with pytest.raises(PolicyConfigError, match="needs the attribute 'reason'"):
        run(api_policy(outbound='<set-status code="200" />'), [Call(0)])
    results, _, _ = run(
        api_policy(outbound='<set-status code="@(&quot;x&quot;)" reason="y" />'), [Call(0)]
    )
    assert results[0].status == 500
    assert results[0].state.error == (
        "ExpressionValueEvaluationFailure",
        "<set-status> code gave 'x', not an HTTP status",
    )


def test_set_method_is_what_expressions_see_and_needs_a_method() -> None:
    policy = api_policy(
        '<set-method>@("put")</set-method>'
        '<set-variable name="m" value="@(context.Request.Method)" />'
    )
    results, _, _ = run(policy, [Call(0)])
    assert results[0].state.context.Variables.values["m"] == "PUT"
    with pytest.raises(PolicyConfigError, match="holds the method"):
        run(api_policy("<set-method />"), [Call(0)])
    with pytest.raises(PolicyConfigError, match="not allowed in the outbound section"):
        run(api_policy(outbound="<set-method>GET</set-method>"), [Call(0)])
