"""Who calls the gateway in a scenario: arrivals, prompt sizes, scripted calls, SDK clients, and
the operation each consumer's calls speak."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from apimgen.spec.types import Duration, SpecModel

__all__ = [
    "EMBEDDINGS",
    "RESPONSES",
    "Arrival",
    "Client",
    "Consumer",
    "Distribution",
    "ScriptedCall",
    "Seconds",
    "api_of",
]


class Arrival(SpecModel):
    """When a consumer's requests arrive."""

    kind: Literal["constant", "poisson", "burst", "ramp"] = Field(
        default="poisson", description="constant spacing, Poisson, bursts, or a linear ramp."
    )
    per_minute: float = Field(gt=0, description="Mean requests per minute (the ramp's end rate).")
    start_per_minute: float = Field(default=0, ge=0, description="The ramp's starting rate.")
    burst_size: int = Field(default=10, ge=1, description="Requests per burst.")
    start: Duration = Field(default=0, description="First arrival no earlier than this.")
    stop: Duration | None = Field(default=None, description="No arrival after this.")

    @model_validator(mode="after")
    def _stop_after_start(self) -> Arrival:
        if self.stop is not None and self.stop <= self.start:
            raise ValueError("stop must come after start, or the consumer sends nothing")
        return self


class Distribution(SpecModel):
    """A whole-number distribution: fixed, or uniform between min and max."""

    min: int = Field(ge=0, description="Smallest value.")
    max: int = Field(ge=0, description="Largest value.")

    @model_validator(mode="after")
    def _ordered(self) -> Distribution:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


_SECONDS_TEXT = re.compile(r"(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?")


def _seconds(value: Any) -> Any:
    """Seconds to the millisecond: a number, or text such as "250ms", "1.5s", "2m", "1m30s"."""
    if isinstance(value, str):
        text = value.strip()
        found = _SECONDS_TEXT.fullmatch(text)
        if not text or found is None or not any(found.groups()):
            raise ValueError(f"'{value}' is not a time: write seconds, or e.g. 250ms, 1.5s, 2m")
        minutes, seconds, millis = (float(part) if part else 0.0 for part in found.groups())
        return round(minutes * 60 + seconds + millis / 1000, 3)
    return value


Seconds = Annotated[float, BeforeValidator(_seconds), Field(ge=0)]


class ScriptedCall(SpecModel):
    """One call of a consumer's script: when it is sent, and what it carries."""

    at: Seconds | None = Field(
        default=None, description="Sent at this time of the run (e.g. 0, 250ms, 1.5s)."
    )
    after: Seconds | None = Field(
        default=None,
        description="Sent this long after the previous call's answer reached the application "
        "(think time; through a retrying client, after its last attempt).",
    )
    prompt: str | None = Field(default=None, description="The prompt (else the consumer's).")
    prompt_tokens: int | None = Field(
        default=None, ge=1, description="The prompt's tokens as the gateway and backend count "
        "them, whatever the text (the body keeps the prompt).",
    )  # fmt: skip
    completion_tokens: int | None = Field(
        default=None, ge=0, description="Tokens the backend answers with (else drawn)."
    )
    max_tokens: int | None = Field(default=None, ge=1, description="max_tokens of this call.")
    stream: bool | None = Field(default=None, description="Stream this call's answer.")
    latency: Seconds | None = Field(
        default=None, description="Seconds the backend takes to answer this call in full."
    )

    @model_validator(mode="after")
    def _one_when(self) -> ScriptedCall:
        if (self.at is None) == (self.after is None):
            raise ValueError("give at (a time of the run) or after (a pause), one of them")
        return self


class Client(SpecModel):
    """How the application's SDK retries a refused or failed call (clients.py has the rules
    each preset copies from the SDK's source)."""

    preset: Literal["openai-python", "openai-dotnet", "none"] = Field(
        description="openai-python (2 retries; 408, 409, 429, 5xx; Retry-After up to 60 s, "
        "else 0.5 s doubling to 8 s with jitter), openai-dotnet (3 retries; 408, 429, 500, "
        "502-504; Retry-After, else 0.8 s doubling) or none (no retry)."
    )
    max_retries: int | None = Field(
        default=None, ge=0, le=100, description="Retries after the first attempt (the SDK's)."
    )
    timeout: Seconds | None = Field(
        default=None,
        description="Seconds the client waits on an attempt before giving up and retrying "
        "(the SDK's: 600 s for openai-python, 100 s for openai-dotnet).",
    )

    @model_validator(mode="before")
    @classmethod
    def _preset_alone(cls, value: Any) -> Any:
        """``client: openai-python`` for ``client: {preset: openai-python}``."""
        return {"preset": value} if isinstance(value, str) else value


