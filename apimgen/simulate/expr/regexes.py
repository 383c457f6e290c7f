"""``Regex`` in policy expressions: .NET patterns run by Python's ``re`` (named groups and
back-references rewritten), ``RegexOptions`` as flags, and the ``Match``/``Group`` objects
policies read (Learn's own example reads ``Groups["maxAge"]``)."""

from __future__ import annotations

import re
import warnings
from typing import Any

from apimgen.simulate.expr.members import CSharpObject, StaticType
from apimgen.simulate.expr.values import CSharpError, EnumValue

__all__ = ["REGEX_OPTIONS", "RegexMatch", "regex_type"]


REGEX_OPTIONS = {
    "None": 0,
    "IgnoreCase": re.IGNORECASE,
    "Multiline": re.MULTILINE,
    "Singleline": re.DOTALL,
    "Compiled": 0,
    "CultureInvariant": 0,
    "ExplicitCapture": 0,
}


def _regex(pattern: str, options: tuple[Any, ...]) -> re.Pattern[str]:
    """A .NET pattern as Python's ``re`` reads it: named groups ``(?<name>...)`` and
    ``\\k<name>`` back-references rewritten, ``RegexOptions`` as flags."""
    flags = 0
    for option in options:
        if isinstance(option, EnumValue):
            flags |= REGEX_OPTIONS.get(str(option), 0)
    translated = re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", pattern)
    translated = re.sub(r"\\k<([A-Za-z_]\w*)>", r"(?P=\1)", translated)
    try:
        with warnings.catch_warnings():  # Python's notes on its own future syntax ([a--b]...)
            warnings.simplefilter("ignore", FutureWarning)
            return re.compile(translated, flags)
    except re.error as error:
        raise CSharpError("ArgumentException", f"invalid pattern '{pattern}': {error}") from None


def _replacement(text: str, regex: re.Pattern[str]) -> str:
    """A .NET replacement as ``re.sub`` reads it: ``$1``, ``${name}`` and ``$0`` name groups
    (one the pattern lacks stays as written, as in .NET), ``$$`` is a dollar, and a backslash
    is itself (``re.sub`` would read an escape)."""

    def rewrite(found: re.Match[str]) -> str:
        written = found.group(0)
        if written == "$$":
            return "$"
        if written == "\\":
            return "\\\\"
        group = found.group(1) or found.group(2)
        known = group in regex.groupindex if found.group(1) else int(group) <= regex.groups
        return f"\\g<{group}>" if known else written.replace("\\", "\\\\")

    return re.sub(r"\$\$|\\|\$\{([A-Za-z_]\w*)\}|\$(\d+)", rewrite, text)


class RegexGroup(CSharpObject):
    csharp_name = "Group"

    def __init__(self, value: str | None) -> None:
        self.Success = value is not None
        self.Value = value or ""


class RegexMatch(CSharpObject):
    """``System.Text.RegularExpressions.Match``: ``Success``, ``Value``, ``Groups[n]`` or
    ``Groups["name"]``."""

    csharp_name = "Match"

    def __init__(self, found: re.Match[str] | None) -> None:
        self._found = found
        self.Success = found is not None
        self.Value = found.group(0) if found else ""
        self.Index = found.start() if found else 0
        self.Length = len(self.Value)

    @property
    def Groups(self) -> _Groups:
        found = self._found
        if found is None:
            return _Groups()
        groups: dict[Any, RegexGroup] = {
            number: RegexGroup(found.group(number)) for number in range(found.re.groups + 1)
        }
        for name in found.re.groupindex:
            groups[name] = RegexGroup(found.group(name))
        return _Groups(groups)


class _Groups(CSharpObject):
    """A match's groups by number or name: one the pattern lacks reads as unmatched, as in
    .NET."""

    csharp_name = "GroupCollection"

    def __init__(self, groups: dict[Any, RegexGroup] | None = None) -> None:
        self._groups = groups or {}

    def __getitem__(self, key: Any) -> RegexGroup:
        return self._groups.get(key) or RegexGroup(None)

    @property
    def Count(self) -> int:
        return sum(1 for key in self._groups if isinstance(key, int))


def _replace(text: str, pattern: str, replacement: str, *options: Any) -> str:
    regex = _regex(pattern, options)
    return regex.sub(_replacement(replacement, regex), text)


def regex_type() -> StaticType:
    return StaticType(
        "Regex",
        {
            "IsMatch": lambda text, pattern, *options: (
                _regex(pattern, options).search(text) is not None
            ),
            "Match": lambda text, pattern, *options: RegexMatch(
                _regex(pattern, options).search(text)
            ),
            "Matches": lambda text, pattern, *options: [
                RegexMatch(found) for found in _regex(pattern, options).finditer(text)
            ],
            "Split": lambda text, pattern, *options: _regex(pattern, options).split(text),
            "Replace": _replace,
        },
    )
