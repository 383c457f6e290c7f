"""The scenario file: which policies run, what traffic arrives, how the backends behave, and
what the run must show. Validated like the spec, with located errors."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from apimgen.errors import Diagnostic, InputError, Location, SpecError
from apimgen.files import OutsideRootError, confine, read_bounded
from apimgen.simulate.clock import EPOCH, in_utc
from apimgen.spec.paths import format_path
from apimgen.spec.resources import CircuitBreaker
from apimgen.spec.types import Duration, SpecModel
from apimgen.spec.validation_errors import diagnostics_from_validation
from apimgen.spec.yaml_source import KeyPath, YamlSource, load_yaml, refuse_other_kind

__all__ = [
    "EMBEDDINGS",
    "RESPONSES",
    "Arrival",
    "BackendBehaviour",
    "Consumer",
    "Expectation",
    "LoadedScenario",
    "Scenario",
    "api_of",
    "load_scenario",
]


class PolicySource(SpecModel):
    """Where the policies come from: a spec (rendered in memory) or a policies folder."""

    spec: str | None = Field(
        default=None, description="A spec file to render, relative to the scenario."
    )
    folder: str | None = Field(
        default=None, description="A policies/ folder (global.xml, apis/, products/, fragments/)."
    )
    named_values: dict[str, str] = Field(
        default_factory=dict, description="Values for {{name}} references (folder policies)."
    )
    placeholders: dict[str, str] = Field(
        default_factory=dict,
        description="Folder policies that are Bicep or Terraform templates: a value for each "
        "{name} or ${name} the template leaves to be filled, e.g. {tpm: '1000'}.",
    )
    skip_unknown: bool = Field(
        default=False,
        description="Skip policies the simulator does not model (listed in the report).",
    )
    api_backend: str | None = Field(
        default=None,
        description="Folder policies: the backend or pool the API's service URL points to, "
        "where forward-request sends a call no policy routed with set-backend-service.",
    )
    subscription_required: bool | None = Field(
        default=None,
        description="Folder policies: whether the API requires a subscription key (default "
        "true, as APIM's); a spec's API says so itself.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> PolicySource:
        if (self.spec is None) == (self.folder is None):
            raise ValueError("set exactly one of spec or folder")
        if self.spec is not None and self.placeholders:
            raise ValueError("placeholders are for policy folders: a spec has none")
        if self.spec is not None and self.api_backend is not None:
            raise ValueError("api_backend is for policy folders: a spec's API names its backend")
        if self.spec is not None and self.subscription_required is not None:
            raise ValueError(
                "subscription_required is for policy folders: a spec's API says it itself"
            )
        return self


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


def _check_url(url: str) -> str:
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
        return _check_url(url) if url is not None else None


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


class PoolMemberSpec(SpecModel):
    backend: str = Field(description="A backend id from `backends`.")
    priority: int = Field(default=1, ge=0, le=100, description="1 first, higher spills over.")
    weight: int = Field(default=1, ge=0, le=100, description="Share within a priority group.")


class AzureOpenAIEmbedder(SpecModel):
    """A real embeddings deployment (Entra ID auth: az login, managed identity, or a token in
    APIMGEN_ACCESS_TOKEN); its distances need no calibration."""

    endpoint: str = Field(description="https://<account>.openai.azure.com")
    deployment: str = Field(description="Embeddings deployment name.")
    api_version: str = Field(default="2024-10-21", description="Azure OpenAI API version.")


class SemanticCacheSettings(SpecModel):
    """Score thresholds are model-specific: APIM's 0.05 starting point was set for Azure OpenAI
    embeddings, while the local all-MiniLM-L6-v2 places paraphrases about 0.2 apart."""

    azure_openai: AzureOpenAIEmbedder | None = Field(
        default=None,
        description="Embed with this Azure OpenAI deployment instead of the local model.",
    )

    distance_scale: float = Field(
        default=1.0,
        gt=0,
        le=10,
        description="Production distance ÷ local distance for the same prompt pairs; the "
        "policy's score-threshold is compared with local distance times this. Measure it by "
        "embedding a few paraphrase pairs with both models (see the README).",
    )


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


class GatewayBehaviour(SpecModel):
    """How the gateway runs: its nodes, and where live gateways of different dates were seen
    to behave differently."""

    nodes: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Gateway nodes (units) in each region, taking the region's calls in turn: "
        "they share the region's limit counters and value cache, and each keeps its own pool "
        "rotation, circuit breakers and concurrency slots.",
    )

    retry_reselects_backend: bool = Field(
        default=False,
        description="Inside `retry`, pick a pool member anew on every attempt (older gateways) "
        "instead of resending to the same member while it is available (newer gateways).",
    )


class Scenario(SpecModel):
    """An apimgen simulation scenario."""

    apimgen_scenario: Literal[1] = Field(default=1, description="Scenario format version.")
    name: str | None = Field(default=None, description="Shown in reports.")
    policies: PolicySource = Field(description="The policies to run.")
    api: str | None = Field(default=None, description="API the traffic calls (default: the first).")
    operation: str = Field(default="chat-completions", description="Operation the traffic calls.")
    duration: Duration = Field(description="Simulated time, e.g. 30m.")
    seed: int = Field(default=1, description="Random seed; the same seed gives the same run.")
    starts_at: datetime = Field(
        default=EPOCH,
        description="When the run's clock starts, in UTC unless an offset is given (default "
        "Monday 2026-01-05 09:00 UTC): what DateTime.UtcNow, context.Timestamp and quota "
        "periods see.",
    )
    regions: list[str] = Field(
        default_factory=lambda: ["West Europe"],
        min_length=1,
        description="Gateway regions; each counts limits and trips breakers on its own.",
    )
    backends: dict[str, BackendBehaviour] = Field(
        default_factory=dict,
        description="Mock deployment per backend id (spec backends default to 100k TPM).",
    )
    pools: dict[str, list[PoolMemberSpec]] = Field(
        default_factory=dict, description="Backend pools (folder policies; specs bring their own)."
    )
    consumers: Annotated[list[Consumer], Field(min_length=1)] = Field(
        description="Who sends traffic."
    )
    endpoints: dict[str, Endpoint] = Field(
        default_factory=dict,
        description="Services send-request calls, by URL: a call goes to the endpoint whose URL "
        "it starts with.",
    )
    schemas: dict[str, str] = Field(
        default_factory=dict,
        description="JSON Schemas that validate-content's schema-id names: id: a JSON or YAML "
        "file, relative to the scenario.",
    )
    cached_values: dict[Annotated[str, Field(min_length=1)], Any] = Field(
        default_factory=dict,
        description="What the value cache (cache-lookup-value) holds when the run starts, by "
        "key, on every gateway node, until a policy replaces or removes it: a warm cache, as "
        "another operation or an earlier run left it. Lists and mappings are JSON tokens "
        "(JArray, JObject), as a policy stores them.",
    )
    expect: list[Expectation] = Field(default_factory=list, description="What the run must show.")

    @field_validator("starts_at")
    @classmethod
    def _in_utc(cls, moment: datetime) -> datetime:
        return in_utc(moment)

    @field_validator("regions")
    @classmethod
    def _distinct_regions(cls, regions: list[str]) -> list[str]:
        repeated = sorted({region for region in regions if regions.count(region) > 1})
        if repeated:  # one gateway node per region: a repeat would silently be one node
            raise ValueError(f"each region once; repeated: {', '.join(repeated)}")
        return regions

    @field_validator("endpoints")
    @classmethod
    def _endpoint_urls(cls, endpoints: dict[str, Endpoint]) -> dict[str, Endpoint]:
        for url in endpoints:
            _check_url(url)
        return endpoints

    gateway: GatewayBehaviour = Field(
        default_factory=GatewayBehaviour,
        description="Gateway behaviours that differ between gateway versions.",
    )
    semantic_cache: SemanticCacheSettings = Field(
        default_factory=SemanticCacheSettings,
        description="How the local embedding model stands in for the production one.",
    )


class LoadedScenario:
    def __init__(
        self,
        scenario: Scenario,
        path: Path,
        source: YamlSource | None = None,
        schemas: dict[str, Any] | None = None,
    ) -> None:
        self.scenario = scenario
        self.path = path
        self.source = source
        self.schemas = schemas or {}  # the schemas' documents, by id

    def refused(self, key_path: KeyPath, message: str, hint: str = "") -> SpecError:
        """The error for what a run finds wrong at ``key_path`` (a name only the rendered
        gateway can confirm), located and shaped like the errors of loading."""
        location = self.source.locate(key_path) if self.source else Location(str(self.path))
        return SpecError([Diagnostic(location, format_path(key_path), message, hint=hint)])

    @property
    def base_dir(self) -> Path:
        return self.path.parent


EMBEDDINGS = "embeddings"  # the operation whose calls are embeddings, not chat completions
RESPONSES = "responses"  # the operation whose calls go to the Responses API


def api_of(operation: str) -> str:
    """The API an operation's calls speak: embeddings, responses, or chat completions."""
    return operation if operation in (EMBEDDINGS, RESPONSES) else "chat"


