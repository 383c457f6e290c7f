"""Policy expressions: what APIM refuses to compile and what compiles but misbehaves — syntax,
types, variables read before they are set or cast to the wrong type, reference equality, a body
read twice, regexes that backtrack, misspelt members."""

from __future__ import annotations

import re
from collections.abc import Iterator

from apimgen.errors import Severity
from apimgen.lint.body_reads import consuming_body_reads
from apimgen.lint.expression_types import is_allowed_name
from apimgen.lint.regex_patterns import nested_quantifiers, regex_patterns
from apimgen.lint.rules.base import (
    Finding,
    Knowledge,
    LintDocument,
    document_texts,
    every_statement,
    finding,
    rule,
    texts_of,
)
from apimgen.lint.variable_types import (
    expression_nodes,
    guarded_variables,
    indexed_reads,
    reference_comparisons,
    refusal,
    stored_types,
    variable_casts,
)
from apimgen.simulate.expr import ast
from apimgen.simulate.expr.compiler import compile_expression
from apimgen.simulate.expr.errors import ExpressionNotAllowedError, ExpressionUnsupportedError
from apimgen.simulate.expr.parser import ExpressionSyntaxError, is_expression
from apimgen.simulate.expr.vocabulary import closest_member

__all__ = [
    "backtracking_regex",
    "consumed_body",
    "expressions",
    "gateway_variables",
    "reference_equality",
    "unknown_members",
    "unset_variables",
    "variable_types",
]


