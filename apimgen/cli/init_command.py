"""``apimgen init``: ask a few questions on a terminal (or take flags), write a green project."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from apimgen.cli.runner import run_command
from apimgen.errors import ExitCode

if TYPE_CHECKING:
    from apimgen.cli.output import Output

__all__ = ["init"]


def _interactive() -> bool:
    return sys.stdin.isatty()


def init(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Argument(help="Project directory (created if missing).", metavar="[DIR]")
    ] = Path("."),
    name: Annotated[
        str | None, typer.Option("--name", help="Gateway (API Management) name.")
    ] = None,
    resource_group: Annotated[
        str | None, typer.Option("--resource-group", "-g", help="Resource group [rg-NAME].")
    ] = None,
    location: Annotated[str | None, typer.Option("--location", help="Azure region.")] = None,
    publisher_email: Annotated[
        str | None, typer.Option("--publisher-email", help="Publisher email of the service.")
    ] = None,
    tokens_per_minute: Annotated[
        int | None,
        typer.Option("--tokens-per-minute", help="Token limit per subscription (1000-20000)."),
    ] = None,
    ci: Annotated[
        str | None,
        typer.Option("--ci", help="CI recipe: github, azure-pipelines or none [github]."),
    ] = None,
    defaults: Annotated[
        bool, typer.Option("--defaults", help="Ask nothing; use the defaults for what is unset.")
    ] = False,
) -> None:
    """Start a project: spec, scenario, rendered artifacts and a CI workflow, all green."""

    def action(out: Output) -> int:
        from apimgen.scaffold import CI_RECIPES, Answers, write_project

        base = Answers()
        ask = _interactive() and not defaults

        def value(given: str | None, question: str, default: str) -> str:
            if given is not None or not ask:
                return default if given is None else given
            return str(typer.prompt(question, default=default))

        gateway = value(name, "Gateway name", base.name)
        group = value(resource_group, "Resource group", f"rg-{gateway}")
        region = value(location, "Azure region", base.location)
        email = value(publisher_email, "Publisher email", base.publisher_email)
        tpm = tokens_per_minute
        if tpm is None:  # on a terminal typer asks again until the answer is a whole number
            question = "Tokens per minute per subscription"
            default = base.tokens_per_minute
            tpm = typer.prompt(question, default=default, type=int) if ask else default
        recipe = value(ci, f"CI recipe ({', '.join(CI_RECIPES)})", base.ci)
        answers = Answers(gateway, group, region, base.publisher_name, email, tpm, recipe)
        written = write_project(directory, answers)
        out.success(f"created {len(written)} entries in {directory}: {', '.join(written)}")
        out.info(
            "Next: apimgen validate gateway.yaml · apimgen lint gateway.yaml · "
            "apimgen simulate scenario.yaml · apimgen plan gateway.yaml (against Azure)"
        )
        return ExitCode.OK

    run_command(ctx, action)
