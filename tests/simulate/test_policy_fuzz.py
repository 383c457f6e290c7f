"""Every simulated policy with each attribute set to odd values: the build refuses it with a
located error, or the requests run to an answer. A Python exception escaping (a ValueError from
a number that is not one, an IndexError from an empty window) is the failure this looks for:
it would stop a whole simulation with a traceback."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

import pytest

from apimgen.simulate.policy.handlers.base import (
    COMMON_ATTRIBUTES,
    Attribute,
    PolicyConfigError,
    registry,
)
from apimgen.simulate.policy.reader import PolicyReadError
from tests.simulate.harness import Call, api_policy, run

ODD_VALUES = (
    "", "abc", "-1", "0", "1.5", "99999999999999999999", "@(null)", '@("x")', "@(1)", "@(-5)",
    "@(true)", "@(1.5)", "@(context.Foo)", "@(context.Request.Body)", "true", "Daily", "*",
    "@(context.Request.Body.As<string>())",
)  # fmt: skip

_SECTIONS = {
    "inbound": "inbound",
    "backend": "backend",
    "outbound": "outbound",
    "on-error": "on_error",
}


def _sane(attribute: Attribute) -> str:
    if attribute.choices:
        return attribute.choices[0]
    if attribute.kind != "text":
        return "1"
    return attribute.default if attribute.default is not None else "k"


def _policy(name: str, attributes: dict[str, str], section: str) -> str:
    element = f"<{name} " + " ".join(f"{k}={quoteattr(v)}" for k, v in attributes.items()) + " />"
    key = _SECTIONS[section]
    sections = {
        "inbound": "",
        "backend": "<base />",
        "outbound": "<base />",
        "on_error": "<base />",
    }
    sections[key] = {
        "inbound": element,
        "backend": element + "<forward-request />",
    }.get(key, "<base />" + element)
    return api_policy(**sections)


@pytest.mark.parametrize("name", sorted(registry()))
def test_odd_attribute_values_are_refused_or_run_never_crash(name: str) -> None:
    handler = registry()[name]
    section = "inbound" if "inbound" in handler.sections else handler.sections[0]
    ran = 0
    for target in (*handler.attributes, *COMMON_ATTRIBUTES):
        for value in ODD_VALUES:
            attributes = {a.name: _sane(a) for a in handler.attributes if a.required}
            attributes[target.name] = value
            try:
                results, _, _ = run(_policy(name, attributes, section), [Call(0), Call(1)])
            except (PolicyConfigError, PolicyReadError):
                continue
            assert len(results) == 2
            ran += 1
    try:
        run(
            _policy(name, {a.name: _sane(a) for a in handler.attributes if a.required}, section), []
        )
    except PolicyConfigError:
        return  # it needs child elements to build at all (dimensions, origins, periods)
    assert ran, "some odd values are valid for this policy and must run"
