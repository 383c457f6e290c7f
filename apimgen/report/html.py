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


def _run_view(result: SimulationResult, charts: Sequence[Chart]) -> dict[str, Any]:
    total = sum(c.tokens for c in result.consumers.values()) or 1
    return {
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
        "charts": [
            {
                "id": chart.file.removesuffix(".png"),
                "title": chart.title,
                "caption": chart.caption,
                "data": base64.b64encode(chart.png).decode("ascii"),
            }
            for chart in charts
        ],
    }


def report_html(title: str, runs: Sequence[tuple[SimulationResult, Sequence[Chart]]]) -> str:
    template = _environment().get_template("report/report.html.jinja")
    return template.render(title=title, runs=[_run_view(r, c) for r, c in runs])
