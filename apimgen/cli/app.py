"""The ``apimgen`` command line: thin wrappers that call the pure core and report.

Heavy modules (pydantic models, Jinja, later the Azure SDK and numpy) are imported inside the
commands, so ``apimgen --help`` starts fast.
"""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Annotated, Any

import typer

from apimgen import __version__
from apimgen.cli.runner import (
    GlobalOptions,
    JsonOption,
    SpecArgument,
    run_command,
)
from apimgen.errors import ApimgenError, ExitCode

if TYPE_CHECKING:
    from apimgen.cli.output import Output
    from apimgen.simulate.replay.agreement import Agreement, AgreementTally
    from apimgen.simulate.results import SimulationResult
    from apimgen.simulate.scenario import LoadedScenario

__all__ = ["app", "main"]

_HELP = (
    "Declarative, testable Azure API Management AI gateways.\n\n"
    "One YAML spec describes backends, pools, token limits, metrics and caching; apimgen "
    "validates it, renders policy XML, Bicep and Terraform, simulates the policies against "
    "synthetic traffic, lints them, and plans and applies them to a live instance. Start a "
    "project with `apimgen init`.\n\n"
    "Exit codes: 0 ok; 1 error (invalid spec, unreadable file); 2 usage error "
    "(plan --detailed-exitcode: changes present); "
    "3 changes pending or rendered files stale; 4 simulation expectations failed; "
    "130 interrupted.\n\n"
    "Global options (-q, -v, --no-color, --allow-path) may also follow the command. "
    "Set APIMGEN_DEBUG=1 to see tracebacks."
)

app = typer.Typer(
    name="apimgen",
    help=_HELP,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"apimgen {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    ctx: typer.Context,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="Only errors and requested output.")
    ] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="More detail.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain text output.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    allow_path: Annotated[
        list[Path] | None,
        typer.Option(
            "--allow-path",
            metavar="DIR",
            help="Let specs and scenarios name files under DIR too (repeatable; also "
            "APIMGEN_ALLOW_PATH). By default a file may name only files in its own folder's "
            "tree: that folder, or the nearest one above it holding .apimgen-root.",
        ),
    ] = None,
) -> None:
    ctx.obj = GlobalOptions(
        quiet=quiet, verbose=verbose, color=not no_color, allow_paths=tuple(allow_path or ())
    )


@app.command()
def validate(ctx: typer.Context, spec: SpecArgument, as_json: JsonOption = False) -> None:
    """Check a spec: schema, then references and tier rules; each pass reports every problem."""

    def action(out: Output) -> int:
        from apimgen.spec.load import load_spec

        loaded = load_spec(spec)
        if as_json:
            out.json(
                {
                    "schema": "apimgen.validate/v1",
                    "ok": True,
                    "errors": [],
                    "warnings": [d.to_json() for d in loaded.warnings],
                }
            )
            return ExitCode.OK
        out.diagnostics(loaded.warnings)
        s = loaded.spec
        out.success(
            f"{spec} is valid: {len(s.apis)} API(s), {len(s.backends)} backend(s), "
            f"{len(s.pools)} pool(s), {len(s.products)} product(s), "
            f"{len(s.consumers)} consumer(s)"
        )
        return ExitCode.OK

    run_command(ctx, action, json_schema="apimgen.validate/v1" if as_json else None)


@app.command()
def render(
    ctx: typer.Context,
    spec: SpecArgument,
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="Output directory (replaced as a whole).", show_default=False
        ),
    ],
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 3 when the files on disk differ."),
    ] = False,
    formats: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="Comma-separated: policies, bicep, terraform. Bicep and Terraform load the "
            "policy files, so they always bring policies along.",
        ),
    ] = "policies,bicep,terraform",
    as_json: JsonOption = False,
) -> None:
    """Render policy XML, Bicep and Terraform into a directory, or check it is up to date."""
    chosen = _parse_formats(formats)

    def action(out: Output) -> int:
        from apimgen.pipeline import render_spec
        from apimgen.render.writer import diff_tree, write_tree

        loaded, files = render_spec(spec, chosen)
        if not as_json:
            out.diagnostics(loaded.warnings)
        if check:
            diff = diff_tree(files, output)
            if as_json:
                out.json(
                    {
                        "schema": "apimgen.render-check/v1",
                        "ok": diff.up_to_date,
                        "missing": list(diff.missing),
                        "changed": list(diff.changed),
                        "extra": list(diff.extra),
                    }
                )
            elif diff.up_to_date:
                out.success(f"{output} is up to date with {spec}")
            else:
                out.listing("missing", diff.missing, "green")
                out.listing("changed", diff.changed, "yellow")
                out.listing("not rendered any more", diff.extra, "red")
                out.error(
                    f"{output} is stale",
                    hint=f"run `apimgen render {spec} -o {output}` and commit the result",
                )
            return ExitCode.OK if diff.up_to_date else ExitCode.CHANGES
        write_tree(files, output)
        if as_json:
            out.json(
                {
                    "schema": "apimgen.render/v1",
                    "ok": True,
                    "output": str(output),
                    "files": list(files),
                    "warnings": [d.to_json() for d in loaded.warnings],
                }
            )
        else:
            for name in files:
                out.detail(f"wrote {output / name}")
            out.success(f"rendered {len(files)} file(s) from {spec} into {output}")
        return ExitCode.OK

    run_command(ctx, action, json_schema="apimgen.render/v1" if as_json else None)