# What only a chat completion has: refused for an embeddings consumer rather than ignored.
_CHAT_ONLY = ("max_tokens", "completion_tokens", "stream_share", "system_prompt")


def _settings_refused(
    source: YamlSource,
    index: int,
    consumer: Consumer,
    names: tuple[str, ...],
    who: str,
    hint: str,
) -> list[Diagnostic]:
    """A problem for each of ``names`` the consumer sets that ``who`` cannot have."""
    return [
        _problem(
            source,
            ("consumers", index, name),
            f"{who} has no {name.replace('_', ' ')}",
            hint,
        )
        for name in names
        if name in consumer.model_fields_set
    ]


def _problem(source: YamlSource, key_path: KeyPath, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(source.locate(key_path), format_path(key_path), message, hint=hint)


def load_scenario(path: Path) -> LoadedScenario:
    source = load_yaml(path)
    if not isinstance(source.data, dict):
        raise SpecError(
            [Diagnostic(Location(source.file, 1, 1), "", "a scenario must be a mapping")]
        )
    refuse_other_kind(source, "scenario")
    try:
        scenario = Scenario.model_validate(source.data)
    except ValidationError as exc:
        raise SpecError(diagnostics_from_validation(exc, source, Scenario)) from None
    problems = []
    names = [c.name for c in scenario.consumers]
    for index, name in enumerate(names):
        if name in names[:index]:  # stats are kept by name, and traffic is seeded by it
            problems.append(
                _problem(
                    source,
                    ("consumers", index, "name"),
                    f"consumer '{name}' is named twice",
                    "give each consumer its own name",
                )
            )
    with_client = [c.name for c in scenario.consumers if c.client is not None]
    for index, expectation in enumerate(scenario.expect):
        if expectation.consumer and expectation.consumer not in names:
            problems.append(
                _problem(
                    source,
                    ("expect", index, "consumer"),
                    f"unknown consumer '{expectation.consumer}'",
                    f"consumers: {', '.join(names)}",
                )
            )
        elif expectation.measure in CLIENT_MEASURES and expectation.consumer not in with_client:
            problems.append(
                _problem(
                    source,
                    ("expect", index, "measure"),
                    f"{expectation.measure} measures a consumer's retrying client, and "
                    + (
                        f"consumer '{expectation.consumer}' has none"
                        if expectation.consumer
                        else "no consumer is named"
                    ),
                    "name a consumer with client: (e.g. client: openai-python)"
                    + (f"; those with one: {', '.join(with_client)}" if with_client else ""),
                )
            )
    for index, consumer in enumerate(scenario.consumers):
        for number, call in enumerate(consumer.calls or ()):
            if call.at is not None and call.at >= scenario.duration:
                problems.append(
                    _problem(
                        source,
                        ("consumers", index, "calls", number, "at"),
                        "the run ends before this call is sent: it would not be sent",
                        f"the run lasts {scenario.duration:g} s; lengthen duration or move it",
                    )
                )
                break
        if consumer.arrival is not None and consumer.arrival.start >= scenario.duration:
            problems.append(
                _problem(
                    source,
                    ("consumers", index, "arrival", "start"),
                    "the run ends before this consumer's first call: it would send nothing",
                    f"the run lasts {scenario.duration:g} s",
                )
            )
        if consumer.anonymous:
            problems += _settings_refused(
                source, index, consumer, ("subscription", "product", "user"),
                "an anonymous consumer",
                "without a subscription key a call has no subscription, product or user",
            )  # fmt: skip
        if (consumer.operation or scenario.operation) == EMBEDDINGS:
            problems += _settings_refused(
                source, index, consumer, _CHAT_ONLY, "an embeddings call",
                "embeddings answer with a vector: their usage counts the input's tokens only",
            )  # fmt: skip
        if consumer.region is not None and consumer.region not in scenario.regions:
            problems.append(
                _problem(
                    source,
                    ("consumers", index, "region"),
                    f"unknown region '{consumer.region}'",
                    f"regions: {', '.join(scenario.regions)}",
                )
            )
    problems += _policy_source_problems(scenario.policies, source, path.parent)
    consumers = _with_prompts_files(scenario, source, path.parent, problems)
    scenario = scenario.model_copy(update={"consumers": consumers})
    for pool, members in scenario.pools.items():
        for index, member in enumerate(members):
            if member.backend not in scenario.backends:
                problems.append(
                    _problem(
                        source,
                        ("pools", pool, index, "backend"),
                        f"unknown backend '{member.backend}'",
                        "pool members are backends defined under `backends`",
                    )
                )
    schemas = {}
    for schema_id, file in scenario.schemas.items():
        try:
            document, problem = _read_schema(confine(path.parent, file))
        except OutsideRootError as outside:
            problems.append(_problem(source, ("schemas", schema_id), str(outside), outside.hint))
            continue
        if problem:
            problems.append(
                _problem(
                    source,
                    ("schemas", schema_id),
                    problem,
                    "paths are relative to the scenario file",
                )
            )
        schemas[schema_id] = document
    if problems:
        raise SpecError(problems)
    return LoadedScenario(scenario, path, source, schemas)


def _with_prompts_files(
    scenario: Scenario, source: YamlSource, base_dir: Path, problems: list[Diagnostic]
) -> list[Consumer]:
    """The consumers, each with the prompts its ``prompts_file`` holds read in."""
    consumers = []
    for index, consumer in enumerate(scenario.consumers):
        if consumer.prompts_file is None:
            consumers.append(consumer)
            continue
        key_path: KeyPath = ("consumers", index, "prompts_file")
        try:
            prompts_path = confine(base_dir, consumer.prompts_file)
            lines = read_bounded(prompts_path).decode("utf-8").splitlines()
        except OutsideRootError as outside:
            problems.append(_problem(source, key_path, str(outside), outside.hint))
            continue
        except (OSError, UnicodeDecodeError, ValueError) as error:
            problems.append(
                _problem(
                    source,
                    key_path,
                    f"cannot read prompts: {error}",
                    "paths are relative to the scenario file",
                )
            )
            continue
        prompts = [line.strip() for line in lines if line.strip()]
        if not prompts:
            problems.append(
                _problem(
                    source,
                    ("consumers", index, "prompts_file"),
                    f"'{consumer.prompts_file}' holds no prompt",
                )
            )
            continue
        consumers.append(consumer.model_copy(update={"prompts": prompts}))
    return consumers


def _policy_source_problems(
    policies: PolicySource, source: YamlSource, base_dir: Path
) -> list[Diagnostic]:
    """The spec or policy folder a scenario names: inside the scenario's tree, and there."""
    for key, written, wanted in (
        ("spec", policies.spec, "file"),
        ("folder", policies.folder, "folder"),
    ):
        if written is None:
            continue
        key_path: KeyPath = ("policies", key)
        try:
            target = confine(base_dir, written)
        except OutsideRootError as outside:
            return [_problem(source, key_path, str(outside), outside.hint)]
        found = target.is_file() if wanted == "file" else target.is_dir()
        if not found:
            return [
                _problem(
                    source,
                    key_path,
                    f"{wanted} '{written}' not found ({target})",
                    "paths are relative to the scenario file",
                )
            ]
    return []


def _read_schema(file: Path) -> tuple[Any, str]:
    """A JSON Schema document and, when it cannot serve, why not."""
    try:
        document = load_yaml(file).data  # JSON is YAML; the same bounded reader serves both
    except InputError as error:
        return None, f"cannot read the schema: {error.message}"
    except SpecError as error:
        first = error.diagnostics[0]
        where = f" (line {first.location.line})" if first.location.line else ""
        return None, f"'{file.name}' is neither JSON nor YAML{where}: {first.message}"
    if not isinstance(document, dict):
        return None, f"'{file.name}' does not hold a JSON Schema object"
    from jsonschema.exceptions import SchemaError

    from apimgen.simulate.policy.handlers.validation import json_schema_validator

    try:
        json_schema_validator(document)
    except SchemaError as error:
        return None, f"'{file.name}' is not a valid JSON Schema: {error.message}"
    return document, ""
