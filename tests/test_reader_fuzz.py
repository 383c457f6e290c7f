"""Fuzzing the readers hostile files reach: YAML with anchors and aliases, policy XML nested at
random, expressions, and saved plans. Each input either loads, within the limits, or ends in
the reader's own located error — never another exception — and every example is held to a
deadline, so an input that makes a reader slow fails as surely as one that crashes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apimgen.deploy.plan import load_plan
from apimgen.errors import ApimgenError, InputError, SpecError
from apimgen.limits import EXPRESSION_MAX_DEPTH, POLICY_MAX_DEPTH, YAML_MAX_DEPTH, YAML_MAX_NODES
from apimgen.simulate.expr.parser import ExpressionSyntaxError, parse_expression
from apimgen.simulate.policy.reader import PolicyElement, PolicyReadError, read_policy
from apimgen.spec.yaml_source import parse_yaml

FUZZ = settings(
    max_examples=150,
    deadline=3000,  # milliseconds per example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- YAML with anchors and aliases ----------------------------------------------------------------

_SCALARS = st.sampled_from(["1", "x", "'a b'", "true", "null", "2026-01-05", "-7.5", '"q"'])


@st.composite
def yaml_with_aliases(draw: st.DrawFn) -> str:
    """Top-level keys, each a flow value that may alias any earlier key's anchor, sometimes
    many times over: from ordinary reuse up to exponential blow-ups."""
    lines: list[str] = []
    for index in range(draw(st.integers(1, 12))):
        earlier = [f"*k{i}" for i in range(index)]

        def leaf(earlier: list[str] = earlier) -> st.SearchStrategy[str]:
            return st.one_of(_SCALARS, st.sampled_from(earlier)) if earlier else _SCALARS

        value = draw(
            st.recursive(
                leaf(),
                lambda inner: st.one_of(
                    st.lists(inner, max_size=10).map(lambda items: "[" + ", ".join(items) + "]"),
                    st.lists(inner, max_size=6).map(
                        lambda items: (
                            "{" + ", ".join(f"f{n}: {item}" for n, item in enumerate(items)) + "}"
                        )
                    ),
                ),
                max_leaves=40,
            )
        )
        merge = draw(st.booleans()) and index > 0 and value.startswith("{")
        if merge:
            value = "{<<: *k" + str(draw(st.integers(0, index - 1))) + ", " + value[1:]
        lines.append(f"k{index}: &k{index} {value}")
    return "\n".join(lines) + "\n"


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@settings(FUZZ, max_examples=60)
@given(yaml_with_aliases())
def test_yaml_with_aliases_loads_within_the_limits_or_is_refused(text: str) -> None:
    try:
        source = parse_yaml(text, "fuzz.yaml")
    except SpecError as error:
        assert error.diagnostics, "a refusal names where"
        for diagnostic in error.diagnostics:
            assert diagnostic.location.file == "fuzz.yaml"
            assert diagnostic.location.line >= 1
        return
    assert len(source.value_positions) <= YAML_MAX_NODES
    assert _depth(source.data) <= YAML_MAX_DEPTH


@FUZZ
@given(st.text(alphabet=st.sampled_from("[]{}:,-&*<>!|'\"#\n ab01"), max_size=400))
def test_arbitrary_yaml_punctuation_loads_or_is_a_located_error(text: str) -> None:
    try:
        parse_yaml(text, "fuzz.yaml")
    except (SpecError, InputError) as error:
        assert error.diagnostics[0].location.file == "fuzz.yaml"


# -- policy XML -----------------------------------------------------------------------------------

_NAMES = st.sampled_from(["choose", "when", "otherwise", "set-variable", "retry", "x", "base"])


@st.composite
def nested_policy(draw: st.DrawFn) -> str:
    """A policy whose inbound holds a chain of elements nested to a random depth, some with
    attributes and expressions, sometimes well past the limit."""
    depth = draw(st.integers(0, POLICY_MAX_DEPTH * 3))
    names = [draw(_NAMES) for _ in range(depth)]
    attributes = [
        draw(st.sampled_from(["", ' condition="@(true)"', ' name="v" value="@(1 + 2)"', " a=''"]))
        for _ in range(depth)
    ]
    opening = "".join(f"<{n}{a}>" for n, a in zip(names, attributes, strict=True))
    closing = "".join(f"</{n}>" for n in reversed(names))
    return f"<policies><inbound>{opening}{closing}</inbound></policies>"


def _element_depth(element: PolicyElement) -> int:
    return 1 + max((_element_depth(child) for child in element.children), default=0)


@FUZZ
@given(nested_policy())
def test_nested_policy_xml_reads_within_the_limit_or_is_a_located_error(text: str) -> None:
    try:
        root = read_policy(text, "fuzz.xml")
    except PolicyReadError as error:
        assert error.location is not None and error.location.file == "fuzz.xml"
        return
    assert _element_depth(root) <= POLICY_MAX_DEPTH


@FUZZ
@given(st.text(alphabet=st.sampled_from('<>/="@(){}&; abpolicies\n'), max_size=300))
def test_arbitrary_policy_text_reads_or_is_a_located_error(text: str) -> None:
    try:
        read_policy(text, "fuzz.xml")
    except PolicyReadError as error:
        assert error.location is not None


_WRAPPERS = (
    "({})", "-{}", "{} + 1", "x ?? {}", "a ? {} : b", "Math.Abs({})", "new[] {{ {} }}",
    '{}.ToString()', "(string){}", "!{}",
)  # fmt: skip


@settings(FUZZ, max_examples=60)
@given(st.lists(st.sampled_from(_WRAPPERS), max_size=EXPRESSION_MAX_DEPTH * 2))
def test_nested_expressions_parse_or_are_a_located_syntax_error(wrappers: list[str]) -> None:
    body = "1"
    for wrapper in wrappers:
        body = wrapper.format(body)
    try:
        parse_expression(f"@({body})")
    except ExpressionSyntaxError as error:
        assert error.line >= 1 and error.column >= 1


# -- saved plans ----------------------------------------------------------------------------------

_VALID_PLAN: dict[str, Any] = {
    "format": "apimgen.plan/v1",
    "target": {
        "subscription_id": "0",
        "resource_group": "rg",
        "service": "s",
        "cloud": "AzureCloud",
        "arm_endpoint": None,
    },
    "spec": "gateway.yaml",
    "environment": None,
    "prune": False,
    "summary": {"create": 1, "update": 0, "delete": 0},
    "changes": [
        {
            "path": "namedValues/x",
            "kind": "namedValues",
            "action": "create",
            "adopt": False,
            "differences": [],
            "policy_diff": None,
            "properties": {"displayName": "x"},
        }
    ],
    "orphans": [],
    "unmanaged": [],
    "outside": [],
    "live": {},
}

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def damaged_plans(draw: st.DrawFn) -> Any:
    """A valid plan with one value, anywhere in it, replaced by arbitrary JSON."""
    plan = json.loads(json.dumps(_VALID_PLAN))
    container: Any = plan
    while True:
        keys = list(container) if isinstance(container, dict) else list(range(len(container)))
        if not keys:
            return plan
        key = draw(st.sampled_from(keys))
        child = container[key]
        if isinstance(child, dict | list) and child and draw(st.booleans()):
            container = child
            continue
        container[key] = draw(_JSON)
        return plan


def test_the_undamaged_plan_loads(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(_VALID_PLAN))
    assert load_plan(path).changes[0].path == "namedValues/x"


def test_a_damaged_plan_names_what_is_wrong(tmp_path: Path) -> None:
    """The fuzzer's first find: a change whose path is null ended in AttributeError."""
    document = json.loads(json.dumps(_VALID_PLAN))
    document["changes"][0]["path"] = None
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ApimgenError) as error:
        load_plan(path)
    assert "the plan file is damaged (['changes'][0]['path']: None is not of type 'string')" in (
        error.value.message
    )


@FUZZ
@given(damaged_plans() | _JSON)
def test_a_damaged_plan_loads_or_is_refused_by_name(tmp_path: Path, document: Any) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    try:
        load_plan(path)
    except ApimgenError as error:
        assert str(path) in error.message
