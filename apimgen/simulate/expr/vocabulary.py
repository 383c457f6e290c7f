"""The member names the simulator knows, to tell a misspelt member from an unmodelled one.

``"X".ToLowerr()`` is no .NET member at all: the gateway refuses such a policy when it is saved,
so the simulator and lint should say "unknown member", with the member it was probably meant to
be, rather than "unsupported in the simulator". A member is known when the expression runtime
names it anywhere: as a string in its dispatch tables (``"ToLower"``, ``"GetValueOrDefault"``,
LINQ's operators) or as a public attribute of one of its C# objects (``context.Request``,
``Match.Groups``). Reading the runtime's own sources keeps this list in step with what it runs,
with no second list to maintain. A name close to a known one, and not known itself, is a typo.
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from importlib import resources

__all__ = ["closest_member", "known_members"]

_QUOTED_NAME = re.compile(r"""["']([A-Z][A-Za-z0-9]*)["']""")
# Namespaces written before a type (System.Net.WebUtility): their parts read as members.
_NAMESPACE = re.compile(r"\b(?:System|Newtonsoft|Microsoft)(?:\.[A-Z][A-Za-z0-9]*)+")
_SOURCES = ("apimgen.simulate.expr", "apimgen.simulate")


@cache
def known_members() -> frozenset[str]:
    """Every member name the expression runtime dispatches on or exposes."""
    names: set[str] = set()
    for package in _SOURCES:
        for entry in resources.files(package).iterdir():
            if entry.name.endswith(".py"):
                text = entry.read_text(encoding="utf-8")
                names.update(_QUOTED_NAME.findall(text))
                for qualified in _NAMESPACE.findall(text):
                    names.update(qualified.split("."))
    from apimgen.simulate.expr.typesystem import CSharpObject

    pending: list[type] = [CSharpObject]
    while pending:
        kind = pending.pop()
        pending.extend(kind.__subclasses__())
        names.update(name for name in dir(kind) if name[:1].isupper())
    return frozenset(names)


def closest_member(name: str) -> str | None:
    """The known member ``name`` was probably meant to be, when it is not one itself."""
    known = known_members()
    if name in known:
        return None
    matches = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
    return matches[0] if matches else None
