"""How a scenario's backends behave: their capacity and latency, outages, scripted answers,
reservations, circuit breakers, and the endpoints send-request calls reach."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from apimgen.spec.resources import CircuitBreaker
from apimgen.spec.types import Duration, SpecModel

__all__ = [
    "BackendBehaviour",
    "Endpoint",
    "Outage",
    "PoolMemberSpec",
    "ReservationOverride",
    "ScriptedAnswer",
    "check_url",
]


class Outage(SpecModel):
    start: Duration = Field(description="When the outage starts, from the beginning of the run.")
    end: Duration = Field(description="When it ends.")
    status: int = Field(default=503, ge=400, le=599, description="Status the backend answers.")


class ScriptedAnswer(SpecModel):
    """What a backend answers to given calls, or in a time range, in place of its mock's own
    answer: a status with headers (a 429 with its retry-after, a 503), or a slow answer."""

    calls: list[Annotated[int, Field(ge=1)]] | None = Field(
        default=None, description="The backend's own call numbers it applies to (1 = its first)."
    )
    start: Duration | None = Field(default=None, description="From this time of the run...")
    end: Duration | None = Field(default=None, description="...until this one.")
    status: int | None = Field(
        default=None,
        ge=100,
        le=599,
        description="The status answered (with an Azure OpenAI error body unless 2xx); "
        "without it the mock answers as usual, after latency.",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description='Headers of the answer, e.g. {retry-after: "4"}.'
    )
    latency: Duration | None = Field(
        default=None,
        description="Seconds until the answer: past forward-request's timeout, the gateway "
        "answers 504 instead.",
    )

    @model_validator(mode="after")
    def _when_and_what(self) -> ScriptedAnswer:
        if self.calls is None and (self.start is None or self.end is None):
            raise ValueError("give calls: [numbers], or start and end")
        if self.calls is not None and (self.start is not None or self.end is not None):
            raise ValueError("give calls or a time range, not both")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must come after start")
        if self.status is None and self.latency is None:
            raise ValueError("give a status (and headers), or a latency, or both")
        return self


def check_url(url: str) -> str:
    if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", url):
        raise ValueError(f"'{url}' is not an http(s) URL, e.g. https://my-aoai.openai.azure.com")
    return url


class ReservationOverride(SpecModel):
    """What a deployment reserves against its TPM when a call arrives, where the built-in
    table (docs/simulator.md, "How close to a live gateway") does not fit a model."""

    without_max_tokens: int | None = Field(
        default=None, ge=0, description="Completion tokens reserved for a call without max_tokens."
    )
    counts_prompt: bool | None = Field(
        default=None,
        description="Add the prompt's estimate (characters ÷ 4 per message) to the reservation.",
    )


class BackendBehaviour(SpecModel):
    """A mock Azure OpenAI deployment behind a backend id."""

    circuit_breaker: CircuitBreaker | None = Field(
        default=None,
        description="The backend entity's breaker (folder policies; specs bring their own).",
    )
    tpm: int = Field(
        ge=1, description="Tokens per minute (requests per 10 s follow: 6 RPM per 1000 TPM)."
    )
    url: str | None = Field(
        default=None,
        description=(
            "The backend's URL: set-backend-service base-url=... reaches this mock when the URL "
            "starts with it (folder policies; specs bring their own)."
        ),
    )
    latency_base: float = Field(default=0.3, ge=0, description="Seconds before the first token.")
    latency_per_token: float = Field(
        default=0.01, ge=0, description="Seconds per completion token."
    )
    error_rate: float = Field(default=0.0, ge=0, le=1, description="Share of calls answered 500.")
    outages: list[Outage] = Field(default_factory=list, description="Scheduled outages.")
    answers: list[ScriptedAnswer] = Field(
        default_factory=list,
        description="Answers given to chosen calls or time ranges, the first that applies "
        'winning, e.g. {calls: [1, 2], status: 429, headers: {retry-after: "4"}}.',
    )
    model: str | None = Field(
        default=None,
        description="The deployed model, which decides what a call reserves at admission "
        "(a spec's backend takes its account's deployment; otherwise gpt-4o).",
    )
    region: str | None = Field(
        default=None,
        description="The account's Azure location, sent back in x-ms-region as its display "
        "name (a spec's backend takes its account's; otherwise eastus).",
    )
    reservation: ReservationOverride | None = Field(
        default=None, description="Override the model's admission estimate for this backend."
    )

    @field_validator("url")
    @classmethod
    def _absolute_url(cls, url: str | None) -> str | None:
        return check_url(url) if url is not None else None


class PoolMemberSpec(SpecModel):
    backend: str = Field(description="A backend id from `backends`.")
    priority: int = Field(default=1, ge=0, le=100, description="1 first, higher spills over.")
    weight: int = Field(default=1, ge=0, le=100, description="Share within a priority group.")


class Endpoint(SpecModel):
    """A service that send-request policies call, answered by the simulator."""

    status: int = Field(default=200, ge=100, le=599, description="The answer's status code.")
    body: dict[str, Any] | list[Any] | str | None = Field(
        default=None, description="The answer's body: JSON (a mapping or a list) or text."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="The answer's headers.")
    latency: float = Field(default=0.05, ge=0, description="Seconds before it answers.")
    error_rate: float = Field(default=0.0, ge=0, le=1, description="Share of calls answered 500.")
    outages: list[Outage] = Field(
        default_factory=list, description="Scheduled outages: calls get the outage's status."
    )
