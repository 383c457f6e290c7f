"""Run one scenario per value of a setting and tabulate the trade-off, so a team can choose a
semantic-cache threshold before deploying it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from apimgen.errors import ApimgenError
from apimgen.simulate.results import SimulationResult
from apimgen.simulate.run import run_scenario
from apimgen.simulate.scenario import LoadedScenario

__all__ = ["SWEEPABLE", "SweepRow", "parse_sweep", "run_sweep"]

SWEEPABLE = ("cache.score-threshold",)
MAX_POINTS = 200


@dataclass(frozen=True)
class SweepRow:
    value: float
    lookups: int
    hit_ratio: float
    false_hit_ratio: float  # false hits among the hits whose paraphrase groups are known
    tokens_saved: int
    backend_tokens: int

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "lookups": self.lookups,
            "hit_ratio": self.hit_ratio,
            "false_hit_ratio": self.false_hit_ratio,
            "tokens_saved": self.tokens_saved,
            "backend_tokens": self.backend_tokens,
        }


def parse_sweep(text: str) -> tuple[str, list[float]]:
    """``name=start:stop:step`` (inclusive) or ``name=v1,v2,...``; decimal arithmetic keeps
    0.01 steps exact."""
    name, sep, values = text.partition("=")
    name = name.strip()
    hint = f"use e.g. --sweep {SWEEPABLE[0]}=0.01:0.30:0.01 (or a list: =0.02,0.05,0.1)"
    if not sep or name not in SWEEPABLE:
        raise ApimgenError(f"--sweep: cannot sweep '{name}'; sweepable: {', '.join(SWEEPABLE)}",
                           hint=hint)  # fmt: skip
    try:
        if ":" in values:
            start, stop, step = (Decimal(part) for part in values.split(":"))
            if step <= 0 or stop < start:
                raise ApimgenError(f"--sweep: empty range {values}", hint=hint)
            count = int((stop - start) / step) + 1
            points = [start + step * i for i in range(min(count, MAX_POINTS + 1))]
        else:
            points = [Decimal(part) for part in values.split(",") if part.strip()]
    except (InvalidOperation, ValueError):
        raise ApimgenError(
            f"--sweep: '{values}' is not start:stop:step or a list", hint=hint
        ) from None
    if not points or len(points) > MAX_POINTS:
        raise ApimgenError(f"--sweep: give 1 to {MAX_POINTS} values", hint=hint)
    if any(not 0 <= p <= 2 for p in points):
        raise ApimgenError("--sweep: a score threshold is a cosine distance between 0 and 2",
                           hint=hint)  # fmt: skip
    return name, [float(p) for p in points]


def _row(value: float, result: SimulationResult) -> SweepRow:
    cache = result.semantic_cache or {}
    false_hits = int(cache.get("false_hits", 0))
    judged = int(cache.get("true_hits", 0)) + false_hits  # hits whose groups are known
    return SweepRow(
        value,
        int(cache.get("lookups", 0)),
        float(cache.get("hit_ratio", 0.0)),
        false_hits / judged if judged else 0.0,
        int(cache.get("tokens_saved", 0)),
        result.backend_tokens,
    )


def run_sweep(
    loaded: LoadedScenario,
    values: list[float],
    *,
    seed: int | None = None,
    skip_unknown: bool | None = None,
    progress: Callable[[float], None] | None = None,
    deadline: float | None = None,
) -> list[SweepRow]:
    """One row per value; fewer when ``deadline`` (``--timeout``) stopped a run, whose
    partial numbers are left out."""
    from apimgen.simulate.assembly import embedder_for
    from apimgen.simulate.embeddings.provider import CachedEmbedder

    embedder: CachedEmbedder = embedder_for(loaded)  # shared: each prompt is embedded once
    rows = []
    for index, value in enumerate(values):
        result = run_scenario(
            loaded,
            seed=seed,
            skip_unknown=skip_unknown,
            score_threshold=value,
            embedder=embedder,
            deadline=deadline,
        )
        if result.stopped_at is not None:
            break
        if result.semantic_cache is None:
            raise ApimgenError(
                f"{loaded.path}: no semantic-cache lookup ran, so there is nothing to sweep",
                hint="the scenario's policies need an *-semantic-cache-lookup",
            )
        rows.append(_row(value, result))
        if progress:
            progress((index + 1) / len(values))
    return rows
