"""authentication-basic and authentication-certificate, as their Learn pages describe them."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from apimgen.simulate.policy.handlers.base import PolicyConfigError
from tests.conftest import run_cli
from tests.simulate.harness import Call, api_policy, run


def test_basic_authentication_sends_the_encoded_credentials() -> None:
    policy = api_policy(
        '<authentication-basic username="gateway" '
        'password="@(context.Subscription.Id + &quot;:secret&quot;)" />'
    )
    results, _, _ = run(policy, [Call(0, headers={"Authorization": "Bearer caller"})])
    sent = results[0].state.context.Request.Headers.plain()["Authorization"]
    assert sent == ["Basic " + base64.b64encode(b"gateway:sub-alice:secret").decode()]
    assert results[0].status == 200


def test_lint_holds_basic_authentication_to_once_per_section(tmp_path: Path) -> None:
    twice = '<authentication-basic username="a" password="b" />' * 2
    policy = tmp_path / "global.xml"
    policy.write_text(
        f"<policies><inbound>{twice}</inbound><backend><forward-request /></backend>"
        "<outbound /><on-error /></policies>"
    )
    findings = json.loads(run_cli("lint", str(policy), "--json").stdout)["findings"]
    assert [f["rule"] for f in findings] == ["APIM006"]


def test_a_certificate_evaluates_its_expressions_and_changes_nothing_else() -> None:
    by_id = api_policy('<authentication-certificate certificate-id="backend-client" />')
    results, _, _ = run(by_id, [Call(0)])
    assert results[0].status == 200
    assert "Authorization" not in results[0].state.context.Request.Headers.plain()
    failing = api_policy(
        '<authentication-certificate thumbprint="@(context.Variables[&quot;missing&quot;])" />',
        on_error='<set-header name="x-reason" exists-action="override">'
        "<value>@(context.LastError.Reason)</value></set-header>",
    )
    results, _, _ = run(failing, [Call(0)])
    assert results[0].status == 500 and results[0].state.backend_calls == 0
    assert results[0].headers["x-reason"] == ["ExpressionValueEvaluationFailure"]


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ("", "exactly one of thumbprint, certificate-id or body"),
        ('thumbprint="AB" certificate-id="c"', "exactly one of .*, not 2"),
        ('thumbprint="AB" password="p"', "password protects a certificate given as body"),
    ],
)
def test_a_certificate_needs_one_way_to_find_it(attributes: str, message: str) -> None:
    with pytest.raises(PolicyConfigError, match=message):
        run(api_policy(f"<authentication-certificate {attributes} />"), [Call(0)])
