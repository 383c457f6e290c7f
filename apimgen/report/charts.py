"""The charts that tell a simulation's story, drawn headless with matplotlib.

Every chart is readable in grayscale: series differ by hatch or line style as well as colour.
PNGs carry no timestamp or software metadata, so the same run gives byte-identical files.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import cycle
from typing import TYPE_CHECKING

from apimgen.simulate.results import SimulationResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Chart", "comparison_chart", "scenario_charts"]

# Colour-blind-safe (Okabe-Ito) and distinct in lightness; hatches and dashes carry the rest.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
HATCHES = ("", "//", "..", "xx", "\\\\", "oo", "--", "++")
DASHES = ("-", "--", "-.", ":")
SIZE = (9.0, 4.5)
DPI = 100


@dataclass(frozen=True)
class Chart:
    """One picture: the file it is saved as, its title and what it shows."""

    file: str
    title: str
    caption: str
    png: bytes


def _figure(columns: int = 1) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    axes = figure.subplots(1, columns, squeeze=False)[0]
    return figure, list(axes)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _minutes(result: SimulationResult) -> list[int]:
    return list(range(result.minutes))


def _series(per_minute: dict[int, int], minutes: Sequence[int]) -> list[int]:
    return [per_minute.get(m, 0) for m in minutes]


def _summed(per_minute: Iterable[dict[int, int]]) -> dict[int, int]:
    """Several per-minute series added up."""
    total: dict[int, int] = {}
    for series in per_minute:
        for minute, tokens in series.items():
            total[minute] = total.get(minute, 0) + tokens
    return total


def _stacked(axes: Axes, minutes: list[int], per_name: dict[str, dict[int, int]]) -> None:
    """Stacked areas, one per name, told apart by hatch as well as colour."""
    names = sorted(per_name)
    stacks = axes.stackplot(
        minutes,
        [_series(per_name[n], minutes) for n in names],
        labels=names,
        colors=[c for c, _ in zip(cycle(COLOURS), names, strict=False)],
        alpha=0.85,
    )
    for area, hatch in zip(stacks, cycle(HATCHES), strict=False):
        area.set_hatch(hatch)
        area.set_edgecolor("white")


def _time_axis(
    axes: Axes, result: SimulationResult, ylabel: str = "tokens per minute", columns: int = 1
) -> None:
    """Minutes of the run along x, each tick with its UTC time below it: time-based policies
    (office hours, a quota's reset at midnight) are read by the clock. A panel half the
    figure's width gets half the ticks, so the two-line labels never overlap."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    start = result.starts_at
    axes.xaxis.set_major_locator(
        MaxNLocator(nbins=8 // columns, integer=True, steps=[1, 2, 5, 10], min_n_ticks=2)
    )
    axes.xaxis.set_major_formatter(
        FuncFormatter(lambda minute, _: f"{minute:g}\n{start + timedelta(minutes=minute):%H:%M}")
    )
    axes.set_xlabel("minute of the run (UTC time)")
    axes.set_ylabel(ylabel)
    axes.grid(True, color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    axes.set_xlim(left=0)
    axes.set_ylim(bottom=0)


def total_tokens(result: SimulationResult) -> Chart:
    figure, (axes,) = _figure()
    minutes = _minutes(result)
    axes.plot(minutes, _series(result.tokens_per_minute, minutes), color=COLOURS[0], linewidth=2)
    axes.fill_between(minutes, _series(result.tokens_per_minute, minutes), alpha=0.15)
    _time_axis(axes, result)
    axes.set_title("Total tokens per minute (what Azure Monitor shows out of the box)")
    return Chart(
        "total-tokens.png",
        "Total tokens",
        "All consumers together: the only view without per-consumer token metrics.",
        _png(figure),
    )


def consumer_tokens(result: SimulationResult) -> Chart:
    figure, (axes,) = _figure()
    minutes = _minutes(result)
    names = sorted(result.consumers)
    _stacked(axes, minutes, {n: result.consumers[n].tokens_per_minute for n in names})
    _time_axis(axes, result)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), title="consumer", fontsize=8)
    total = sum(c.tokens for c in result.consumers.values()) or 1
    top = max(names, key=lambda n: result.consumers[n].tokens, default="")
    share = result.consumers[top].tokens / total if top else 0.0
    if result.metric_samples:
        axes.set_title(f"Tokens per minute per consumer ({top} uses {share:.0%})")
        caption = "Stacked per consumer, as token metrics with a user or app dimension show it."
    else:
        axes.set_title(
            f"Tokens per minute per consumer ({top} uses {share:.0%})\n"
            "simulator ground truth: these policies emit no token metrics to show it",
            fontsize=10,
        )
        caption = (
            "Stacked per consumer from the simulator's own accounting. The policies emit no "
            "token metrics, so on Azure only the total would be visible."
        )
    return Chart("consumer-tokens.png", "Tokens per consumer", caption, _png(figure))


def _limited(result: SimulationResult) -> list[str]:
    """Consumers the gateway refused for a limit or a quota, most refused first."""
    refused = {
        name: stats.statuses.get(429, 0) + stats.statuses.get(403, 0)
        for name, stats in result.consumers.items()
    }
    return sorted((n for n, count in refused.items() if count), key=lambda n: (-refused[n], n))


def limited_consumers(result: SimulationResult) -> Chart:
    """The most refused consumer's tokens per minute, split at its own limit: what was
    admitted under it, and what calls admitted under it added once they answered. Live
    gateways do the same (Learn, llm-token-limit: the limit can be exceeded while several
    requests are in flight), so a minute above the line is the window working, not failing."""
    figure, (lines, bars) = _figure(2)
    minutes = _minutes(result)
    names = sorted(result.consumers)
    limited = _limited(result)
    drawn_peak = 1
    title = "Limited consumers vs the rest"
    explanation = ""
    if limited:
        top = limited[0]
        series = _series(result.consumers[top].tokens_per_minute, minutes)
        own = [limit for limit in result.limits_by_consumer.get(top, []) if limit <= max(series)]
        limit = own[0] if own else None
        if limit is not None:
            under = [min(tokens, limit) for tokens in series]
            over = [max(tokens - limit, 0) for tokens in series]
            lines.bar(minutes, under, width=0.8, color=COLOURS[0], label=f"{top}: under the limit")
            lines.bar(minutes, over, width=0.8, bottom=under, color=COLOURS[1], hatch="//",
                      edgecolor="white", label=f"{top}: added by calls in flight")  # fmt: skip
            lines.axhline(limit, color="black", linestyle=":", linewidth=1.4,
                          label=f"limit {limit:,} per 60 s")  # fmt: skip
            title = f"{top}, held to {limit:,} tokens a minute"
            explanation = (
                f" The gateway admits {top}'s call while the last 60 s hold fewer than "
                f"{limit:,} tokens and counts its tokens when it answers, so calls in flight at "
                "the limit take a minute past the line (hatched), as on a live gateway."
            )
        else:
            lines.plot(minutes, series, color=COLOURS[0], linewidth=2, label=top)
        drawn_peak = max(drawn_peak, *series)
        for name, colour, dash in zip(limited[1:3], COLOURS[2:], DASHES[1:], strict=False):
            other = _series(result.consumers[name].tokens_per_minute, minutes)
            lines.plot(minutes, other, color=colour, linestyle=dash, linewidth=2, label=name)
            drawn_peak = max(drawn_peak, *other)
    others = [n for n in names if n not in limited[:3]]
    if others:
        rest = _series(_summed(result.consumers[n].tokens_per_minute for n in others), minutes)
        lines.plot(minutes, rest, color="#777777", linewidth=1.5, label="everyone else")
        drawn_peak = max(drawn_peak, *rest)
    _time_axis(lines, result, columns=2)
    lines.set_ylim(0, drawn_peak * 1.3)  # headroom for the legend
    lines.legend(fontsize=7, loc="upper left", ncols=2)
    lines.set_title(title, fontsize=10)
    positions = range(len(names))
    width = 0.4
    refused_429 = [result.consumers[n].statuses.get(429, 0) for n in names]
    refused_403 = [result.consumers[n].statuses.get(403, 0) for n in names]
    bars.bar([p - width / 2 for p in positions], refused_429, width, label="429 rate limit",
             color=COLOURS[5], hatch="//", edgecolor="white")  # fmt: skip
    bars.bar([p + width / 2 for p in positions], refused_403, width, label="403 quota",
             color=COLOURS[0], hatch="..", edgecolor="white")  # fmt: skip
    bars.set_xticks(list(positions), names, rotation=30, ha="right", fontsize=8)
    bars.set_ylabel("refused requests")
    bars.legend(fontsize=8)
    bars.set_title("Refusals per consumer", fontsize=10)
    return Chart(
        "token-limit.png",
        "Token limit",
        "The most refused consumer's tokens per minute against everyone else, and the "
        "requests the gateway refused (429 for a limit, 403 for a quota)." + explanation,
        _png(figure),
    )


def backend_view(result: SimulationResult) -> Chart:
    figure, (over_time, totals) = _figure(2)
    minutes = _minutes(result)
    names = sorted(result.backends)
    _stacked(over_time, minutes, {n: result.backends[n].tokens_per_minute for n in names})
    _time_axis(over_time, result, "backend tokens per minute", columns=2)
    served = _summed(b.tokens_per_minute for b in result.backends.values())
    stacked_peak = max(served.values(), default=0)
    over_time.set_ylim(0, max(stacked_peak, 1) * 1.35)  # headroom for the legend
    over_time.legend(fontsize=8, loc="upper left", title="backend", ncols=2)
    over_time.set_title("Where the tokens were served")
    requests = [result.backends[n].requests + result.backends[n].embedding_calls for n in names]
    drawn = totals.bar(names, requests, color=COLOURS[: len(names)] or None, edgecolor="white")
    for bar, hatch in zip(drawn, cycle(HATCHES), strict=False):
        bar.set_hatch(hatch)
    for bar, name in zip(drawn, names, strict=True):
        stats = result.backends[name]
        embeddings = f"\n{stats.embedding_calls} embedding calls" if stats.embedding_calls else ""
        totals.annotate(
            f"{stats.throttled} throttled (429)\n{stats.trips} breaker trips{embeddings}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    totals.set_ylabel("requests")
    totals.set_ylim(top=max(requests, default=1) * 1.25 or 1)
    totals.tick_params(axis="x", labelrotation=30, labelsize=8)
    totals.set_title("Requests, throttling and breaker trips")
    return Chart(
        "backends.png",
        "Backends",
        "Tokens per backend over time (spill-over shows as a second band) and each backend's "
        "requests, 429s and circuit-breaker trips.",
        _png(figure),
    )


def semantic_cache_view(result: SimulationResult) -> Chart:
    """Tokens that reached the backends against those the cache answered, and what the
    lookups found."""
    cache = result.semantic_cache or {}
    figure, (tokens, lookups) = _figure(2)
    backend = result.backend_tokens
    saved = int(cache.get("tokens_saved", 0))
    bars = tokens.bar(
        ["reached Azure OpenAI", "answered from the cache"],
        [backend, saved],
        color=[COLOURS[0], COLOURS[2]],
        edgecolor="white",
    )
    for bar, hatch in zip(bars, ("", "//"), strict=True):
        bar.set_hatch(hatch)
    share = saved / (saved + backend) if saved + backend else 0.0
    tokens.set_ylabel("tokens")
    tokens.set_title(
        f"Without the cache: {backend + saved:,} tokens; with it: {backend:,}", fontsize=10
    )
    tokens.annotate(f"{share:.0%} saved", (1, saved), ha="center", va="bottom", fontsize=9)
    hits, true_hits, false_hits = (
        int(cache.get(k, 0)) for k in ("hits", "true_hits", "false_hits")
    )
    parts = {
        "true hits": true_hits,
        "false hits": false_hits,
        "other hits": hits - true_hits - false_hits,
        "misses": int(cache.get("lookups", 0)) - hits,
    }
    drawn = lookups.bar(list(parts), list(parts.values()), color=[COLOURS[2], COLOURS[5],
                        COLOURS[4], "#999999"], edgecolor="white")  # fmt: skip
    for bar, hatch in zip(drawn, ("", "xx", "..", "//"), strict=True):
        bar.set_hatch(hatch)
    lookups.set_ylabel("lookups")
    lookups.tick_params(axis="x", labelsize=8)
    lookups.set_title(
        f"Hit ratio {float(cache.get('hit_ratio', 0.0)):.0%} ({cache.get('embedder')}, "
        f"distance scale {float(cache.get('distance_scale', 1.0)):g})",
        fontsize=10,
    )
    return Chart(
        "semantic-cache.png",
        "Semantic cache",
        "Backend tokens with and without the cache, and lookups split into true hits (same "
        "question), false hits (another question's answer), hits for prompts without a group, "
        "and misses.",
        _png(figure),
    )


def client_view(result: SimulationResult) -> Chart:
    """Consumers with a retrying client: what the application saw of its calls against what
    the gateway refused, and what the waits cost in end-to-end latency."""
    clients = {name: c.client for name, c in result.consumers.items() if c.client is not None}
    figure, (calls, latency) = _figure(2)
    names = list(clients)
    first = [c.succeeded - c.recovered for c in clients.values()]
    late = [c.recovered for c in clients.values()]
    failed = [c.calls - c.succeeded for c in clients.values()]
    refused = [c.retries + (c.calls - c.succeeded) for c in clients.values()]
    positions = list(range(len(names)))
    width = 0.4
    bottom = [0] * len(names)
    for label, values, colour, hatch in (
        ("ok at once", first, COLOURS[2], ""),
        ("ok after waiting", late, COLOURS[1], "//"),
        ("failed", failed, COLOURS[5], "xx"),
    ):
        calls.bar(
            [p - width / 2 for p in positions],
            values,
            width,
            bottom=bottom,
            label=label,
            color=colour,
            hatch=hatch,
            edgecolor="white",
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    calls.bar(
        [p + width / 2 for p in positions],
        refused,
        width,
        label="attempts refused",
        color="#999999",
        hatch="..",
        edgecolor="white",
    )
    calls.set_xticks(positions, [textwrap.shorten(n, 18) for n in names], fontsize=8)
    calls.set_ylabel("calls / attempts")
    calls.set_title("Calls the application made, attempts the gateway refused", fontsize=10)
    calls.legend(fontsize=8)
    for (name, client), dash, colour in zip(clients.items(), cycle(DASHES), cycle(COLOURS)):
        points = sorted(client.latencies.items())
        total = sum(n for _, n in points) or 1
        seen = 0
        xs: list[float] = []
        ys: list[float] = []
        for value, count in points:
            seen += count
            xs.append(value)
            ys.append(seen / total)
        latency.step(xs, ys, where="post", linestyle=dash, color=colour, label=name)
    latency.set_xlabel("end-to-end latency, waits included (s)")
    latency.set_ylabel("share of calls")
    latency.set_ylim(0, 1.02)
    waited = sum(c.waited for c in clients.values())
    latency.set_title(f"{waited:,.0f} s spent waiting before retries", fontsize=10)
    latency.legend(fontsize=8)
    return Chart(
        "clients.png",
        "Calls through retrying clients",
        "Per consumer with a client: its calls that succeeded at once, after waiting, or not "
        "at all, beside the attempts the gateway refused; and the share of calls answered "
        "within each end-to-end latency, the client's waits included.",
        _png(figure),
    )


def scenario_charts(result: SimulationResult) -> list[Chart]:
    """The charts for one run, in the order the story is told: each only where it shows
    something (a consumer split needs two consumers, a limit chart a limit or a refusal,
    a backend chart a backend call, a cache chart a lookup)."""
    charts = [total_tokens(result)]
    if len(result.consumers) > 1:
        charts.append(consumer_tokens(result))
    if result.token_limits or _limited(result):
        charts.append(limited_consumers(result))
    if any(b.requests or b.embedding_calls for b in result.backends.values()):
        charts.append(backend_view(result))
    if result.semantic_cache and result.semantic_cache.get("lookups"):
        charts.append(semantic_cache_view(result))
    if any(c.client is not None and c.client.calls for c in result.consumers.values()):
        charts.append(client_view(result))
    return charts


def comparison_chart(results: Sequence[SimulationResult]) -> Chart:
    """Runs side by side on one scale (two per row): backend tokens per minute, in the order
    the runs were given, so a story reads left to right and top to bottom."""
    from matplotlib.figure import Figure

    rows = (len(results) + 1) // 2
    figure = Figure(figsize=(SIZE[0], SIZE[1] * rows), dpi=DPI, layout="constrained")
    grid = figure.subplots(rows, 2, squeeze=False)
    panels = [axes for row in grid for axes in row]
    peak = 1
    for index, (axes, result) in enumerate(zip(panels, results, strict=False)):
        colour = COLOURS[index % len(COLOURS)]
        minutes = _minutes(result)
        series = _series(_summed(b.tokens_per_minute for b in result.backends.values()), minutes)
        peak = max(peak, *series)
        axes.plot(minutes, series, color=colour, linestyle=DASHES[index % len(DASHES)], linewidth=2)
        axes.fill_between(minutes, series, alpha=0.15, color=colour)
        _time_axis(axes, result, "backend tokens per minute", columns=2)
        heading = textwrap.shorten(result.name, width=48, placeholder="…")
        axes.set_title(f"{index + 1}. {heading}\n{sum(series):,} backend tokens", fontsize=10)
    for axes in panels[len(results) :]:
        axes.set_visible(False)
    for axes in panels[: len(results)]:
        axes.set_ylim(0, peak * 1.1)
    names = ", ".join(f"{i + 1}. {r.name}" for i, r in enumerate(results))
    return Chart(
        "comparison.png",
        "Side by side",
        f"Backend tokens per minute on one scale: {names}.",
        _png(figure),
    )