class Consumer(SpecModel):
    """A user or application sending traffic."""

    name: str = Field(description="Name used in the report.")
    subscription: str | None = Field(
        default=None, description="Subscription id (default: the name)."
    )
    product: str | None = Field(default=None, description="Product of the subscription.")
    user: str | None = Field(default=None, description="User id (default: the name).")
    anonymous: bool = Field(
        default=False,
        description="Calls without a subscription key: on an API that does not require one, "
        "context.Subscription, Product and User are null; on one that does, the gateway "
        "answers 401 before any policy runs, and on-error runs.",
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
    query: dict[Annotated[str, Field(min_length=1)], str] = Field(
        default_factory=dict,
        description="Query parameters of each call's URL, after api-version (2024-10-21 "
        "unless given here): context.Request.Url.Query.",
    )
    jwt_claims: dict[str, str | int | float | bool | list[str]] = Field(
        default_factory=dict,
        description="Claims of an unsigned bearer token sent as Authorization (roles and "
        "audiences may be lists). iat, nbf and exp default to the run's start and an hour "
        "past its end.",
    )
    ip: str = Field(default="203.0.113.10", description="Caller IP address.")
    region: str | None = Field(
        default=None, description="Gateway region the calls reach (default: the first)."
    )
    arrival: Arrival | None = Field(
        default=None, description="When requests arrive (or give calls: a script)."
    )
    calls: list[ScriptedCall] | None = Field(
        default=None,
        min_length=1,
        description="The consumer's calls one by one, instead of an arrival process: each at a "
        "time of the run or a pause after the previous answer, with its own tokens, "
        "max_tokens, stream and backend latency.",
    )
    client: Client | None = Field(
        default=None,
        description="The SDK the application calls through: a refused or failed call is "
        "sent again as it would send it, e.g. {preset: openai-python}. Without it every "
        "call is sent once, and the results count attempts only.",
    )
    prompts: list[str] = Field(
        default_factory=lambda: ["Hello!"], min_length=1, description="Prompts, used in turn."
    )
    prompts_file: str | None = Field(
        default=None,
        description="A text file (relative to the scenario) with one prompt per line; "
        "replaces prompts.",
    )
    system_prompt: str | None = Field(default=None, description="A system message for every call.")
    deployment: str = Field(
        default="gpt-4o",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="The deployment the calls name in their URL (/deployments/{deployment-id}/"
        "chat/completions), as the classic API does: context.Request.MatchedParameters"
        '["deployment-id"].',
    )
    operation: str | None = Field(
        default=None,
        description="The operation this consumer calls (default: the scenario's). "
        '`embeddings` sends the prompt as {"input": ...} to /deployments/{deployment-id}/'
        "embeddings and gets a vector back, whose usage counts the input's tokens only (no "
        "max_tokens, completion, stream or system prompt); `responses` calls the Responses "
        "API (POST /responses, the model in the body: `model`, else the deployment; the "
        "system prompt as instructions, max_tokens as max_output_tokens) and gets output "
        "items with input and output tokens; any other operation is called as chat "
        "completions.",
    )
    model: str | None = Field(
        default=None,
        description="A model named in each request body, as the v1 API and OpenAI-compatible "
        "clients send it (the classic API names the deployment in the URL instead).",
    )
    max_tokens: int | None = Field(
        default=None, ge=1, description="max_tokens sent with each call."
    )
    completion_tokens: Distribution = Field(
        default_factory=lambda: Distribution(min=100, max=300),
        description="Length of the answers the backend gives.",
    )
    stream_share: float = Field(default=0.0, ge=0, le=1, description="Share of streaming calls.")
    flagged_share: float = Field(
        default=0.0, ge=0, le=1, description="Share of prompts Content Safety would block."
    )
    prompt_groups: dict[str, Annotated[list[str], Field(min_length=1)]] = Field(
        default_factory=dict,
        description="Paraphrase groups (name: wordings) for semantic caching; a cached answer "
        "served to a prompt of another group counts as a false hit.",
    )
    group_share: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="With prompt_groups: share of calls asking a group's question (a random "
        "wording); the rest use `prompts` in turn.",
    )
    body_fields: dict[str, Any] = Field(
        default_factory=dict,
        description="More fields for each request body, e.g. temperature, user, tools or "
        "stream_options (they do not count as prompt tokens).",
    )

    @model_validator(mode="after")
    def _arrival_or_script(self) -> Consumer:
        if (self.arrival is None) == (self.calls is None):
            raise ValueError("give arrival (a process) or calls (a script), one of them")
        last = 0.0
        for index, call in enumerate(self.calls or ()):
            if call.at is not None:
                if call.at < last:
                    raise ValueError(
                        f"calls[{index}] is at {call.at:g} s, before the call at {last:g} s: "
                        "list the calls in the order they are sent"
                    )
                last = call.at
        return self

    @field_validator("body_fields")
    @classmethod
    def _own_fields(cls, fields: dict[str, Any]) -> dict[str, Any]:
        taken = sorted(set(fields) & set(_BODY_SETTINGS))
        if taken:
            settings = ", ".join(f"{field} (use {_BODY_SETTINGS[field]})" for field in taken)
            raise ValueError(f"the simulator writes {settings}")
        return fields


# Body fields a consumer's own settings write.
_BODY_SETTINGS = {
    "messages": "prompts or system_prompt",
    "model": "model",
    "max_tokens": "max_tokens",
    "stream": "stream_share",
}


EMBEDDINGS = "embeddings"  # the operation whose calls are embeddings, not chat completions


RESPONSES = "responses"  # the operation whose calls go to the Responses API


def api_of(operation: str) -> str:
    """The API an operation's calls speak: embeddings, responses, or chat completions."""
    return operation if operation in (EMBEDDINGS, RESPONSES) else "chat"
