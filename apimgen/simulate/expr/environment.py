"""What compiled expressions run in: the evaluation environment, the markers statements pass up
(return, break, continue), delegates for lambdas and local functions, and the guard that
locates any error at its node."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apimgen.simulate.expr import ast
from apimgen.simulate.expr.errors import (
    PYTHON_ERRORS,
    located,
    unmodelled,
)
from apimgen.simulate.expr.typesystem import (
    StaticType,
)
from apimgen.simulate.expr.values import (
    CSharpError,
    UnsupportedError,
)

__all__ = [
    "BREAK",
    "CAUGHT",
    "CONTINUE",
    "MAX_CALL_DEPTH",
    "MAX_LOOP_ITERATIONS",
    "NO_RETURN",
    "Compiled",
    "Delegate",
    "Environment",
    "Matcher",
    "ShortCircuit",
    "guarded",
]


@dataclass(slots=True)
class Environment:
    """What one evaluation sees: the context object, static types and local variables."""

    context: Any
    statics: dict[str, StaticType]
    locals: dict[str, Any] = field(default_factory=dict)
    depth: int = 0  # lambdas and local functions running inside one another


Compiled = Callable[[Environment], Any]


Matcher = Callable[[Environment, Any], bool]  # a switch label: does it take this value?


NO_RETURN = object()


BREAK = object()  # `break`/`continue` travel up to their loop like a return value


CONTINUE = object()


CAUGHT = "\x00caught"  # the local a catch block keeps its exception in, for `throw;`


MAX_LOOP_ITERATIONS = 100_000  # a runaway loop fails the request instead of hanging the run


# .NET's stack holds more, but a C# function nested this deep in a policy expression is a
# function calling itself without end: the request fails with a stack overflow.
MAX_CALL_DEPTH = 100


class Delegate:
    """A lambda or local function, made for one evaluation. A class, not a closure: LINQ's
    ``(x, i)`` forms read its ``arity``, and it counts how deeply calls nest, because compiled
    (native.py) recursion has no Python recursion limit to stop it."""

    __slots__ = ("arity", "body", "env", "is_block", "params")

    def __init__(
        self, env: Environment, params: tuple[str, ...], body: Compiled, is_block: bool
    ) -> None:
        self.env, self.params, self.body, self.is_block = env, params, body, is_block
        self.arity = len(params)

    def __call__(self, *values: Any) -> Any:
        env, params = self.env, self.params
        if env.depth >= MAX_CALL_DEPTH:
            raise RecursionError
        saved = {p: env.locals.get(p, NO_RETURN) for p in params}
        env.locals.update(zip(params, values, strict=False))
        env.depth += 1
        try:
            result = self.body(env)
        finally:
            env.depth -= 1
            for p, old in saved.items():
                if old is NO_RETURN:
                    env.locals.pop(p, None)
                else:
                    env.locals[p] = old
        return None if self.is_block and result is NO_RETURN else result


class ShortCircuit(Exception):  # noqa: N818 - control flow, not an error
    """A ``?.`` met null: the whole member chain evaluates to null."""


def guarded(node: ast.Node, fn: Compiled) -> Compiled:
    def run(env: Environment) -> Any:
        try:
            return fn(env)
        except (CSharpError, UnsupportedError) as error:
            raise located(node, error) from None
        except PYTHON_ERRORS as python_error:
            raise unmodelled(node, python_error) from None

    return run
