"""The state one simulated request carries through the policy pipeline, and the gateway-wide
services (virtual clock, counters, backends, metric sink) its policies share."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apimgen.simulate.backends import BackendRegistry, SingleBackend
from apimgen.simulate.clock import EPOCH
from apimgen.simulate.context import Context, Response
from apimgen.simulate.expr.compiler import CompiledExpression
from apimgen.simulate.expr.errors import ExpressionRuntimeError, ExpressionUnsupportedError
from apimgen.simulate.expr.statics import static_types
from apimgen.simulate.expr.typesystem import StaticType
from apimgen.simulate.expr.values import ClockReading
from apimgen.simulate.policy.reader import PolicyElement

__all__ = [
    "GatewayServices",
    "LlmRequest",
    "MetricStore",
    "PolicyError",
    "RequestState",
    "error_body",
]


def error_body(status: int, message: str) -> Callable[[], str]:
    """The gateway's own JSON error body, made only if something reads it: most refused
    requests' bodies are never looked at."""
    return lambda: json.dumps({"statusCode": status, "message": message})


class PolicyError(Exception):
    """A policy failed for this request: APIM stops the section and runs on-error.

    ``response`` is what the caller gets unless on-error answers otherwise (a token limit's
    429, say); without one the caller gets 500.
    """

    def __init__(
        self,
        reason: str,
        message: str,
        element: PolicyElement | None = None,
        response: Response | None = None,
        source: str = "",
    ) -> None:
        super().__init__(reason, message)
        self.reason = reason
        self.message = message
        self.element = element
        self.response = response
        self.source = source or (element.name if element else "")

    def __str__(self) -> str:
        # Formatted when shown, not when raised: a refused request raises one and shows none.
        return f"{self.reason}: {self.message}"


# minute, namespace, dimensions, and the names of the metrics emitted together
SeriesKey = tuple[int, str, tuple[tuple[str, str], ...], tuple[str, ...]]


class SeriesSums:
    """The sums of metrics emitted together (by position) in one series, and their count."""

    __slots__ = ("count", "values")

    def __init__(self, size: int) -> None:
        self.values = [0.0] * size
        self.count = 0

    def add(self, values: tuple[float, ...]) -> None:
        totals = self.values
        for index in range(len(totals)):
            totals[index] += values[index]
        self.count += 1


