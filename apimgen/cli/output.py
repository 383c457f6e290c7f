"""All terminal output: the only module that imports rich (enforced by ruff's banned-api).

Results go to stdout, diagnostics and progress to stderr. Colour is off when the stream is not a
terminal, when NO_COLOR is set, or with ``--no-color``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape

from apimgen.errors import Diagnostic, Severity

__all__ = ["Output"]


@dataclass
class Output:
    """Console pair plus verbosity; built once per invocation from the global options."""

    quiet: bool = False
    verbose: bool = False
    color: bool = True

    def __post_init__(self) -> None:
        no_color = not self.color or bool(os.environ.get("NO_COLOR"))
        self.out = Console(file=sys.stdout, no_color=no_color, highlight=False, soft_wrap=True)
        self.err = Console(
            file=sys.stderr, no_color=no_color, highlight=False, soft_wrap=True, stderr=True
        )

    def diagnostics(self, items: tuple[Diagnostic, ...] | list[Diagnostic]) -> None:
        """Errors always show; warnings unless ``--quiet``."""
        for item in items:
            if item.severity is Severity.WARNING and self.quiet:
                continue
            style = "yellow" if item.severity is Severity.WARNING else "red"
            head, _, hint = item.render().partition("\n")
            self.err.print(f"[{style}]{escape(head)}[/{style}]")
            if hint:
                self.err.print(f"[dim]{escape(hint)}[/dim]")

    def error(self, message: str, hint: str = "") -> None:
        self.err.print(f"[red]error:[/red] {escape(message)}")
        if hint:
            self.err.print(f"[dim]    hint: {escape(hint)}[/dim]")

    def success(self, message: str) -> None:
        if not self.quiet:
            self.out.print(f"[green]✓[/green] {escape(message)}")

    def info(self, message: str) -> None:
        """Progress and context for humans: stderr, hidden by ``--quiet``."""
        if not self.quiet:
            self.err.print(escape(message))

    def detail(self, message: str) -> None:
        """Only with ``--verbose``."""
        if self.verbose and not self.quiet:
            self.err.print(f"[dim]{escape(message)}[/dim]")

    def listing(self, title: str, names: list[str] | tuple[str, ...], style: str) -> None:
        if names and not self.quiet:
            self.out.print(f"{escape(title)}:")
            for name in names:
                self.out.print(f"  [{style}]{escape(name)}[/{style}]")

    def json(self, document: dict[str, Any]) -> None:
        """One JSON document on stdout, never coloured, always newline-terminated."""
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")
        sys.stdout.flush()

    def raw(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()
