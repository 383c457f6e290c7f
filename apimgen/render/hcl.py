"""A small HCL writer whose output is already in ``terraform fmt`` style.

Layout rules copied from hclwrite: two-space indent; the ``=`` of consecutive single-line
attributes is aligned; an attribute whose value spans lines, or a nested block, ends the run.
Strings are escaped for HCL, including ``${`` and ``%{`` so no value can start a template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Attr", "Blank", "Block", "Comment", "Expr", "HclValue", "hcl_string", "render_blocks"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Expr:
    """A raw HCL expression (a reference, a function call), written as is."""

    text: str


HclValue = str | int | float | bool | None | Expr | list["HclValue"] | dict[str, "HclValue"]


@dataclass(frozen=True)
class Attr:
    name: str
    value: HclValue


@dataclass(frozen=True)
class Comment:
    text: str


@dataclass(frozen=True)
class Blank:
    """An empty line between groups of attributes."""


@dataclass
class Block:
    type: str
    labels: tuple[str, ...] = ()
    items: list[Attr | Block | Comment | Blank] = field(default_factory=list)

    def attr(self, name: str, value: HclValue) -> Block:
        """Add ``name = value`` unless the value is None (an optional argument left out)."""
        if value is not None:
            self.items.append(Attr(name, value))
        return self

    def block(self, block: Block) -> Block:
        self.items.append(block)
        return block


def hcl_string(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
        .replace("${", "$${")
        .replace("%{", "%%{")
    )
    return f'"{escaped}"'


def _key(key: str) -> str:
    return key if _IDENTIFIER.match(key) else hcl_string(key)


def _value(value: HclValue, indent: int) -> str:
    pad = "  " * indent
    inner = "  " * (indent + 1)
    if isinstance(value, Expr):
        return value.text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return hcl_string(value)
    if isinstance(value, list):
        if not value:
            return "[]"
        if all(not isinstance(v, dict | list) for v in value):
            return "[" + ", ".join(_value(v, indent) for v in value) + "]"
        lines = [f"{inner}{_value(v, indent + 1)}," for v in value]
        return "[\n" + "\n".join(lines) + f"\n{pad}]"
    if not value:
        return "{}"
    body = _aligned([(k, _value(v, indent + 1)) for k, v in value.items()], indent + 1)
    return "{\n" + "\n".join(body) + f"\n{pad}}}"


def _aligned(pairs: list[tuple[str, str]], indent: int) -> list[str]:
    """``key = value`` lines with ``=`` aligned over runs of single-line values."""
    pad = "  " * indent
    lines: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        width = max((len(_key(k)) for k, _ in run), default=0)
        lines.extend(f"{pad}{_key(k).ljust(width)} = {v}" for k, v in run)
        run.clear()

    for key, text in pairs:
        if "\n" in text:
            flush()
            lines.append(f"{pad}{_key(key)} = {text}")
        else:
            run.append((key, text))
    flush()
    return lines


def _block(block: Block, indent: int) -> list[str]:
    pad = "  " * indent
    head = " ".join([block.type, *(hcl_string(label) for label in block.labels)])
    lines = [f"{pad}{head} {{"]
    pending: list[tuple[str, str]] = []
    for item in block.items:
        if isinstance(item, Attr):
            pending.append((item.name, _value(item.value, indent + 1)))
            continue
        lines.extend(_aligned(pending, indent + 1))
        pending = []
        if isinstance(item, Block):
            lines.extend(_block(item, indent + 1))
        elif isinstance(item, Comment):
            lines.extend(
                f"{pad}  # {line}" if line else f"{pad}  #" for line in item.text.split("\n")
            )
        else:
            lines.append("")
    lines.extend(_aligned(pending, indent + 1))
    lines.append(f"{pad}}}")
    return lines


def render_blocks(blocks: list[Block | Comment], header: str = "") -> str:
    """A whole ``.tf`` file: top-level blocks separated by one empty line; a comment sits
    directly above the block that follows it."""
    chunks: list[str] = []
    if header:
        chunks.append("\n".join(f"# {line}" if line else "#" for line in header.split("\n")))
    comment: list[str] = []
    for item in blocks:
        if isinstance(item, Comment):
            comment.extend(f"# {line}" if line else "#" for line in item.text.split("\n"))
            continue
        chunks.append("\n".join([*comment, *_block(item, 0)]))
        comment = []
    if comment:
        chunks.append("\n".join(comment))
    return "\n\n".join(chunks) + "\n"
