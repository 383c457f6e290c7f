"""``Regex`` in policy expressions: .NET patterns run by the ``regex`` package (named groups
and back-references rewritten), ``RegexOptions`` as flags, and the ``Match``/``Group`` objects
policies read (Learn's own example reads ``Groups["maxAge"]``).

Every match runs with a time limit, as a .NET ``Regex`` with a match timeout does: a pattern
that backtracks catastrophically (``^(a+)+$`` on forty ``a`` and a ``b``) throws
``RegexMatchTimeoutException`` into ``on-error`` instead of hanging the simulation. Python's
``re`` cannot be interrupted; ``regex`` takes a ``timeout``. The limit is wall-clock time, so a
pattern that finishes within a factor of a thousand of it could tell two machines apart; to
keep runs repeatable, a (pattern, input) pair that timed out once times out at once for the
rest of the process.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import regex

from apimgen.limits import REGEX_MATCH_TIMEOUT_SECONDS
from apimgen.simulate.expr.typesystem import CSharpObject, StaticType
from apimgen.simulate.expr.values import CSharpError, EnumValue

__all__ = ["REGEX_METHODS", "REGEX_OPTIONS", "RegexMatch", "python_pattern", "regex_type"]


REGEX_OPTIONS = {
    "None": 0,
    "IgnoreCase": regex.IGNORECASE,
    "Multiline": regex.MULTILINE,
    "Singleline": regex.DOTALL,
    "Compiled": 0,
    "CultureInvariant": 0,
    "ExplicitCapture": 0,
}


def python_pattern(pattern: str) -> str:
    """A .NET pattern in Python's syntax: named groups ``(?<name>...)`` and ``\\k<name>``
    back-references rewritten."""
    translated = re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", pattern)
    return re.sub(r"\\k<([A-Za-z_]\w*)>", r"(?P=\1)", translated)


def _regex(pattern: str, options: tuple[Any, ...]) -> regex.Pattern[str]:
    """A .NET pattern as Python reads it: named groups ``(?<name>...)`` and
    ``\\k<name>`` back-references rewritten, ``RegexOptions`` as flags."""
    flags = 0
    for option in options:
        if isinstance(option, EnumValue):
            flags |= REGEX_OPTIONS.get(str(option), 0)
    translated = python_pattern(pattern)
    try:
        with warnings.catch_warnings():  # Python's notes on its own future syntax ([a--b]...)
            warnings.simplefilter("ignore", FutureWarning)
            return regex.compile(translated, flags)
    except regex.error as error:
        raise CSharpError("ArgumentException", f"invalid pattern '{pattern}': {error}") from None


# (pattern, flags, input) triples that ran out of time once: they fail at once from then on.
_TIMED_OUT: set[tuple[str, int, str]] = set()
_TIMED_OUT_KEPT = 1024


def _timed(compiled: regex.Pattern[str], text: str, run: Any) -> Any:
    """``run()`` (one match, search, split or replace on ``text``), or the .NET timeout."""
    key = (compiled.pattern, compiled.flags, text)
    if key in _TIMED_OUT:
        raise _timeout(compiled.pattern)
    try:
        return run()
    except TimeoutError:
        if len(_TIMED_OUT) >= _TIMED_OUT_KEPT:
            _TIMED_OUT.clear()
        _TIMED_OUT.add(key)
        raise _timeout(compiled.pattern) from None


def _timeout(pattern: str) -> CSharpError:
    return CSharpError(
        "RegexMatchTimeoutException",
        f"matching '{pattern}' ran past the {REGEX_MATCH_TIMEOUT_SECONDS:g} s match timeout "
        f"(nested quantifiers and back-references can backtrack for hours on a short input)",
    )


def _replacement(text: str, compiled: regex.Pattern[str]) -> str:
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
        known = group in compiled.groupindex if found.group(1) else int(group) <= compiled.groups
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

    def __init__(self, found: regex.Match[str] | None) -> None:
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


_LIMIT = REGEX_MATCH_TIMEOUT_SECONDS


def _is_match(text: str, pattern: str, *options: Any) -> bool:
    compiled = _regex(pattern, options)
    return _timed(compiled, text, lambda: compiled.search(text, timeout=_LIMIT)) is not None


def _match(text: str, pattern: str, *options: Any) -> RegexMatch:
    compiled = _regex(pattern, options)
    return RegexMatch(_timed(compiled, text, lambda: compiled.search(text, timeout=_LIMIT)))


def _matches(text: str, pattern: str, *options: Any) -> list[RegexMatch]:
    compiled = _regex(pattern, options)
    found = _timed(compiled, text, lambda: list(compiled.finditer(text, timeout=_LIMIT)))
    return [RegexMatch(one) for one in found]


def _split(text: str, pattern: str, *options: Any) -> list[str | None]:
    compiled = _regex(pattern, options)
    return _timed(compiled, text, lambda: compiled.split(text, timeout=_LIMIT))  # type: ignore[no-any-return]


def _replace(text: str, pattern: str, replacement: str, *options: Any) -> str:
    compiled = _regex(pattern, options)
    rewritten = _replacement(replacement, compiled)
    return _timed(compiled, text, lambda: compiled.sub(rewritten, text, timeout=_LIMIT))  # type: ignore[no-any-return]


REGEX_METHODS = {
    "IsMatch": _is_match,
    "Match": _match,
    "Matches": _matches,
    "Split": _split,
    "Replace": _replace,
}


def regex_type() -> StaticType:
    return StaticType("Regex", dict(REGEX_METHODS))
