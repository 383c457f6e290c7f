"""What a scenario's run must show: each expectation a measure, a scope and a bound."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from apimgen.spec.types import SpecModel

__all__ = ["BACKEND_MEASURES", "CLIENT_MEASURES", "Expectation"]


_MEASURES = Literal[
    "requests",
    "status_200",
    "status_429",
    "status_403",
    "status_400",
    "status_401",
    "status_5xx",
    "share_429",
    "share_503",
    "tokens",
    "token_share",
    "max_tokens_per_minute",
    "trips",
    "cache_hit_ratio",
    "cache_false_hits",
    "cache_saved_share",
    "metric",
    "calls",
    "calls_ok",
    "calls_ok_after_retries",
    "calls_failed",
    "client_retries",
    "latency_p95",
]


# What a consumer's retrying client measures: its calls as the application saw them.
CLIENT_MEASURES = (
    "calls",
    "calls_ok",
    "calls_ok_after_retries",
    "calls_failed",
    "client_retries",
    "latency_p95",
)


BACKEND_MEASURES = ("requests", "tokens", "status_429", "trips")


class Expectation(SpecModel):
    """A measured value of the run compared with a bound."""

    name: str | None = Field(default=None, description="Shown in reports and JUnit.")
    consumer: str | None = Field(default=None, description="Measure one consumer.")
    backend: str | None = Field(default=None, description="Measure one backend.")
    while_available: str | None = Field(
        default=None,
        description="With backend and measure requests: count only the calls made while this "
        "other backend was available (its breaker closed), e.g. pay-as-you-go taking traffic "
        "while the PTU is healthy.",
    )
    measure: _MEASURES = Field(description="What to measure.")
    metric: str | None = Field(
        default=None,
        description="With measure: metric, the custom metric to sum over the run, as the "
        "policies emitted it (Total Tokens, Prompt Tokens, Completion Tokens, or an "
        "emit-metric's name).",
    )
    dimensions: dict[str, str] | None = Field(
        default=None,
        description="With measure: metric, only the samples whose dimensions include these, "
        "e.g. {User ID: alice}: what a chart split by that dimension would show.",
    )
    namespace: str | None = Field(
        default=None, description="With measure: metric, only this metric namespace."
    )
    at_most: float | None = Field(default=None, description="Upper bound (inclusive).")
    at_least: float | None = Field(default=None, description="Lower bound (inclusive).")
    equals: float | None = Field(default=None, description="Exact value.")

    @model_validator(mode="after")
    def _one_bound(self) -> Expectation:
        bounds = [b for b in (self.at_most, self.at_least, self.equals) if b is not None]
        if not bounds:
            raise ValueError("give at_most, at_least or equals")
        if self.consumer and self.backend:
            raise ValueError("measure a consumer or a backend, not both")
        if self.backend and self.measure not in BACKEND_MEASURES:
            raise ValueError(
                f"{self.measure} is not measured per backend; a backend has "
                f"{', '.join(BACKEND_MEASURES)}"
            )
        if self.measure.startswith("cache_") and (self.consumer or self.backend):
            raise ValueError(f"{self.measure} is measured for the whole run, not per "
                             f"{'consumer' if self.consumer else 'backend'}")  # fmt: skip
        if self.measure == "metric":
            if not self.metric:
                raise ValueError("measure: metric needs metric: the name to sum (Total Tokens)")
            if self.consumer or self.backend:
                raise ValueError("a metric is told apart by its dimensions, not by consumer or "
                                 "backend: give dimensions, e.g. {User ID: alice}")  # fmt: skip
        elif self.metric or self.dimensions is not None or self.namespace:
            raise ValueError("metric, dimensions and namespace go with measure: metric")
        if self.while_available and (not self.backend or self.measure != "requests"):
            raise ValueError("while_available counts a backend's requests: give backend and "
                             "measure: requests")  # fmt: skip
        return self
