"""The syntax tree of a policy expression: what the parser produces and the compiler consumes.

Every node keeps its position inside the expression text, so an error can point at the exact
member, call or operator that failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

__all__ = [
    "ArrayCreate",
    "Assign",
    "Binary",
    "Block",
    "Call",
    "Cast",
    "Conditional",
    "Declarations",
    "Declare",
    "DefaultValue",
    "DoWhile",
    "ExprStatement",
    "Foreach",
    "FormattedHole",
    "If",
    "IncDec",
    "Index",
    "Interpolated",
    "Jump",
    "Lambda",
    "Literal",
    "LocalFunction",
    "Loop",
    "Member",
    "Name",
    "NamedArg",
    "New",
    "Node",
    "OutArg",
    "Return",
    "SizedArray",
    "Switch",
    "ThrowValue",
    "TypeTest",
    "Unary",
    "is_context_path",
    "member_reads",
    "walk",
]


@dataclass(frozen=True)
class Node:
    line: int
    column: int


@dataclass(frozen=True)
class Literal(Node):
    value: object


@dataclass(frozen=True)
class Name(Node):
    id: str


@dataclass(frozen=True)
class Member(Node):
    target: Node
    name: str
    null_conditional: bool = False


@dataclass(frozen=True)
class Index(Node):
    target: Node
    args: tuple[Node, ...]
    null_conditional: bool = False


@dataclass(frozen=True)
class NamedArg(Node):
    name: str
    value: Node


@dataclass(frozen=True)
class OutArg(Node):
    name: str


@dataclass(frozen=True)
class Call(Node):
    """``target(args)``; a method call when ``target`` is a Member."""

    target: Node
    args: tuple[Node, ...]
    type_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class New(Node):
    type_name: str
    type_args: tuple[str, ...]
    args: tuple[Node, ...]
    initializer: tuple[Node, ...] = ()
    members: tuple[tuple[str, Node], ...] = ()


@dataclass(frozen=True)
class ArrayCreate(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class SizedArray(Node):
    """``new string[n]``: n elements of the type's default."""

    type_name: str
    size: Node


@dataclass(frozen=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Conditional(Node):
    condition: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True)
class Cast(Node):
    type_name: str
    operand: Node


@dataclass(frozen=True)
class TypeTest(Node):
    """``x is T`` (``as_cast`` False) or ``x as T`` (True)."""

    operand: Node
    type_name: str
    as_cast: bool
    variable: str | None = None  # ``x is string s``: s holds x when the test passes


@dataclass(frozen=True)
class Lambda(Node):
    params: tuple[str, ...]
    body: Node  # an expression, or a Block


@dataclass(frozen=True)
class LocalFunction(Node):
    """``int Twice(int x) => x * 2;`` inside a block: callable anywhere in that block."""

    name: str
    params: tuple[str, ...]
    body: Node  # an expression, or a Block


@dataclass(frozen=True)
class Interpolated(Node):
    parts: tuple[str | Node, ...]


@dataclass(frozen=True)
class FormattedHole(Node):
    """``{value,width:format}`` in an interpolated string."""

    value: Node
    width: int | None
    format: str | None


# ---------------------------------------------------------------- statements


@dataclass(frozen=True)
class Block(Node):
    statements: tuple[Node, ...]


@dataclass(frozen=True)
class Declare(Node):
    name: str
    type_name: str
    value: Node | None


@dataclass(frozen=True)
class Declarations(Node):
    """``byte[] a, b, c;``: one Declare each, spliced into the enclosing block by the parser."""

    items: tuple[Declare, ...]


@dataclass(frozen=True)
class Assign(Node):
    target: Node
    op: str
    value: Node


@dataclass(frozen=True)
class IncDec(Node):
    target: Node
    op: str


@dataclass(frozen=True)
class If(Node):
    condition: Node
    then: Node
    otherwise: Node | None


@dataclass(frozen=True)
class Return(Node):
    value: Node | None


@dataclass(frozen=True)
class Foreach(Node):
    variable: str
    iterable: Node
    body: Node


@dataclass(frozen=True)
class Loop(Node):
    """``for`` and ``while``: ``while`` has neither ``init`` nor ``step``."""

    init: Node | None
    condition: Node | None
    step: Node | None
    body: Node


@dataclass(frozen=True)
class Catch(Node):
    """``catch``, ``catch (T)`` or ``catch (T name)``: no type catches every exception."""

    type_name: str | None
    variable: str | None
    body: Node


@dataclass(frozen=True)
class Try(Node):
    body: Node
    catches: tuple[Catch, ...]
    final: Node | None


@dataclass(frozen=True)
class Throw(Node):
    """``throw new XException(...)``, or ``throw;`` inside a catch (``value`` None)."""

    value: Node | None


@dataclass(frozen=True)
class Switch(Node):
    """``switch (value) { case a: ... default: ... }``: each section's labels, then its
    statements (C# does not fall through; ``break`` leaves the switch)."""

    value: Node
    sections: tuple[tuple[tuple[Node | None, ...], tuple[Node, ...]], ...]  # None: default
    # a label is a constant's expression, a CaseLabel (pattern or guard), or None (default)


@dataclass(frozen=True)
class CaseLabel(Node):
    """A C# 7 ``case`` beyond a constant: ``case T name:`` (a type pattern; ``var`` takes
    anything) and either kind with a ``when`` guard. ``value`` is the constant, or None for a
    type pattern."""

    value: Node | None
    type_name: str | None
    variable: str | None
    guard: Node | None


@dataclass(frozen=True)
class DoWhile(Node):
    body: Node
    condition: Node


@dataclass(frozen=True)
class ThrowValue(Node):
    """``throw new Exception()`` as an expression (right of ``??`` or a branch of ``?:``)."""

    value: Node


@dataclass(frozen=True)
class DefaultValue(Node):
    type_name: str


@dataclass(frozen=True)
class Jump(Node):
    """``break`` or ``continue``."""

    kind: str


@dataclass(frozen=True)
class ExprStatement(Node):
    expr: Node


def member_reads(node: Member) -> tuple[Node, list[Member]]:
    """``a.B?.C`` as its root ``a`` and its reads ``.B``, ``?.C`` in source order."""
    steps: list[Member] = []
    current: Node = node
    while isinstance(current, Member):
        steps.append(current)
        current = current.target
    steps.reverse()
    return current, steps


def is_context_path(node: Node | None, *names: str) -> bool:
    """``node`` is ``context.<names[0]>.<names[1]>...`` (``?.`` or ``.``), e.g.
    ``is_context_path(n, "Variables")`` for ``context.Variables``."""
    if not isinstance(node, Member):
        return False
    root, steps = member_reads(node)
    return (
        isinstance(root, Name)
        and root.id == "context"
        and tuple(step.name for step in steps) == names
    )


def walk(node: Node) -> Iterator[Node]:
    """``node`` and every node under it, parents first (for checks that look for a shape)."""
    yield node
    for item in fields(node):
        yield from _nodes_in(getattr(node, item.name))


def _nodes_in(value: object) -> Iterator[Node]:
    if isinstance(value, Node):
        yield from walk(value)
    elif isinstance(value, tuple):
        for part in value:
            yield from _nodes_in(part)
