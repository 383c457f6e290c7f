"""What every command shares: the global options, the Output it prints through, and the one
place where user errors become messages and exit codes."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from apimgen.errors import ApimgenError, ExitCode, SpecError

if TYPE_CHECKING:
    from apimgen.cli.output import Output

__all__ = ["GlobalOptions", "JsonOption", "SpecArgument", "output_for", "run_command"]


@dataclass(frozen=True)
class GlobalOptions:
    quiet: bool
    verbose: bool
    color: bool
    allow_paths: tuple[Path, ...] = ()


def output_for(ctx: typer.Context) -> Output:
    from apimgen.cli.output import Output

    options: GlobalOptions = ctx.obj or GlobalOptions(False, False, True)
    return Output(quiet=options.quiet, verbose=options.verbose, color=options.color)


def run_command(
    ctx: typer.Context,
    action: Callable[[Output], int],
    *,
    json_schema: str | None = None,
) -> NoReturn:
    """Run a command body, turning user errors into messages and exit codes."""
    from apimgen.files import allowed_paths

    out = output_for(ctx)
    options: GlobalOptions = ctx.obj or GlobalOptions(False, False, True)
    try:
        with allowed_paths(options.allow_paths):
            code = action(out)
    except ApimgenError as exc:
        if os.environ.get("APIMGEN_DEBUG"):
            raise
        errors = [d for d in exc.diagnostics if d.severity.name == "ERROR"]
        warnings = [d for d in exc.diagnostics if d.severity.name == "WARNING"]
        if json_schema:
            out.json(
                {
                    "schema": json_schema,
                    "ok": False,
                    "errors": [d.to_json() for d in errors],
                    "warnings": [d.to_json() for d in warnings],
                }
            )
        elif isinstance(exc, SpecError):
            out.diagnostics(exc.diagnostics)
            count = len(errors)
            out.err.print(f"[red]{count} error{'s' if count != 1 else ''}[/red]")
        elif exc.location is not None:
            out.diagnostics(exc.diagnostics)
        else:
            out.error(exc.message, exc.hint)
        code = exc.exit_code
    except KeyboardInterrupt:
        out.error("interrupted")
        code = ExitCode.INTERRUPTED
    except (RecursionError, MemoryError) as exc:  # a bound apimgen lacks: still no traceback
        if os.environ.get("APIMGEN_DEBUG"):
            raise
        out.error(
            f"the input is too large or too deeply nested to process ({type(exc).__name__})",
            hint="see the limits table in docs/limits.md; rerun with APIMGEN_DEBUG=1 and "
            "report the input that got past them",
        )
        code = ExitCode.ERROR
    except Exception as exc:  # a bug in apimgen, not the user's input
        if os.environ.get("APIMGEN_DEBUG"):
            raise
        out.error(
            f"internal error: {type(exc).__name__}: {exc}",
            hint="this is a bug in apimgen; rerun with APIMGEN_DEBUG=1 and report the traceback",
        )
        code = ExitCode.ERROR
    raise typer.Exit(int(code))


SpecArgument = Annotated[
    Path, typer.Argument(help="Spec file (YAML).", show_default=False, metavar="SPEC")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
