"""Compile expression syntax trees into Python closures: parse once, evaluate per request.

Every node becomes a function of the evaluation environment. Errors carry the position of the
node that failed: C# runtime exceptions become ``ExpressionRuntimeError`` (APIM sends the request
to on-error), constructs the simulator does not model become ``ExpressionUnsupportedError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apimgen.simulate.expr import ast
from apimgen.simulate.expr.environment import (
    NO_RETURN,
    Compiled,
    Environment,
)
from apimgen.simulate.expr.errors import (
    PYTHON_ERRORS,
    ExpressionRuntimeError,
    Misplaced,
    unmodelled,
)
from apimgen.simulate.expr.parser import ExpressionSyntaxError, parse_expression, shifted
from apimgen.simulate.expr.purity import caller_parts
from apimgen.simulate.expr.statements import Compiler
from apimgen.simulate.expr.typesystem import (
    StaticType,
)

__all__ = ["CompiledExpression", "compile_expression"]


# Values safe to hand out again: nothing can change them in place.
_IMMUTABLE = (str, int, float, bool, type(None))


MAX_REMEMBERED_CALLERS = 1024  # per expression; past it the memo starts afresh


@dataclass(frozen=True)
class CompiledExpression:
    """A parsed and compiled ``@(...)``/``@{...}``; ``evaluate`` runs it against a context.

    An expression that reads only the caller's parts of the context (see purity.py) is
    evaluated once per caller: its value is remembered per the part objects it reads."""

    text: str
    node: ast.Node
    is_block: bool
    run: Compiled
    caller_parts: tuple[str, ...] | None = None
    where: str = field(default="", compare=False)  # the policy and file:line it was written at
    _memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def describe(self) -> str:
        """The expression as an error message names it: its start and where it was written
        (a whole @{ } block in every message would drown the reason)."""
        text = " ".join(self.text.split())
        shown = text if len(text) <= 60 else text[:59] + "…"
        return f"{shown} ({self.where})" if self.where else shown

    def evaluate(self, context: Any, statics: dict[str, StaticType]) -> Any:
        parts = self.caller_parts
        if parts is None:
            return self._evaluate(context, statics)
        # Keyed by the part objects themselves, which hash by identity and are held by the
        # memo, so a part that dies cannot hand its id and its value to another.
        key = (
            getattr(context, parts[0])
            if len(parts) == 1
            else tuple(getattr(context, part) for part in parts)
        )
        memo = self._memo
        value = memo.get(key, NO_RETURN)
        if value is NO_RETURN:
            value = self._evaluate(context, statics)
            if isinstance(value, _IMMUTABLE):
                if len(memo) >= MAX_REMEMBERED_CALLERS:
                    memo.clear()
                memo[key] = value
        return value

    def _evaluate(self, context: Any, statics: dict[str, StaticType]) -> Any:
        env = Environment(context, statics)
        try:
            result = self.run(env)
        except PYTHON_ERRORS as error:  # raised outside any guarded node
            raise unmodelled(self.node, error) from None
        except RecursionError:
            # A local function or lambda calling itself without end: .NET's stack overflows
            # (no catch can take it) and the request fails; here MAX_CALL_DEPTH stops it, or
            # Python's own recursion limit when a deep expression gets there first.
            raise ExpressionRuntimeError(
                "StackOverflowException", "the expression recursed too deeply", 1, 1
            ) from None
        if result is NO_RETURN:
            raise ExpressionRuntimeError(
                "InvalidProgramException", "not all code paths return a value", 1, 1
            )
        return result


def compile_expression(text: str, where: str = "") -> CompiledExpression:
    """Parse and compile; raises ExpressionSyntaxError or ExpressionUnsupportedError.

    ``where`` names the policy and place the expression was written, for run-time errors."""
    node, is_block = parse_expression(text)
    compiler = Compiler()
    try:
        run = (
            compiler.block(node)
            if is_block and isinstance(node, ast.Block)
            else compiler.expr(node)
        )
    except Misplaced as error:
        at = error.node
        misplaced = ExpressionSyntaxError(error.message, text, at.line, at.column)
        raise shifted(misplaced, text) from None
    parts = None if is_block else caller_parts(node)
    return CompiledExpression(
        text, node, is_block, run, None if parts is None else tuple(sorted(parts)), where
    )
