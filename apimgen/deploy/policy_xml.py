"""Canonical policy XML, so that a plan right after an apply shows no change.

APIM stores what it is sent but gives it back reformatted: other indentation and line endings,
attributes reordered, quotes inside expressions escaped as ``&quot;``, ``<x></x>`` for ``<x />``,
comments moved or dropped. Both sides are read with the simulator's lenient reader (which takes
raw quotes inside expressions, as APIM does) and written back one way: two-space indentation,
attributes sorted by name, text trimmed, no comments.
"""

from __future__ import annotations

import difflib

from apimgen.render.environment import xml_attr, xml_text
from apimgen.simulate.policy.reader import PolicyElement, read_policy

__all__ = ["canonical_policy", "policy_diff"]


def _write(element: PolicyElement, depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    attributes = "".join(f" {name}={xml_attr(element.attributes[name])}"
                         for name in sorted(element.attributes))  # fmt: skip
    text = (element.text or "").strip()
    if not element.children and not text:
        lines.append(f"{pad}<{element.name}{attributes} />")
        return
    if not element.children:
        lines.append(f"{pad}<{element.name}{attributes}>{xml_text(text)}</{element.name}>")
        return
    lines.append(f"{pad}<{element.name}{attributes}>")
    if text:
        lines.append(f"{pad}  {xml_text(text)}")
    for child in element.children:
        _write(child, depth + 1, lines)
    lines.append(f"{pad}</{element.name}>")


def canonical_policy(text: str, file: str = "<policy>") -> str:
    """One canonical text per meaning; raises PolicyReadError (located) for malformed XML."""
    lines: list[str] = []
    _write(read_policy(text.replace("\r\n", "\n"), file), 0, lines)
    return "\n".join(lines) + "\n"


def policy_diff(live: str, desired: str, scope: str) -> str:
    """A unified diff of the canonical forms ('' when they mean the same)."""
    before, after = canonical_policy(live, f"live:{scope}"), canonical_policy(desired, scope)
    if before == after:
        return ""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"live/{scope}",
            tofile=f"spec/{scope}",
        )
    )
