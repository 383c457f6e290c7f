"""All terminal output: the only module that imports rich (enforced by ruff's banned-api).

Results go to stdout, diagnostics and progress to stderr. Colour is off when the stream is not a
terminal, when NO_COLOR is set, or with ``--no-color``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from apimgen.errors import Diagnostic, Severity

if TYPE_CHECKING:
    from apimgen.simulate.explain import ExplainedRequest
    from apimgen.simulate.results import SimulationResult
    from apimgen.simulate.sweep import SweepRow

__all__ = ["PROGRESS_AFTER_SECONDS", "Output"]

PROGRESS_AFTER_SECONDS = 1.0  # work quicker than this shows no progress bar


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

    def lint_finding(self, text: str, severity: Severity) -> None:
        """A lint finding on stdout (findings are the command's result)."""
        head, _, hint = text.partition("\n")
        style = "red" if severity is Severity.ERROR else "yellow"
        self.out.print(f"[{style}]{escape(head)}[/{style}]")
        if hint:
            self.out.print(f"[dim]{escape(hint)}[/dim]")

    def sweep(self, setting: str, rows: list[SweepRow]) -> None:
        """One row per swept value: what the cache gains and what it gets wrong."""
        from rich.table import Table

        table = Table(title=f"Sweep of {setting}", title_justify="left")
        for column in ("value", "hit ratio", "false hits", "tokens saved", "backend tokens"):
            table.add_column(column, justify="right")
        for row in rows:
            table.add_row(
                f"{row.value:g}",
                f"{row.hit_ratio:.0%}",
                f"{row.false_hit_ratio:.0%}",
                f"{row.tokens_saved:,}",
                f"{row.backend_tokens:,}",
            )
        self.out.print(table)
        self.out.print(
            "false hits: cached answers served to a question of another paraphrase group "
            "(counted when the scenario gives prompt_groups)"
        )

    def rules(self, rules: list[dict[str, str]]) -> None:
        """The lint rule catalogue, one table row per rule."""
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for column in ("id", "name", "severity", "rationale"):
            table.add_column(column, overflow="fold")
        for rule in rules:
            table.add_row(
                *(escape(rule[column]) for column in ("id", "name", "severity", "rationale"))
            )
        self.out.print(table)

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

    def lines(self, lines: list[tuple[str, str]]) -> None:
        """Pre-formatted (style, text) lines on stdout; style "" is plain."""
        for style, text in lines:
            self.out.print(f"[{style}]{escape(text)}[/{style}]" if style else escape(text))

    def json(self, document: dict[str, Any]) -> None:
        """One JSON document on stdout, never coloured, always newline-terminated."""
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")
        sys.stdout.flush()

    def _explained(self, request: ExplainedRequest, epoch: datetime) -> None:
        """One request's path through the policies, then how it ended (``--explain``)."""

        def clock(seconds: float) -> str:
            return (epoch + timedelta(seconds=seconds)).strftime("%H:%M:%S.%f")[:-3]

        ending = f"{request.status}"
        if request.error is not None:
            ending += f" {request.error[0]}: {request.error[1]}"
        if request.tokens:
            ending += f", {request.tokens} tokens"
        if request.backend:
            ending += f", backend {request.backend}"
        if request.from_cache:
            ending += ", from the cache"
        self.out.print(
            f"[bold]{escape(request.request)}[/bold] ({escape(request.consumer)}) arrived "
            f"{clock(request.arrived)}, answered {clock(request.answered)}: {escape(ending)}"
        )
        for step in request.steps:
            outcome = f"  {escape(step.outcome)}" if step.outcome else ""
            self.out.print(
                f"  {clock(step.time)}  {step.section:<9} {escape(step.policy):<32} "
                f"{escape(step.at)}{outcome}"
            )
        if request.variables:
            shown = ", ".join(f"{name}={value}" for name, value in request.variables.items())
            self.out.print(f"  variables: {escape(shown)}")

    def simulation(self, result: SimulationResult) -> None:
        """Per-consumer, per-backend and expectation tables for a finished run."""
        from rich.table import Table

        minutes = max(1, int(result.duration // 60))
        self.out.print(
            f"[bold]{escape(result.name)}[/bold]: {result.total_requests} requests over "
            f"{minutes} min from {result.starts_at:%Y-%m-%d %H:%M} UTC (seed {result.seed})"
        )
        if result.stopped_at is not None:
            self.out.print(
                f"[bold red]PARTIAL[/bold red]: --timeout stopped this run at simulated second "
                f"{result.stopped_at:g}; the tables cover only the time before it"
            )
        consumers = Table(title="Consumers", title_justify="left")
        other = any(stats.other_client_errors for stats in result.consumers.values())
        columns = ["consumer", "requests", "200", "429", "403"]
        columns += ["other 4xx"] if other else []  # validate-content's 400s, validate-jwt's 401s
        for column in (*columns, "5xx", "tokens", "max tokens/min"):
            consumers.add_column(column, justify="left" if column == "consumer" else "right")
        for name, stats in result.consumers.items():
            cells = [str(stats.statuses[200]), str(stats.statuses[429]), str(stats.statuses[403])]
            cells += [str(stats.other_client_errors)] if other else []
            consumers.add_row(
                escape(name),
                str(stats.requests),
                *cells,
                str(stats.server_errors),
                str(stats.tokens),
                str(max(stats.tokens_per_minute.values(), default=0)),
            )
        self.out.print(consumers)
        clients = _clients_table(result)
        if clients is not None:
            self.out.print(clients)
        self.out.print(_backends_table(result))
        self.out.print(_minute_table(result, minutes))
        series = [result.tokens_per_minute.get(m, 0) for m in range(minutes)]
        peak = max(series, default=0)
        self.out.print(f"tokens served per minute: {_sparkline(series)}  (peak {peak})")
        if result.endpoint_calls:
            calls = ", ".join(f"{url} {n}" for url, n in sorted(result.endpoint_calls.items()))
            self.out.print(escape(f"send-request calls per endpoint: {calls}"))
        for policy, sinks in result.log_records.items():
            written = ", ".join(f"{sink} {n}" for sink, n in sinks.items())
            self.out.print(escape(f"{policy} records written: {written}"))
        cache = result.semantic_cache
        if cache:
            # Hits are judged true or false only when both prompts belong to paraphrase groups.
            unjudged = cache["hits"] - cache["true_hits"] - cache["false_hits"]
            self.out.print(
                escape(
                    f"semantic cache ({cache['embedder'] or 'no embedder loaded'}, distance scale "
                    f"{cache['distance_scale']:g}): {cache['hits']}/{cache['lookups']} hits "
                    f"({cache['hit_ratio']:.0%}), {cache['true_hits']} true, "
                    f"{cache['false_hits']} false"
                    + (f", {unjudged} outside paraphrase groups" if unjudged else "")
                    + f", {cache['stores']} stored, "
                    f"{cache['skipped']} skipped, {cache['tokens_saved']:,} backend tokens saved; "
                    f"{cache['lookups']} embedding calls ({cache['embedding_tokens']:,} tokens)"
                )
            )
            if cache.get("warning"):
                self.err.print(f"[yellow]warning:[/yellow] {escape(cache['warning'])}")
        self._warnings(result)
        if result.explained:
            self.out.print("[bold]Explained requests[/bold] (the policies each ran, in order)")
        for explained in result.explained:
            self._explained(explained, result.starts_at)
        if result.expectations:
            table = Table(title="Expectations", title_justify="left")
            for column in ("", "expectation", "measured", "expected"):
                table.add_column(column)
            for expectation in result.expectations:
                mark = "[green]pass[/green]" if expectation.passed else "[red]FAIL[/red]"
                table.add_row(
                    mark, escape(expectation.name), f"{expectation.measured:g}", expectation.bound
                )
            self.out.print(table)

    def _warnings(self, result: SimulationResult) -> None:
        """What a run's tables do not show: answers that lost their body or never reached a
        backend, why calls failed, policies skipped."""
        if result.empty_bodies:
            self.out.print(
                f"[yellow]{result.empty_bodies} answers reached their callers with no body:"
                "[/yellow] a policy read it without preserveContent: true (apimgen lint: APIM024)"
            )
        if result.unforwarded:
            self.out.print(
                f"[yellow]{result.unforwarded} calls were never forwarded:[/yellow] no "
                "forward-request ran, so the gateway answered them itself (200 with no body "
                "unless outbound set one); check the backend sections and their <base/>"
            )
        if result.errors:
            self.out.print("[red]why calls failed[/red] (most common first):")
            for error, count in result.errors.most_common(5):
                self.out.print(f"  {count:>6} x {escape(error)}")
        if result.skipped_policies:
            self.out.print("[yellow]skipped policies (not simulated):[/yellow]")
            for entry in result.skipped_policies:
                self.out.print(f"  {escape(entry)}")

    @contextmanager
    def progress(
        self, label: str, clock: Callable[[], float] = time.monotonic
    ) -> Iterator[Callable[[float], None]]:
        """A transient progress bar on stderr when it is a terminal, shown once the work has
        taken a second (a quick run prints no bar that flickers away); a no-op otherwise."""
        if self.quiet or not self.err.is_terminal:
            yield lambda fraction: None
            return
        started = clock()
        shown: list[Any] = []  # the bar and its task, once shown

        def update(fraction: float) -> None:
            if not shown:
                if clock() - started < PROGRESS_AFTER_SECONDS:
                    return
                from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

                columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
                bar = Progress(*columns, console=self.err, transient=True)
                bar.start()
                shown.extend((bar, bar.add_task(escape(label), total=1.0)))
            bar, task = shown
            bar.update(task, completed=fraction)

        try:
            yield update
        finally:
            if shown:
                shown[0].stop()

    def raw(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()


_BARS = "▁▂▃▄▅▆▇█"
_MAX_ROWS = 30


def _clients_table(result: SimulationResult) -> Any:
    """The calls of consumers with a retrying client, as the application saw them: the
    attempts above are what the gateway saw."""
    from rich.table import Table

    rows = [(name, stats.client) for name, stats in result.consumers.items() if stats.client]
    if not rows:
        return None
    title = "Calls as the application saw them (through its retrying client)"
    table = Table(title=title, title_justify="left")
    columns = ("consumer", "client", "calls", "ok", "ok late", "retries", "waited s", "p95 s")
    for column in columns:
        table.add_column(column, justify="left" if column in ("consumer", "client") else "right")
    for name, client in rows:
        assert client is not None
        table.add_row(
            escape(name),
            client.preset.removeprefix("openai-"),
            str(client.calls),
            str(client.succeeded),
            str(client.recovered),
            str(client.retries),
            f"{client.waited:.0f}",
            f"{client.latency(0.95):.1f}",
        )
    return table


def _backends_table(result: SimulationResult) -> Any:
    """Calls, tokens, 429s and trips per backend, with the semantic cache's embedding calls
    on the backend that served them when there were any."""
    from rich.table import Table

    backends = Table(title="Backends", title_justify="left")
    embedding = any(backend.embedding_calls for backend in result.backends.values())
    columns = ["backend", "calls", "tokens", "throttled (429)", "breaker trips"]
    columns += ["embedding calls (tokens)"] if embedding else []  # the cache's lookups
    for column in columns:
        backends.add_column(column, justify="left" if column == "backend" else "right")
    for name, backend in result.backends.items():
        cells = [str(backend.requests), str(backend.tokens), str(backend.throttled)]
        cells.append(str(backend.trips))
        if embedding:
            cells.append(f"{backend.embedding_calls} ({backend.embedding_tokens:,})")
        backends.add_row(escape(name), *cells)
    return backends


def _minute_table(result: SimulationResult, minutes: int) -> Any:
    """Tokens served per minute (or per few minutes, to keep at most 30 rows) per consumer."""
    from rich.table import Table

    step = -(-minutes // _MAX_ROWS)
    label = "UTC (minute)" if step == 1 else f"UTC (minutes, {step} per row)"
    table = Table(title="Tokens served", title_justify="left")
    table.add_column(label)
    for name in result.consumers:
        table.add_column(escape(name), justify="right")
    table.add_column("total", justify="right")
    for start in range(0, minutes, step):
        span = range(start, min(start + step, minutes))
        at = result.starts_at + timedelta(minutes=start)  # the wall clock, for time rules
        row = [f"{at:%H:%M} ({start})" if step == 1 else f"{at:%H:%M} ({start}-{span[-1]})"]
        for stats in result.consumers.values():
            row.append(str(sum(stats.tokens_per_minute.get(m, 0) for m in span)))
        row.append(str(sum(result.tokens_per_minute.get(m, 0) for m in span)))
        table.add_row(*row)
    return table


def _sparkline(values: list[int]) -> str:
    peak = max(values, default=0)
    if not peak:
        return _BARS[0] * len(values)
    return "".join(_BARS[min(len(_BARS) - 1, v * (len(_BARS) - 1) // peak)] for v in values)
