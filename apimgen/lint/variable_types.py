"""APIM020: a cast of ``context.Variables`` that cannot succeed for what the policies store.

``context.Variables`` holds objects, so ``(int)context.Variables["x"]`` unboxes: it throws
InvalidCastException unless the stored object is an int. set-variable's literal values are
strings (``value="100"``), and the limit policies' variables hold numbers, so casting the first
to a number or the second to a string fails on every request that reaches it — APIM saves the
policy without complaint. The check reads every document linted together (a global policy's
variable reaches an API policy) and only speaks when every statement storing the variable
stores a known type the cast refuses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from apimgen.simulate.expr import ast
from apimgen.simulate.expr.parser import ExpressionSyntaxError, is_expression, parse_expression
from apimgen.simulate.policy.reader import PolicyElement

__all__ = [
    "VariableCast",
    "expression_nodes",
    "guarded_variables",
    "indexed_reads",
    "reference_comparisons",
    "refusal",
    "stored_types",
    "variable_casts",
]

# Policies that store a number in the variable an attribute names.
_NUMBER_VARIABLES = (
    "remaining-calls-variable-name",
    "retry-after-variable-name",
    "remaining-tokens-variable-name",
    "remaining-quota-tokens-variable-name",
    "tokens-consumed-variable-name",
)
_NUMBERS = {
    "int", "long", "short", "byte", "uint", "ulong", "double", "float", "decimal", "Int32",
    "Int64", "Double", "Decimal", "Single",
}  # fmt: skip
_REALS = {"double", "float", "decimal", "Double", "Decimal", "Single"}
_BOOLEANS = {"bool", "Boolean"}
_STRINGS = {"string", "String"}


def expression_nodes(text: str) -> Iterator[ast.Node]:
    """Every node of ``text`` when it is an expression that parses; nothing otherwise (APIM008
    reports one that does not), so each check looks only for its own shape."""
    if not is_expression(text):
        return
    try:
        root, _ = parse_expression(text)
    except ExpressionSyntaxError:
        return
    yield from ast.walk(root)


@dataclass(frozen=True)
class VariableCast:
    """A read of a variable as ``type_name``, in the expression ``text``."""

    variable: str
    type_name: str
    text: str  # how the read is written, for the message


def stored_types(statements: list[PolicyElement]) -> dict[str, set[str | None]]:
    """What each statement stores in the variables it names: "string", "number", or None
    when an expression decides (a type the check cannot know)."""
    stored: dict[str, set[str | None]] = {}
    for statement in statements:
        if statement.name == "set-variable":
            name, value = statement.attributes.get("name"), statement.attributes.get("value")
            if name is not None and value is not None:
                stored.setdefault(name, set()).add(None if is_expression(value) else "string")
            continue
        for attribute in _NUMBER_VARIABLES:
            name = statement.attributes.get(attribute)
            if name:
                stored.setdefault(name, set()).add("number")
        for attribute, value in statement.attributes.items():
            # any other policy's variable (a response, a token, a cached value): unknown
            if attribute.endswith("variable-name") and attribute not in _NUMBER_VARIABLES:
                stored.setdefault(value, set()).add(None)
    return stored


def variable_casts(text: str) -> Iterator[VariableCast]:
    """The reads in ``text`` that convert a variable to a named type: a cast of
    ``context.Variables["x"]`` and ``context.Variables.GetValueOrDefault<T>("x")``."""
    for node in expression_nodes(text):
        if isinstance(node, ast.Cast) and isinstance(node.operand, ast.Index):
            name = _variable_key(node.operand.target, node.operand.args)
            if name is not None:
                read = f'({node.type_name})context.Variables["{name}"]'
                yield VariableCast(name, node.type_name, read)
        elif isinstance(node, ast.Call) and node.type_args and _is_variables_method(node):
            name = _variable_key(None, node.args)
            if name is not None:
                read = f'context.Variables.GetValueOrDefault<{node.type_args[0]}>("{name}")'
                yield VariableCast(name, node.type_args[0], read)


def reference_comparisons(text: str) -> Iterator[str]:
    """APIM023: ``context.Variables["x"] == "text"`` — the variable is an object, so C# compares
    references (compiler warning CS0252), not text: a value from a header, a body or a
    set-variable literal is another string instance, and the test fails however equal the
    text. Yields how each such comparison is written."""
    for node in expression_nodes(text):
        if not (isinstance(node, ast.Binary) and node.op in ("==", "!=")):
            continue
        for variable, other in ((node.left, node.right), (node.right, node.left)):
            name = _object_read(variable)
            if name is not None and isinstance(other, ast.Literal) and isinstance(other.value, str):
                yield f'{name} {node.op} "{other.value}"'
                break


def _object_read(node: ast.Node) -> str | None:
    """How a read typed object is written: ``context.Variables["x"]`` or the non-generic
    ``context.Variables.GetValueOrDefault("x", ...)``; None for anything else."""
    if isinstance(node, ast.Index):
        name = _variable_key(node.target, node.args)
        return f'context.Variables["{name}"]' if name is not None else None
    if isinstance(node, ast.Call) and not node.type_args and _is_variables_method(node):
        name = _variable_key(None, node.args)
        return f'context.Variables.GetValueOrDefault("{name}", …)' if name is not None else None
    return None


def refusal(cast: VariableCast, stored: set[str | None]) -> str | None:
    """Why the cast fails for every type stored, or None when it may succeed."""
    target = cast.type_name.rstrip("?")
    if stored == {"string"} and target in _NUMBERS | _BOOLEANS:
        return "string"
    if stored == {"number"} and target in _STRINGS | _BOOLEANS | _REALS:
        return "whole number"  # the limit policies' counts: unboxing one as double throws too
    return None


def indexed_reads(text: str) -> Iterator[str]:
    """The variables ``text`` reads with ``context.Variables["x"]``, which throws
    KeyNotFoundException when no policy has set x (APIM026)."""
    for node in expression_nodes(text):
        if isinstance(node, ast.Index):
            name = _variable_key(node.target, node.args)
            if name is not None:
                yield name


def guarded_variables(text: str) -> Iterator[str]:
    """The variables ``text`` tests for with ``ContainsKey("x")`` or ``TryGetValue("x", …)``:
    a read of one may be guarded, so APIM026 leaves it alone."""
    for node in expression_nodes(text):
        if isinstance(node, ast.Call) and _is_variables_method(node, _GUARDS):
            name = _variable_key(None, node.args)
            if name is not None:
                yield name


_GUARDS = ("ContainsKey", "TryGetValue")


def _is_variables_method(node: ast.Call, names: tuple[str, ...] = ("GetValueOrDefault",)) -> bool:
    target = node.target
    return (
        isinstance(target, ast.Member)
        and target.name in names
        and ast.is_context_path(target.target, "Variables")
    )


def _variable_key(target: ast.Node | None, args: tuple[ast.Node, ...]) -> str | None:
    if target is not None and not ast.is_context_path(target, "Variables"):
        return None
    if args and isinstance(args[0], ast.Literal) and isinstance(args[0].value, str):
        return args[0].value
    return None
