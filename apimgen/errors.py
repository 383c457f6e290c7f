"""The one tree of user-facing errors, and the exit codes they map to.

Every failure a user can cause ends as an :class:`ApimgenError`; the CLI catches the base class in
one place, prints it to stderr and exits with its ``exit_code``. Constructing an error never prints.

::

    ApimgenError                      exit 1
    ├── InputError                    a file could not be read (missing, directory, not UTF-8)
    ├── SpecError                     one or more located problems in a spec (all of them at once)
    └── OutputError                   an output directory could not be written safely

Exit codes (also listed in ``apimgen --help``): 0 ok, 1 error, 2 usage, 3 changes pending / stale
artifacts, 4 failed simulation expectations, 130 interrupted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "ApimgenError",
    "Diagnostic",
    "ExitCode",
    "InputError",
    "Location",
    "OutputError",
    "Severity",
    "SpecError",
]


class ExitCode(IntEnum):
    """Process exit codes; stable, documented, and tested one by one."""

    OK = 0
    ERROR = 1
    USAGE = 2
    CHANGES = 3
    EXPECTATIONS_FAILED = 4
    INTERRUPTED = 130


@dataclass(frozen=True, order=True)
class Location:
    """A place in a user's file; line and column are 1-based as editors show them."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


class Severity(IntEnum):
    """Ordered so that ``max()`` over findings gives the worst one."""

    WARNING = 1
    ERROR = 2


@dataclass(frozen=True)
class Diagnostic:
    """One located finding: what is wrong, where, and how to fix it when that is obvious."""

    location: Location
    key_path: str
    message: str
    hint: str = ""
    severity: Severity = Severity.ERROR

    def render(self) -> str:
        """One line in the ``file:line:col: key.path: message`` shape compilers use."""
        prefix = f"{self.location}: "
        if self.severity is Severity.WARNING:
            prefix += "warning: "
        key = f"{self.key_path}: " if self.key_path else ""
        text = f"{prefix}{key}{self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
            "key": self.key_path,
            "severity": self.severity.name.lower(),
            "message": self.message,
            "hint": self.hint or None,
        }


class ApimgenError(Exception):
    """Base of every error a user can cause; the CLI maps it to ``exit_code``."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str = "", location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """The error as located findings, so text and JSON views share one shape."""
        location = self.location or Location("apimgen")
        return (Diagnostic(location, "", self.message, self.hint),)


class InputError(ApimgenError):
    """A file could not be read at all (missing, a directory, not UTF-8, not YAML)."""


class OutputError(ApimgenError):
    """An output directory could not be written without risking the user's files."""


class SpecError(ApimgenError):
    """All located problems found in one spec file, reported together."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        errors = [d for d in diagnostics if d.severity is Severity.ERROR]
        count = len(errors)
        super().__init__(f"{count} error{'s' if count != 1 else ''} in spec")
        self._diagnostics = tuple(diagnostics)

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        return self._diagnostics
