"""Expressions that read only the caller's parts of the context are evaluated once per caller:
which ones qualify, and that remembering them never changes a value."""

from __future__ import annotations

from typing import Any

import pytest

from apimgen.simulate.context import Context, Request, Subscription
from apimgen.simulate.expr import compiler
from apimgen.simulate.expr.compiler import compile_expression
from apimgen.simulate.expr.statics import static_types
from apimgen.simulate.expr.values import to_plain
from tests.simulate.expr.test_corpus import CORPUS, NOW, build_context

STATICS = static_types(lambda: NOW, lambda: "00000000-0000-0000-0000-000000000001")


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ('@(context.Subscription?.Id ?? "anonymous")', ("Subscription",)),
        ("@(context.Subscription.Id + context.Api.Id)", ("Api", "Subscription")),
        ("@(context.Product?.Name.ToLower())", ("Product",)),
        ('@(context.User.Id == "alice" ? "a" : "b")', ("User",)),
        ('@($"{context.Deployment.Region}-{context.Operation.Id}")', ("Deployment", "Operation")),
        ('@("constant")', ()),
        ("@(context.Subscription.Id.Length)", ("Subscription",)),
    ],
)
def test_caller_only_expressions_are_remembered(text: str, parts: tuple[str, ...]) -> None:
    assert compile_expression(text).caller_parts == parts


@pytest.mark.parametrize(
    "text",
    [
        '@(context.Request.Headers.GetValueOrDefault("x-user", ""))',  # per request
        '@(context.Variables.GetValueOrDefault<string>("tier"))',  # set by policies
        "@(context.Subscription.Id + DateTime.UtcNow.ToString())",  # time moves
        "@(context.RequestId)",
        "@(context.User.Groups.Select(g => g.Id).FirstOrDefault())",  # lambdas are not vetted
        "@(context.Subscription.Id.Split('-')[0])",  # indexing and unvetted methods
        "@{ return context.Subscription.Id; }",  # blocks may declare and assign
        "@(Guid.NewGuid().ToString())",
        "@(context.Subscription.Id as string)",
    ],
)
def test_expressions_reading_more_than_the_caller_are_not(text: str) -> None:
    assert compile_expression(text).caller_parts is None


def _remembered_cases() -> list[dict[str, Any]]:
    return [
        case
        for case in CORPUS["cases"]
        if "unsupported" not in case and compile_expression(case["expr"]).caller_parts is not None
    ]


def test_the_corpus_has_remembered_expressions() -> None:
    assert len(_remembered_cases()) >= 10


@pytest.mark.parametrize("case", _remembered_cases(), ids=lambda case: case["expr"][:60])
def test_remembering_gives_what_evaluating_gives(case: dict[str, Any]) -> None:
    """Differential: a first and a remembered second evaluation both match a plain one."""
    compiled = compile_expression(case["expr"])
    context = build_context(case.get("context", {}))

    def outcome(run: Any) -> Any:
        try:
            return to_plain(run(context, STATICS))
        except Exception as error:
            return type(error), str(error)

    plain = outcome(compiled._evaluate)
    assert outcome(compiled.evaluate) == plain
    assert outcome(compiled.evaluate) == plain


def _context(subscription: Subscription | None) -> Context:
    return Context(Request=Request(), Subscription=subscription)


def test_each_caller_gets_its_own_value() -> None:
    compiled = compile_expression('@(context.Subscription?.Id ?? "anonymous")')
    alice, bob = Subscription(Id="alice"), Subscription(Id="bob")
    values = [compiled.evaluate(_context(s), STATICS) for s in (alice, bob, None, alice, bob)]
    assert values == ["alice", "bob", "anonymous", "alice", "bob"]


def test_callers_with_equal_fields_are_still_told_apart() -> None:
    """Parts hash by identity: two subscriptions with the same fields are two callers."""
    first, second = Subscription(Id="same"), Subscription(Id="same")
    assert first != second and hash(first) != hash(second)


def test_a_mutable_value_is_evaluated_anew_each_time() -> None:
    compiled = compile_expression("@(context.User)")
    context = build_context({})
    assert compiled.caller_parts == ("User",)
    compiled.evaluate(context, STATICS)
    assert compiled._memo == {}


def test_the_memo_starts_afresh_past_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiler, "MAX_REMEMBERED_CALLERS", 3)
    compiled = compile_expression("@(context.Subscription.Id)")
    callers = [Subscription(Id=f"s{n}") for n in range(5)]
    assert [compiled.evaluate(_context(s), STATICS) for s in callers] == [f"s{n}" for n in range(5)]
    assert len(compiled._memo) <= 3
