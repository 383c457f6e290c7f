"""One self-contained HTML page per report: charts inlined as data URIs, no external reference,
so it opens from a CI artifact or an e-mail without network access."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from functools import cache
from typing import Any

import jinja2

from apimgen.report.charts import Chart
from apimgen.resources import template_dir
from apimgen.simulate.results import SimulationResult

__all__ = ["report_html"]


@cache
def _environment() -> jinja2.Environment:
    # Unlike the policy templates, this one is HTML: names from scenarios are escaped.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def verdict(result: SimulationResult) -> str:
    """The run in one line: expectations, then what a reader checks first."""
    passed = sum(1 for e in result.expectations if e.passed)
    parts = [
        f"{passed} of {len(result.expectations)} expectations hold"
        if result.expectations
        else "no expectations",
        f"{result.total_requests:,} requests",
        f"{result.backend_tokens:,} backend tokens",
    ]
    refused = {
        status: sum(c.statuses.get(status, 0) for c in result.consumers.values())
        for status in (429, 403)
    }
    parts += [f"{count:,} refused with {status}" for status, count in refused.items() if count]
    cache = result.semantic_cache
    if cache and cache.get("lookups"):
        parts.append(
            f"semantic cache: {float(cache['hit_ratio']):.0%} of lookups hit, "
            f"{int(cache['tokens_saved']):,} tokens kept from the backends"
        )
    return "; ".join(parts)


def _chart_view(chart: Chart, prefix: str) -> dict[str, Any]:
    return {
        "id": prefix + chart.file.removesuffix(".png"),
        "title": chart.title,
        "caption": chart.caption,
        "data": base64.b64encode(chart.png).decode("ascii"),
    }


def _run_view(index: int, result: SimulationResult, charts: Sequence[Chart]) -> dict[str, Any]:
    total = sum(c.tokens for c in result.consumers.values()) or 1
    return {
        "anchor": f"run-{index}",
        "verdict": verdict(result),
        "passed": result.passed,
        "name": result.name,
        "requests": result.total_requests,
        "minutes": result.minutes,
        "seed": result.seed,
        "starts_at": f"{result.starts_at:%Y-%m-%d %H:%M}",
        "consumers": [
            {
                "name": name,
                "requests": stats.requests,
                "tokens": stats.tokens,
                "share": stats.tokens / total,
                "s429": stats.statuses.get(429, 0),
                "s403": stats.statuses.get(403, 0),
                "s4xx": stats.other_client_errors,
                "s5xx": stats.server_errors,
            }
            for name, stats in sorted(result.consumers.items())
        ],
        "other_4xx": any(stats.other_client_errors for stats in result.consumers.values()),
        "expectations": result.expectations,
        "charts": [_chart_view(chart, f"run-{index}-") for chart in charts],
    }


def report_html(
    title: str,
    runs: Sequence[tuple[SimulationResult, Sequence[Chart]]],
    side_by_side: Chart | None = None,
) -> str:
    """The page: each run's verdict and the side-by-side chart first, then a section per run
    (element ids carry the run's number, so several runs never repeat one)."""
    template = _environment().get_template("report/report.html.jinja")
    return template.render(
        title=title,
        runs=[_run_view(index, r, c) for index, (r, c) in enumerate(runs, start=1)],
        side_by_side=_chart_view(side_by_side, "") if side_by_side is not None else None,
    )