@app.command()
def simulate(
    ctx: typer.Context,
    scenario: Annotated[
        Path, typer.Argument(help="Scenario file (YAML).", show_default=False, metavar="SCENARIO")
    ],
    as_json: JsonOption = False,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Write expectations as JUnit XML here.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Override the scenario's seed.")
    ] = None,
    skip_unknown: Annotated[
        bool,
        typer.Option("--skip-unknown", help="Skip policies the simulator does not model."),
    ] = False,
    report_dir: Annotated[
        Path | None,
        typer.Option("--report", help="Write PNG charts and a self-contained report.html here."),
    ] = None,
    sweep: Annotated[
        str | None,
        typer.Option(
            "--sweep",
            help="Run once per value, e.g. cache.score-threshold=0.01:0.30:0.01, and tabulate "
            "hit ratio, false hits and tokens saved.",
        ),
    ] = None,
    compare: Annotated[
        list[Path] | None,
        typer.Option(
            "--compare",
            help="Also run this scenario and put the runs side by side (repeatable, in order).",
        ),
    ] = None,
    explain: Annotated[
        str | None,
        typer.Option(
            "--explain",
            help="Show the policies the first requests ran and how each ended: N, CONSUMER "
            "(its first 3) or CONSUMER:N.",
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=0.001,
            metavar="SECONDS",
            help="Wall-clock budget for the whole command: a run still going then stops, "
            "its partial result is shown and marked, and the exit code is 1.",
        ),
    ] = None,
    requests_file: Annotated[
        Path | None,
        typer.Option(
            "--requests",
            metavar="FILE",
            help="Write every request the gateway saw, one record each: JSON lines, or CSV "
            "when FILE ends in .csv.",
        ),
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option(
            "--replay",
            metavar="LOGS",
            help="Replay the gateway's own logs (a Log Analytics export, JSON or CSV, of the "
            "query in docs/replay.md) instead of the scenario's traffic, and report how far the "
            "simulated statuses agree with the logged ones.",
        ),
    ] = None,
) -> None:
    """Run policies against synthetic traffic on a virtual clock; exit 4 if an expectation fails."""

    def action(out: Output) -> int:
        from apimgen.simulate.explain import parse_explain
        from apimgen.simulate.request_log import RequestLog
        from apimgen.simulate.run import run_scenario
        from apimgen.simulate.scenario import load_scenario

        deadline = monotonic() + timeout if timeout is not None else None
        if sweep is not None:
            _refuse_with_sweep(explain=explain is not None, requests=requests_file is not None)
            return _sweep(out, scenario, sweep, seed, skip_unknown, as_json, deadline)
        chosen = parse_explain(explain) if explain is not None else None
        paths = [scenario, *(compare or [])]
        loaded = [load_scenario(path) for path in paths]  # all inputs checked before running
        tallies = _replays(loaded, replay)
        if tallies:
            loaded = [replayed for replayed, _ in tallies]
        results: list[SimulationResult] = []
        requests = RequestLog(requests_file) if requests_file is not None else None
        for _, tally in tallies:
            tally.requests = requests
        finished = False
        try:
            for index, (path, one) in enumerate(zip(paths, loaded, strict=True)):
                if results and results[-1].stopped_at is not None:
                    break  # the budget is spent: the runs after a stopped one are not started
                with (
                    out.progress(f"simulating {path}")
                    if not as_json
                    else nullcontext(lambda fraction: None) as progress
                ):
                    results.append(
                        run_scenario(
                            one,
                            seed=seed,
                            skip_unknown=skip_unknown or None,
                            progress=progress,
                            explain=chosen,
                            deadline=deadline,
                            requests=tallies[index][1] if tallies else requests,
                        )
                    )
            finished = True
        finally:
            if requests is not None:
                # a run cut short by --timeout still leaves the requests it saw
                requests.close(keep=finished)
        if requests is not None:
            out.info(f"requests: {requests_file} ({requests.written} records)")
        stopped = results[-1].stopped_at is not None
        if stopped:
            _show_results(out, results, as_json)
            skipped = len(paths) - len(results)
            out.error(
                f"--timeout {timeout:g}: {results[-1].name} stopped at simulated second "
                f"{results[-1].stopped_at:g} of {results[-1].duration:g}; "
                "the result shown is partial"
                + (f", and {skipped} further run(s) did not start" if skipped else "")
                + "; no JUnit file or report was written",
                "raise --timeout, or shorten the scenario's duration",
            )
            return ExitCode.ERROR
        _write_junit_and_report(out, results, junit, report_dir, as_json)
        _show_results(out, results, as_json, [tally.result for _, tally in tallies])
        passed = all(result.passed for result in results)
        return ExitCode.OK if passed else ExitCode.EXPECTATIONS_FAILED

    schema = "apimgen.simulation-comparison/v1" if compare else "apimgen.simulation/v1"
    run_command(ctx, action, json_schema=schema if as_json else None)


