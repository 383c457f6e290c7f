"""The expression corpus: each row runs against its context and gives APIM's answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from apimgen.simulate.context import Api, Context, Operation, Product, Request, Subscription, User
from apimgen.simulate.expr.compiler import compile_expression
from apimgen.simulate.expr.errors import ExpressionRuntimeError, ExpressionUnsupportedError
from apimgen.simulate.expr.statics import static_types
from apimgen.simulate.expr.values import to_plain

CORPUS = yaml.safe_load((Path(__file__).parent / "corpus.yaml").read_text())
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def build_context(overrides: dict[str, Any]) -> Context:
    data = {**CORPUS["defaults"], **overrides}
    body = data["body"]
    request = Request(
        url=data["url"],
        headers=data["headers"],
        IpAddress=data["ip"],
        body_text=body if isinstance(body, str) else json.dumps(body),
        matched=data["matched"],
    )
    context = Context(
        Request=request,
        Subscription=Subscription(**data["subscription"]) if data["subscription"] else None,
        Product=Product(**data["product"]) if data["product"] else None,
        User=User(**data["user"]) if data["user"] else None,
        Api=Api(Id="openai", Name="openai", Path="openai"),
        Operation=Operation(Id="chat-completions", Name="chat", Method="POST"),
        Timestamp=NOW,
    )
    context.Variables.values.update(data["variables"])
    return context


def _case_id(case: dict[str, Any]) -> str:
    return " ".join(case["expr"].split())[:70]


@pytest.mark.parametrize("case", CORPUS["cases"], ids=_case_id)
def test_expression(case: dict[str, Any]) -> None:
    outcomes = {"expect", "error", "unsupported"} & set(case)
    assert len(outcomes) == 1, "each row names exactly one outcome"
    context = build_context(case.get("context", {}))
    statics = static_types(lambda: NOW, lambda: "00000000-0000-0000-0000-000000000001")
    if "unsupported" in case:
        with pytest.raises(ExpressionUnsupportedError) as unsupported:
            compile_expression(case["expr"]).evaluate(context, statics)
        assert case["unsupported"] in str(unsupported.value)
        return
    compiled = compile_expression(case["expr"])
    if "error" in case:
        with pytest.raises(ExpressionRuntimeError) as error:
            compiled.evaluate(context, statics)
        assert error.value.kind == case["error"]
        return
    result = to_plain(compiled.evaluate(context, statics))
    assert result == case["expect"]
    assert type(result) is type(case["expect"]) or case["expect"] is None


def test_corpus_is_broad() -> None:
    assert len(CORPUS["cases"]) >= 100


@pytest.mark.parametrize(
    "text",
    [
        "@{ break; return 1; }",
        "@{ if (true) { continue; } return 1; }",
        "@{ switch (1) { case 1: continue; } return 1; }",  # a switch takes break, not continue
    ],
)
def test_break_and_continue_outside_a_loop_do_not_compile(text: str) -> None:
    from apimgen.simulate.expr.parser import ExpressionSyntaxError

    with pytest.raises(ExpressionSyntaxError, match="no enclosing loop") as error:
        compile_expression(text)
    assert text[error.value.column - 1 :].startswith(("break", "continue")), "points at it"
    compile_expression("@{ foreach (var h in context.Request.Headers) { break; } return 1; }")


def test_a_rethrow_outside_a_catch_does_not_compile() -> None:
    from apimgen.simulate.expr.parser import ExpressionSyntaxError

    with pytest.raises(ExpressionSyntaxError, match="nothing to rethrow") as error:
        compile_expression("@{ if (true) { throw; } return 1; }")
    assert (error.value.line, error.value.column) == (1, 16)
    compile_expression("@{ try { return 1; } catch { throw; } }")


@pytest.mark.parametrize(
    ("text", "position"),
    [("@(context.Subscription.Id", (1, 26)), ("@{\n  return 1;\n", (2, 12)), ("@(1) + 1", (1, 9))],
)
def test_an_expression_that_is_not_closed_is_refused_not_read_as_text(
    text: str, position: tuple[int, int]
) -> None:
    from apimgen.simulate.expr.parser import ExpressionSyntaxError, is_expression

    assert is_expression(text)
    with pytest.raises(ExpressionSyntaxError, match="not closed") as error:
        compile_expression(text)
    assert (error.value.line, error.value.column) == position
    assert not is_expression("user@(example).com")  # only a leading @( or @{ starts one


def test_a_string_in_single_quotes_is_refused_with_the_reason() -> None:
    from apimgen.simulate.expr.parser import ExpressionSyntaxError

    with pytest.raises(ExpressionSyntaxError, match="C# strings take double quotes") as error:
        compile_expression("@(context.Request.Headers.GetValueOrDefault('Authorization','anon'))")
    assert (error.value.line, error.value.column) == (1, 45)
    assert compile_expression("@(\"ab\"[0] == 'a')").evaluate(None, {}) is True


def test_a_string_broken_across_lines_says_why() -> None:
    from apimgen.simulate.expr.parser import ExpressionSyntaxError

    # &#xD;&#xA; in an attribute is a real line break once the XML is read
    with pytest.raises(ExpressionSyntaxError, match="C# strings cannot span lines"):
        compile_expression('@(context.Request.Method + "\r\n")')
    assert compile_expression('@(@"a\nb".Length)').evaluate(None, {}) == 3  # verbatim: fine


def test_a_csharp_8_switch_expression_is_refused_as_not_apims_csharp_7() -> None:
    from apimgen.simulate.expr.parser import ExpressionSyntaxError

    with pytest.raises(ExpressionSyntaxError, match="is C# 8, and APIM's policy") as error:
        compile_expression('@{ var n = 7; return n switch { 7 => "seven", _ => "other" }; }')
    assert (error.value.line, error.value.column) == (1, 24)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('@("\\uarde")', "takes four hex digits"),
        ('@($"{context.Request.Method,-JArray6}")', "alignment is a whole number"),
        ("@{ var a = 1, b = 2; return a; }", "cannot have multiple declarators"),
    ],
)
def test_what_csharp_would_not_compile_is_a_syntax_error_not_a_crash(
    text: str, message: str
) -> None:
    from apimgen.simulate.expr.parser import ExpressionSyntaxError

    with pytest.raises(ExpressionSyntaxError, match=message):
        compile_expression(text)