@dataclass
class MetricStore:
    """Custom metrics as Azure Monitor keeps them: summed per minute and dimension set, so a
    long run holds one entry per series and minute, not one per request.

    Kept per (minute, namespace, dimensions, names) with the sums inside, because the token
    policies emit three metrics with the same dimensions at once: one lookup, not three."""

    series: dict[SeriesKey, SeriesSums] = field(default_factory=dict)

    def add(
        self,
        time: float,
        namespace: str,
        name: str,
        value: float,
        dimensions: tuple[tuple[str, str], ...],
    ) -> None:
        """One sample of ``name`` at ``time`` with its dimensions."""
        self.sums(int(time // 60), namespace, dimensions, (name,)).add((value,))

    def sums(
        self,
        minute: int,
        namespace: str,
        dimensions: tuple[tuple[str, str], ...],
        names: tuple[str, ...],
    ) -> SeriesSums:
        """The sums of one series in ``minute``, for metrics emitted together (the token
        policies' three): the caller adds one sample of each to them."""
        key = (minute, namespace, dimensions, names)
        sums = self.series.get(key)
        if sums is None:
            sums = self.series[key] = SeriesSums(len(names))
        return sums

    @property
    def samples(self) -> int:
        """Samples emitted so far, each metric's counted apart."""
        return sum(sums.count * len(key[3]) for key, sums in self.series.items())

    def totals(self) -> Iterator[tuple[int, str, str, tuple[tuple[str, str], ...], float, int]]:
        """Every series and minute: (minute, namespace, metric, dimensions, sum, count)."""
        for (minute, namespace, dims, names), sums in self.series.items():
            for index, name in enumerate(names):
                yield minute, namespace, name, dims, sums.values[index], sums.count

    def sum(
        self, name: str, dimensions: Mapping[str, str] | None = None, namespace: str | None = None
    ) -> float:
        """Total of metric ``name`` (in ``namespace``, if given) over every series whose
        dimensions include ``dimensions``: what a chart split by them would show."""
        wanted = set((dimensions or {}).items())
        return sum(
            value
            for _, space, metric, dims, value, _ in self.totals()
            if metric == name and namespace in (None, space) and wanted <= set(dims)
        )


@dataclass
class GatewayServices:
    """Shared by every request through one gateway node: clock, randomness, counters, sinks."""

    seed: int = 0
    epoch: datetime = EPOCH
    region: str = "West Europe"
    now: float = 0.0
    # limits' counters and the value cache: shared by the nodes of one region
    counters: dict[Any, Any] = field(default_factory=dict)
    cache: dict[str, tuple[float, Any]] = field(default_factory=dict)
    node_counters: dict[Any, Any] = field(default_factory=dict)  # this node's own (concurrency)
    response_cache: dict[tuple[str, ...], Any] = field(default_factory=dict)  # cache-lookup's
    metrics: MetricStore = field(default_factory=MetricStore)
    # records trace and log-to-eventhub wrote, counted by (policy, source or logger): counts,
    # not the texts, so memory stays flat however long the run
    log_records: Counter[tuple[str, str]] = field(default_factory=Counter)
    # what the scenario's backends are (typed, not Any: compiled, calls on it are direct)
    backends: BackendRegistry = field(default_factory=lambda: BackendRegistry({}, {}))
    # tokens-per-minute limits applied, with the consumer each was applied to (for charts)
    token_limits: set[tuple[str, int]] = field(default_factory=set)
    semantic_cache: Any = None  # SemanticCache shared by the run's nodes (semantic_cache.py)
    retry_reselects_backend: bool = False  # older gateways pick a pool member anew per retry
    endpoints: dict[str, Any] = field(default_factory=dict)  # send-request's services, by URL
    endpoint_calls: Counter[str] = field(default_factory=Counter)  # calls each endpoint took

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.random: Callable[[], float] = self.rng.random  # bound once: a draw per call
        self.statics: dict[str, StaticType] = static_types(
            self.clock_reading, self.new_guid, self.random
        )

    def utc_now(self) -> datetime:
        return self.epoch + timedelta(seconds=self.now)

    def clock_reading(self) -> datetime:
        """``DateTime.UtcNow`` in an expression: the time now, with a lowest tick digit."""
        return ClockReading.at(self.utc_now())

    def new_guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


class AfterResponse:
    """What a policy leaves to do once the response is known: settle the tokens a call used,
    emit its metrics. An object rather than a closure: compiled, calling one is a direct call,
    and a policy whose work needs nothing of the request's own adds the same one each time."""

    __slots__ = ()

    def run(self, state: RequestState) -> None:
        raise NotImplementedError


class CallAfterResponse(AfterResponse):
    """A function to call once the response is known (the rarer hooks, kept as closures)."""

    __slots__ = ("function",)

    def __init__(self, function: Callable[[RequestState], None]) -> None:
        self.function = function

    def run(self, state: RequestState) -> None:
        self.function(state)


class LlmRequest:
    """What the scenario knows about a call: its prompt size, limit and planned answer.

    One is made per simulated request: slotted, with its own ``__init__`` (compiled, a named
    tuple's or a dataclass's is generated Python; native.py)."""

    __slots__ = (
        "api",
        "completion_tokens",
        "flagged",
        "group",
        "latency",
        "max_tokens",
        "prompt_estimate",
        "prompt_tokens",
        "stream",
    )

    def __init__(
        self,
        prompt_tokens: int = 0,
        max_tokens: int | None = None,
        completion_tokens: int = 0,
        stream: bool = False,
        flagged: bool = False,
        group: str | None = None,
        api: str = "chat",
        prompt_estimate: int = 0,
    ) -> None:
        self.prompt_tokens = prompt_tokens
        self.max_tokens = max_tokens
        self.completion_tokens = completion_tokens
        self.stream = stream
        self.flagged = flagged  # Content Safety would block this prompt (the scenario decides)
        self.group = group  # paraphrase group, to tell true from false cache hits
        self.api = api  # chat (completions), embeddings (input tokens only) or responses
        # the prompt's share of a deployment's admission estimate (admission.py)
        self.prompt_estimate = prompt_estimate
        self.latency: float | None = None  # a script's backend latency for this call


_NO_CALL = LlmRequest()


class RequestState:
    """One request in flight: its context, what policies decided, and what happens later.

    Slotted, with its own ``__init__`` rather than a dataclass's: one is made per simulated
    request, and a compiled dataclass's ``__init__`` is still generated Python (native.py)."""

    __slots__ = (
        "after_response",
        "backend_calls",
        "backend_id",
        "backend_reserved",
        "backend_used",
        "base_url",
        "body_streamed",
        "cache_outcome",
        "client_call",
        "consumer_name",
        "context",
        "error",
        "failure",
        "from_cache",
        "llm",
        "log_texts",
        "pending_response_headers",
        "pinned_backend",
        "response_cache_key",
        "returned",
        "section",
        "semantic_cache_pending",
        "services",
        "unavailable",
        "usage",
    )

    def __init__(
        self, context: Context, services: GatewayServices, llm: LlmRequest = _NO_CALL
    ) -> None:
        self.context = context
        self.services = services
        self.llm = llm
        self.section: str = "inbound"
        self.backend_id: str | None = None
        self.base_url: str | None = None
        self.returned: bool = False  # return-response or mock-response answered already
        self.from_cache: bool = False
        self.cache_outcome: str | None = None  # a semantic lookup's "hit" or "miss"
        self.client_call: Any = None  # the ClientCall this attempt belongs to (clients.py)
        self.backend_calls: int = 0
        self.backend_reserved: int = 0  # what the last backend call reserved at admission
        self.usage: dict[str, int] | None = None
        self.after_response: list[AfterResponse] = []
        # what trace and log-to-eventhub wrote, once one has
        self.log_texts: list[str] | None = None
        # the pool member a retry resends to while it is available
        self.pinned_backend: SingleBackend | None = None
        self.backend_used: str | None = None
        self.unavailable: bool = False  # answered 503 because no backend was available
        # see set_response_header_later
        self.pending_response_headers: dict[str, str] | None = None
        self.consumer_name: str = ""
        self.error: tuple[str, str] | None = None  # the last policy error's reason and message
        # a missed semantic lookup, for the store in outbound
        self.semantic_cache_pending: Any = None
        # an unbuffered forward-request sent the body: a retry has none
        self.body_streamed: bool = False
        # a missed cache-lookup's key, for cache-store in outbound
        self.response_cache_key: Any = None
        self.failure: PolicyError | None = None  # a refusal not yet handled (see refuse)

    def refuse(self, error: PolicyError) -> None:
        """A policy's refusal (a limit's 429 or 403), signalled rather than raised: the
        section stops as after return-response, then the engine goes on to on-error as if
        ``error`` had been raised. Compiled, an exception pays a traceback entry for every
        frame it crosses, which was half of what a refused request cost."""
        self.failure = error
        self.returned = True

    def evaluate(self, expression: CompiledExpression) -> Any:
        """Run an expression; C# exceptions become PolicyErrors (on-error runs)."""
        try:
            return expression.evaluate(self.context, self.services.statics)
        except ExpressionRuntimeError as error:
            raise PolicyError(
                "ExpressionValueEvaluationFailure",
                f"{error.kind}: {error.message} in {expression.describe()}",
                source="expression",
            ) from None
        except ExpressionUnsupportedError as unsupported:
            message = f"{unsupported} in {expression.describe()}"
            raise PolicyError("SimulatorUnsupported", message, source="expression") from None

    def set_response_header_later(self, name: str, value: str) -> None:
        """A header for the response, set once there is one (remaining-tokens and the like)."""
        if self.pending_response_headers is None:
            self.pending_response_headers = {}
        self.pending_response_headers[name] = value

    def record_log(self, policy: str, sink: str, text: str) -> None:
        """A record a logging policy wrote: counted for the run, kept with this request (and
        freed with it) for --explain."""
        self.services.log_records[policy, sink] += 1
        if self.log_texts is None:
            self.log_texts = []
        self.log_texts.append(text)

    def record_error(self, error: PolicyError) -> None:
        # The reason and message, not the exception: its traceback holds the frames that hold
        # this state, a cycle only the garbage collector would free.
        self.error = (error.reason, error.message)
        element = error.element
        if element is None:
            self.context.failed(error.source, error.reason, error.message, self.section)
            return
        policy_id = element.attributes.get("id", "")
        self.context.failed(
            error.source, error.reason, error.message, self.section, policy_id, element.file
        )

    def respond(
        self,
        status: int,
        reason: str,
        headers: dict[str, Any] | None = None,
        body: str | Callable[[], str] | None = None,
    ) -> Response:
        response = Response(status, reason, headers or {}, body)  # positional: one per refusal
        self.context.Response = response
        return response
