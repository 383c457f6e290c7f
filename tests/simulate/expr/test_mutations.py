"""Broken expressions are refused or fail as C# would, never with a Python exception: every
corpus row cut, spliced and repeated at random (a fixed seed), run against the corpus context.

A Python error escaping here (a ValueError from a malformed escape, a re.error from a .NET
replacement) would end a whole simulation, or lint, with a traceback."""

from __future__ import annotations

import random

import pytest

from apimgen.simulate.expr.compiler import compile_expression
from apimgen.simulate.expr.errors import ExpressionRuntimeError, ExpressionUnsupportedError
from apimgen.simulate.expr.parser import ExpressionSyntaxError
from apimgen.simulate.expr.statics import static_types
from tests.simulate.expr.test_corpus import CORPUS, NOW, build_context

# Fragments spliced into corpus rows: operators, brackets, literals, keywords and names.
PIECES = (
    "(", ")", "[", "]", "{", "}", ",", ";", ".", "?.", "??", "?", ":", "=>", "==", "!", "&&",
    "-", "*", "/", "%", "<", ">", "=", "++", '"x"', "'a'", '@"v"', '$"{1}"', '$"{1,-x}"',
    '"\\u12"', "1", "0", "-1", "1.5", "null", "true", "new", "var", "return", "if", "else",
    "switch", "case", "when", "default", "using", "is", "as", "foreach", "in", "int", "string",
    "(string)", "(string[])", "JObject", "JArray", "DateTime", "TimeSpan", "Regex", "Array",
    "Tuple", "IPAddress", "SHA256", "context", "Request", "Body", "As<JObject>", "Headers",
    "GetValueOrDefault", "Select", "Where", "Count", "ToString", "Length", "Split", "\n",
)  # fmt: skip
EXPRESSIONS = [case["expr"] for case in CORPUS["cases"]]
EXPECTED = (ExpressionSyntaxError, ExpressionUnsupportedError, ExpressionRuntimeError)


def _mutant(rng: random.Random) -> str:
    text = rng.choice(EXPRESSIONS)
    start, end = sorted(rng.randrange(len(text) + 1) for _ in range(2))
    kind = rng.randrange(3)
    if kind == 0:
        return text[:start] + text[end:]
    if kind == 1:
        return text[:start] + rng.choice(PIECES) + text[start:]
    return text[:end] + text[start:end] + text[end:]


@pytest.mark.parametrize("seed", range(4))
def test_mutated_expressions_never_raise_a_python_error(seed: int) -> None:
    rng = random.Random(seed)
    statics = static_types(lambda: NOW, lambda: "00000000-0000-4000-8000-000000000000")
    escaped = []
    for _ in range(1500):
        text = _mutant(rng)
        try:
            compile_expression(text).evaluate(build_context({}), statics)
        except EXPECTED:
            continue
        except Exception as error:
            escaped.append(f"{text!r}: {type(error).__name__}: {error}")
    assert escaped == []