def _refuse_with_sweep(*, explain: bool, requests: bool) -> None:
    """Options that follow one run's requests, which a sweep's many runs do not have."""
    if explain:
        raise ApimgenError(
            "--explain does not combine with --sweep",
            hint="explain one run: drop --sweep, or set the value in the scenario",
        )
    if requests:
        raise ApimgenError(
            "--requests does not combine with --sweep",
            hint="write the requests of one run: drop --sweep",
        )


def _write_junit_and_report(
    out: Output,
    results: list[SimulationResult],
    junit: Path | None,
    report_dir: Path | None,
    as_json: bool,
) -> None:
    from apimgen.simulate.junit import junit_xml

    if junit is not None:
        try:
            junit.parent.mkdir(parents=True, exist_ok=True)
            junit.write_text(junit_xml(results), encoding="utf-8")
        except OSError as exc:
            raise ApimgenError(f"{junit}: cannot write: {exc.strerror}") from None
    if report_dir is not None:
        from apimgen.report.build import write_report

        with out.progress(f"drawing the report in {report_dir}") if not as_json else nullcontext():
            written = write_report(results, report_dir)
        out.info(f"report: {report_dir / 'report.html'} ({len(written)} files)")


def _replays(
    loaded: list[LoadedScenario], logs: Path | None
) -> list[tuple[LoadedScenario, AgreementTally]]:
    """Each scenario with the logged calls as its traffic (--replay, or the first scenario's
    ``replay:``), and the tally that compares its statuses with the log."""
    from apimgen.simulate.replay.agreement import AgreementTally
    from apimgen.simulate.replay.export import read_export
    from apimgen.simulate.replay.to_scenario import replay_scenario

    source = logs
    if source is None and loaded[0].scenario.replay is not None:
        source = loaded[0].base_dir / loaded[0].scenario.replay
    if source is None:
        return []
    calls = read_export(source)
    tallies = []
    for one in loaded:
        replayed = replay_scenario(one, calls)
        tallies.append((replayed.loaded, AgreementTally(replayed.calls)))
    return tallies


def _show_results(
    out: Output,
    results: list[SimulationResult],
    as_json: bool,
    agreements: list[Agreement] | None = None,
) -> None:
    agreements = agreements or []
    documents = [result.to_json() for result in results]
    for document, agreement in zip(documents, agreements, strict=False):
        document["replay"] = agreement.to_json()
    if as_json:
        out.json(
            documents[0]
            if len(results) == 1
            else {
                "schema": "apimgen.simulation-comparison/v1",
                "runs": documents,
                "passed": all(result.passed for result in results),
            }
        )
    else:
        for index, result in enumerate(results):
            out.simulation(result)
            if index < len(agreements):
                out.lines([("", line) for line in agreements[index].lines()])


def _sweep(
    out: Output,
    scenario: Path,
    sweep: str,
    seed: int | None,
    skip_unknown: bool,
    as_json: bool,
    deadline: float | None,
) -> int:
    from apimgen.simulate.scenario import load_scenario
    from apimgen.simulate.sweep import parse_sweep, run_sweep

    name, values = parse_sweep(sweep)
    loaded = load_scenario(scenario)
    with (
        out.progress(f"sweeping {name} over {len(values)} values")
        if not as_json
        else nullcontext(lambda fraction: None) as progress
    ):
        rows = run_sweep(
            loaded,
            values,
            seed=seed,
            skip_unknown=skip_unknown or None,
            progress=progress,
            deadline=deadline,
        )
    if as_json:
        out.json(
            {"schema": "apimgen.sweep/v1", "setting": name, "rows": [r.to_json() for r in rows]}
        )
    else:
        out.sweep(name, rows)
    if len(rows) < len(values):
        out.error(
            f"--timeout: the sweep stopped after {len(rows)} of {len(values)} values; the "
            "rows shown are the runs that finished",
            "raise --timeout, or sweep fewer values",
        )
        return ExitCode.ERROR
    return ExitCode.OK


