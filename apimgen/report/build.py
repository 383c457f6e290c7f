"""Assemble a report directory: one PNG per chart plus report.html, written all at once."""

from __future__ import annotations

from pathlib import Path

from apimgen.render.writer import write_tree
from apimgen.report.charts import Chart, comparison_chart, scenario_charts
from apimgen.report.html import report_html
from apimgen.simulate.results import SimulationResult

__all__ = ["write_report"]


def write_report(results: list[SimulationResult], out_dir: Path) -> list[str]:
    """Charts for each run (in a subfolder per run when comparing) and one HTML page.

    Returns the files written, relative to ``out_dir``.
    """
    files: dict[str, str | bytes] = {}
    runs: list[tuple[SimulationResult, list[Chart]]] = []
    comparing = len(results) > 1
    side_by_side = comparison_chart(results) if comparing else None
    if side_by_side is not None:
        files[side_by_side.file] = side_by_side.png
    for index, result in enumerate(results):
        charts = scenario_charts(result)
        prefix = f"{index + 1}-{_slug(result.name)}/" if comparing else ""
        for chart in charts:
            files[prefix + chart.file] = chart.png
        runs.append((result, charts))
    title = results[0].name if not comparing else f"{len(results)} runs side by side"
    files["report.html"] = report_html(title, runs, side_by_side)
    write_tree(files, out_dir)
    return sorted(files)


def _slug(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name.lower())
    return "-".join(part for part in cleaned.split("-") if part) or "run"