@rule(
    "APIM008",
    "expression-syntax",
    Severity.ERROR,
    (
        "APIM checks expressions only partly at save time; a broken one fails every "
        "request at runtime."
    ),
)
@rule(
    "APIM009",
    "expression-type",
    Severity.ERROR,
    ("Expressions may use only the .NET types APIM allows."),
)
def expressions(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    for _, statement in every_statement(document):
        for element, text in texts_of(statement):
            if not is_expression(text):
                continue
            try:
                compile_expression(text)
            except ExpressionSyntaxError as error:
                yield finding(
                    "APIM008",
                    element,
                    f"expression does not parse: {error.message} (at {error.line}:{error.column})",
                )
            except ExpressionNotAllowedError as error:
                yield finding("APIM009", element, str(error))
            except ExpressionUnsupportedError as error:
                named = re.fullmatch(r"the name '([\w.]+)'", error.construct)
                if named and not is_allowed_name(named.group(1)):
                    yield finding(
                        "APIM009",
                        element,
                        f"{error.construct} is not a type or name APIM allows in expressions",
                    )


def gateway_variables(documents: list[LintDocument]) -> dict[str, set[str | None]]:
    """What the documents linted together store in each variable (APIM020 reads it)."""
    return stored_types(
        [statement for document in documents for _, statement in every_statement(document)]
    )


@rule(
    "APIM020",
    "variable-cast",
    Severity.WARNING,
    (
        "set-variable's literal values are strings and the limit policies store numbers; "
        "casting a variable to another type throws on every request that reads it."
    ),
)
def variable_types(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    statements = [statement for _, statement in every_statement(document)]
    stored = knowledge.variables if knowledge.variables is not None else stored_types(statements)
    for statement in statements:
        for element, text in texts_of(statement):
            for cast in variable_casts(text):
                held = refusal(cast, stored.get(cast.variable, set()))
                if held is None:
                    continue
                target = cast.type_name.rstrip("?")
                hint = (
                    f'parse it: {target}.Parse((string)context.Variables["{cast.variable}"]), '
                    'or store it with an expression (value="@(100)")'
                    if held == "string"
                    else f'convert it: context.Variables["{cast.variable}"].ToString()'
                    if target in ("string", "String")
                    else f'convert it: Convert.ToDouble(context.Variables["{cast.variable}"])'
                )
                yield finding(
                    "APIM020",
                    element,
                    f"{cast.text} throws InvalidCastException: the policies store a {held} "
                    f"in '{cast.variable}'",
                    hint,
                )


@rule(
    "APIM026",
    "unset-variable",
    Severity.WARNING,
    (
        'context.Variables["x"] throws KeyNotFoundException when no policy set x; read '
        "with GetValueOrDefault or test with ContainsKey where it may be missing."
    ),
)
def unset_variables(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    """Only when the whole gateway is linted: a variable set by a policy elsewhere (the global
    policy, a fragment) is set for this document too."""
    if not knowledge.whole_gateway or knowledge.variables is None:
        return
    statements = [statement for _, statement in every_statement(document)]
    texts = [(element, text) for statement in statements for element, text in texts_of(statement)]
    guarded = {name for _, text in texts for name in guarded_variables(text)}
    reported: set[str] = set()
    for element, text in texts:
        for name in indexed_reads(text):
            if name in knowledge.variables or name in guarded or name in reported:
                continue
            reported.add(name)
            yield finding(
                "APIM026",
                element,
                f"context.Variables[\"{name}\"] is read, but no policy sets '{name}': "
                "KeyNotFoundException on every request that reaches it",
                "set it first, or read it with "
                f'context.Variables.GetValueOrDefault<string>("{name}", …)',
            )


@rule(
    "APIM028",
    "unknown-member",
    Severity.WARNING,
    (
        "A member name close to one the expression runtime knows, but not it "
        "(.ToLowerr(), GetValueOrDefaul): APIM compiles expressions when a policy is "
        "saved and refuses the policy; the simulator fails every call that reaches it."
    ),
)
def unknown_members(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    for element, text in document_texts(document):
        for node in expression_nodes(text):
            if isinstance(node, ast.Member) and (meant := closest_member(node.name)):
                yield finding(
                    "APIM028",
                    element,
                    f"unknown member '{node.name}': did you mean '{meant}'? "
                    f"(at {node.line}:{node.column})",
                    "C# member names are case-sensitive; the gateway refuses the policy when "
                    "it is saved",
                )


@rule(
    "APIM027",
    "backtracking-regex",
    Severity.WARNING,
    (
        "A Regex pattern with nested quantifiers (^(a+)+$) backtracks exponentially on "
        "inputs that almost match; the gateway spends the match timeout on each such "
        "request, then throws RegexMatchTimeoutException."
    ),
)
def backtracking_regex(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    for element, text in document_texts(document):
        for pattern in regex_patterns(text):
            if nested_quantifiers(pattern):
                yield finding(
                    "APIM027",
                    element,
                    f"the pattern '{pattern}' repeats a part that is itself repeated: on an "
                    "input that almost matches, .NET backtracks until the match timeout and "
                    "throws RegexMatchTimeoutException",
                    "make the inner part match one way only, e.g. ^a+$ instead of ^(a+)+$, "
                    "or bound the repeat",
                )


@rule(
    "APIM023",
    "variable-reference-equality",
    Severity.WARNING,
    (
        "context.Variables holds objects: comparing one with a string literal by == "
        "compares references, which differ for text read from a request or set-variable."
    ),
)
def reference_equality(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    for element, text in document_texts(document):
        for written in reference_comparisons(text):
            yield finding(
                "APIM023",
                element,
                f"{written} compares references, not text: the variable is an object "
                "(C# warns CS0252), so equal text read from a request or set as a literal "
                "compares unequal",
                'cast it first: (string)context.Variables[...] == "...", or use '
                "GetValueOrDefault<string>(...)",
            )


_BODY_LOSSES = (
    ("Request", ("inbound", "backend", "fragment"), "forward-request then sends none, and "
     "Azure OpenAI answers 400"),
    ("Response", ("outbound", "on-error"), "the caller receives an empty body"),
)  # fmt: skip


@rule(
    "APIM024",
    "consumed-body",
    Severity.WARNING,
    (
        "Body.As<T>() without preserveContent: true uses up the body (Learn: "
        "IMessageBody): read before forward-request, the backend gets none; read in "
        "outbound, the caller does."
    ),
)
def consumed_body(document: LintDocument, knowledge: Knowledge) -> Iterator[Finding]:
    statements = list(every_statement(document))
    for message, sections, loss in _BODY_LOSSES:
        reading = [statement for section, statement in statements if section in sections]
        if any(statement.name == "set-body" for statement in reading):
            continue  # a set-body may be reading the body to replace it, as Learn shows
        for statement in reading:
            for element, text in texts_of(statement):
                for written in consuming_body_reads(text, message):
                    yield finding(
                        "APIM024",
                        element,
                        f"{written} without preserveContent: true uses up the "
                        f"{message.lower()} body: {loss}",
                        "read it with As<JObject>(preserveContent: true)",
                    )