@app.command()
def lint(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Policy XML files, folders of them, or specs.", show_default=False),
    ] = None,
    as_json: JsonOption = False,
    list_rules: Annotated[
        bool, typer.Option("--rules", help="List the rules with severity and rationale.")
    ] = False,
    sarif: Annotated[
        Path | None, typer.Option("--sarif", help="Also write SARIF 2.1.0 here (code scanning).")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="YAML with `disable: [rule ids]` and `severity: {id: level}`."
        ),
    ] = None,
) -> None:
    """Find the known traps in policy XML and specs; exit 1 on an error-level finding."""

    if not paths and not list_rules:
        raise typer.BadParameter("give at least one path (or --rules)", param_hint="PATHS")

    def action(out: Output) -> int:
        from apimgen.lint.config import load_lint_config
        from apimgen.lint.report import rules_json, to_json, to_sarif, to_text
        from apimgen.lint.runner import lint_paths

        if list_rules:
            listing = rules_json()
            if as_json:
                out.json({"rules": listing})
            else:
                out.rules(listing)
            return ExitCode.OK
        report = lint_paths(list(paths or ()), load_lint_config(config))
        if sarif is not None:
            try:
                sarif.parent.mkdir(parents=True, exist_ok=True)
                sarif.write_text(json.dumps(to_sarif(report), indent=2) + "\n", encoding="utf-8")
            except OSError as exc:
                raise ApimgenError(f"{sarif}: cannot write: {exc.strerror}") from None
        if as_json:
            out.json(to_json(report))
        else:
            for finding in report.findings:
                out.lint_finding(to_text(finding), finding.severity)
            warnings = len(report.findings) - report.errors
            out.info(
                f"{report.files} file(s) linted: {report.errors} error(s), {warnings} warning(s)"
            )
        return ExitCode.ERROR if report.errors else ExitCode.OK

    run_command(ctx, action, json_schema="apimgen.lint/v1" if as_json else None)


_FORMATS = ("policies", "bicep", "terraform")


def _parse_formats(text: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [f for f in chosen if f not in _FORMATS]
    if not chosen or unknown:
        raise typer.BadParameter(
            f"unknown format {', '.join(unknown) or text!r}; choose from {', '.join(_FORMATS)}",
            param_hint="--format",
        )
    return chosen


@app.command()
def schema(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write to this file instead of stdout."),
    ] = None,
) -> None:
    """Print the JSON Schema of the spec, for editors and CI."""

    def action(out: Output) -> int:
        from apimgen.spec.schema import spec_json_schema

        text = spec_json_schema()
        if output is None:
            out.raw(text)
        else:
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise ApimgenError(f"{output}: cannot write: {exc.strerror}") from None
            out.success(f"wrote {output}")
        return ExitCode.OK

    run_command(ctx, action)


def _register_commands() -> None:
    from apimgen.cli import deploy_commands, init_command

    app.command()(deploy_commands.plan)
    app.command()(deploy_commands.apply)
    app.command(name="import")(deploy_commands.import_)
    app.command()(init_command.init)


_register_commands()

_GLOBAL_FLAGS = frozenset({"-q", "--quiet", "-v", "--verbose", "--no-color"})
_GLOBAL_OPTION = "--allow-path"  # the one global option that takes a value


def _hoist_global_flags(argv: list[str]) -> list[str]:
    """Let ``apimgen render spec.yaml -v`` work like ``apimgen -v render spec.yaml``."""
    args = list(argv)
    if "--" in args:
        cut = args.index("--")
        head, tail = args[:cut], args[cut:]
    else:
        head, tail = args, []
    flags: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(head):
        arg = head[index]
        if arg in _GLOBAL_FLAGS or arg.startswith(f"{_GLOBAL_OPTION}="):
            flags.append(arg)
        elif arg == _GLOBAL_OPTION and index + 1 < len(head):
            flags += head[index : index + 2]
            index += 1
        else:
            rest.append(arg)
        index += 1
    return [*flags, *rest, *tail]


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    args = sys.argv[1:] if argv is None else argv
    return app(args=_hoist_global_flags(args), prog_name="apimgen")
