"""The errors an expression raises, located at the node that failed: C# exceptions thrown while
evaluating (APIM sends the request to on-error), constructs the simulator does not model, and
members APIM refuses."""

from __future__ import annotations

from apimgen.simulate.expr import ast
from apimgen.simulate.expr.construct import EXCEPTION_TYPES
from apimgen.simulate.expr.values import (
    CSharpError,
)
from apimgen.simulate.expr.vocabulary import closest_member

__all__ = [
    "PYTHON_ERRORS",
    "ExpressionNotAllowedError",
    "ExpressionRuntimeError",
    "ExpressionUnsupportedError",
    "Misplaced",
    "allowed_exception",
    "located",
    "unmodelled",
]


class ExpressionRuntimeError(Exception):
    """A C# exception thrown while evaluating; ``kind`` is the .NET exception type."""

    def __init__(self, kind: str, message: str, line: int, column: int) -> None:
        super().__init__(f"{kind}: {message} (at {line}:{column})")
        self.kind = kind
        self.message = message
        self.line = line
        self.column = column


class ExpressionUnsupportedError(Exception):
    """A construct the simulator does not model, named, with its position."""

    def __init__(self, construct: str, line: int, column: int, message: str = "") -> None:
        super().__init__(
            message or f"unsupported in the simulator: {construct} (at {line}:{column})"
        )
        self.construct = construct
        self.line = line
        self.column = column


class ExpressionNotAllowedError(ExpressionUnsupportedError):
    """A member of a .NET type APIM refuses in expressions: the gateway rejects the policy
    when it is saved, so the simulator does too, whether or not it could run it."""

    def __init__(self, type_name_: str, member: str, line: int, column: int) -> None:
        message = (
            f"APIM does not allow {type_name_}.{member} in policy expressions: Learn lists the "
            f"members of {type_name_} it allows, and {member} is not one"
            + ("; DateTimeOffset allows all of its own" if type_name_ == "DateTime" else "")
            + f" (at {line}:{column})"
        )
        super().__init__(f"{type_name_}.{member}", line, column, message)


def located(node: ast.Node, error: Exception) -> Exception:
    if isinstance(error, CSharpError):
        return ExpressionRuntimeError(error.kind, error.message, node.line, node.column)
    if isinstance(node, ast.Member):
        meant = closest_member(node.name)
        if meant is not None:  # a typo, not a .NET member the simulator leaves out
            return ExpressionUnsupportedError(
                str(error),
                node.line,
                node.column,
                f"unknown member '{node.name}': did you mean '{meant}'? "
                f"(at {node.line}:{node.column})",
            )
    return ExpressionUnsupportedError(str(error), node.line, node.column)


# What the interpreter's own Python raises when an expression uses a construct in a way it
# does not model (an argument of an unexpected type, a missing one): never a traceback.
PYTHON_ERRORS = (TypeError, ValueError, IndexError, KeyError, AttributeError, OverflowError)


def unmodelled(node: ast.Node, error: Exception) -> ExpressionUnsupportedError:
    return ExpressionUnsupportedError(
        f"this use of {_describe(node)} ({type(error).__name__}: {error})", node.line, node.column
    )


def _describe(node: ast.Node) -> str:
    if isinstance(node, ast.Call) and isinstance(node.target, ast.Member):
        return f"{node.target.name}()"
    if isinstance(node, ast.New):
        return f"new {node.type_name}()"
    return type(node).__name__.lower()


def allowed_exception(type_name_: str, node: ast.Node, *, named: bool = False) -> None:
    """Refuse an exception type APIM does not allow; ``named``: it must be one (a catch)."""
    if type_name_ in EXCEPTION_TYPES:
        return
    if named or type_name_.endswith("Exception"):
        raise ExpressionUnsupportedError(f"the name '{type_name_}'", node.line, node.column)


class Misplaced(Exception):  # noqa: N818 - becomes an ExpressionSyntaxError with the text
    """A statement C# refuses where it stands: ``break`` outside a loop, ``throw;`` outside
    a catch."""

    def __init__(self, node: ast.Node, message: str) -> None:
        self.node = node
        self.message = message
