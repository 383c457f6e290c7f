"""What a simulation measured, aggregated as requests complete (nothing per request is kept),
and the scenario's expectations checked against it."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from apimgen.simulate.clock import EPOCH
from apimgen.simulate.scenario import CLIENT_MEASURES, Expectation

if TYPE_CHECKING:
    from apimgen.simulate.explain import ExplainedRequest
    from apimgen.simulate.state import MetricStore

__all__ = [
    "BackendStats",
    "ClientStats",
    "ConsumerStats",
    "ExpectationResult",
    "SimulationResult",
]


@dataclass
class ClientStats:
    """A retrying client's calls as the application saw them: one per call it made, however
    many attempts the gateway saw. End-to-end latencies (waits included) are kept to the
    hundredth of a second in a histogram, so memory stays flat however long the run."""

    preset: str
    calls: int = 0
    outcomes: Counter[int] = field(default_factory=Counter)  # the last attempt's status
    retried: int = 0  # calls that needed more than one attempt
    recovered: int = 0  # calls that succeeded after at least one retry
    retries: int = 0  # attempts after the first
    waited: float = 0.0  # seconds spent waiting before retries
    latencies: Counter[float] = field(default_factory=Counter)

    timed_out: int = 0  # calls whose last attempt outlasted the client's timeout

    def record(self, status: int | None, retries: int, waited: float, latency: float) -> None:
        """A call's end: its last attempt's status, or None when the client gave up on it."""
        self.calls += 1
        if status is None:
            self.timed_out += 1
            status = 0
        else:
            self.outcomes[status] += 1
        self.retries += retries
        self.retried += 1 if retries else 0
        self.recovered += 1 if retries and 200 <= status < 300 else 0
        self.waited += waited
        self.latencies[round(latency, 2)] += 1

    @property
    def succeeded(self) -> int:
        return sum(n for status, n in self.outcomes.items() if 200 <= status < 300)

    def latency(self, share: float) -> float:
        """The end-to-end latency ``share`` of the calls stayed within (0.95: the p95)."""
        if not self.calls:
            return 0.0
        wanted = share * self.calls
        seen = 0
        for value in sorted(self.latencies):
            seen += self.latencies[value]
            if seen >= wanted:
                return value
        return max(self.latencies)

    def to_json(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "calls": self.calls,
            "succeeded": self.succeeded,
            "outcomes": {str(k): v for k, v in sorted(self.outcomes.items())},
            "retried_calls": self.retried,
            "succeeded_after_retries": self.recovered,
            "timed_out": self.timed_out,
            "retries": self.retries,
            "waited_seconds": round(self.waited, 3),
            "latency_p50_seconds": self.latency(0.5),
            "latency_p95_seconds": self.latency(0.95),
            "latency_max_seconds": max(self.latencies, default=0.0),
        }


@dataclass
class ConsumerStats:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    tokens: int = 0
    tokens_per_minute: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    backend_calls: int = 0
    client: ClientStats | None = None  # the calls as its retrying client saw them

    def record(self, minute: int, status: int, tokens: int, backend_calls: int) -> None:
        self.requests += 1
        self.statuses[status] += 1
        self.tokens += tokens
        self.backend_calls += backend_calls
        if tokens:
            self.tokens_per_minute[minute] += tokens

    @property
    def server_errors(self) -> int:
        return server_errors(self.statuses)

    @property
    def other_client_errors(self) -> int:
        """4xx answers other than throttling's 429 and 403 (validate-content's 400s,
        validate-jwt's 401s): reports give them a column only when a run has some."""
        return sum(n for s, n in self.statuses.items() if 400 <= s < 500 and s not in (429, 403))


def server_errors(statuses: Counter[int]) -> int:
    """The 5xx answers among ``statuses`` (one consumer's, or several added up)."""
    return sum(n for status, n in statuses.items() if status >= 500)


@dataclass
class BackendStats:
    requests: int = 0
    tokens: int = 0
    throttled: int = 0
    trips: int = 0
    tokens_per_minute: dict[int, int] = field(default_factory=dict)
    # semantic-cache lookups' embedding calls to this backend, kept apart from the calls and
    # tokens it served for chat, which the cache's savings are measured against
    embedding_calls: int = 0
    embedding_tokens: int = 0


@dataclass(frozen=True)
class ExpectationResult:
    name: str
    measured: float
    passed: bool
    bound: str


@dataclass
class SimulationResult:
    name: str
    seed: int
    duration: float
    consumers: dict[str, ConsumerStats]
    backends: dict[str, BackendStats]
    tokens_per_minute: dict[int, int]
    metric_samples: int
    skipped_policies: list[str]
    expectations: list[ExpectationResult] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)  # why calls failed, most common first
    starts_at: datetime = EPOCH  # the wall-clock time of minute 0
    # tokens-per-minute limits applied, by the consumer whose calls met them (the charts draw
    # each consumer's own)
    limits_by_consumer: dict[str, list[int]] = field(default_factory=dict)
    semantic_cache: dict[str, Any] | None = None  # hits, false hits, embedder (None: unused)
    # calls to a backend while another was available, for expectations' while_available
    calls_while_available: Counter[tuple[str, str]] = field(default_factory=Counter)
    endpoint_calls: dict[str, int] = field(default_factory=dict)  # send-request calls per endpoint
    # records trace and log-to-eventhub wrote, by policy, then by source or logger
    log_records: dict[str, dict[str, int]] = field(default_factory=dict)
    explained: list[ExplainedRequest] = field(default_factory=list)  # with --explain
    # the custom metrics each gateway node kept, for metric expectations
    metric_stores: list[MetricStore] = field(default_factory=list)
    # answers that reached their callers without a body: an outbound read without
    # preserveContent used it up (Learn, set-body)
    empty_bodies: int = 0
    # calls no forward-request sent on: the gateway answered them itself, 200 with no body
    # unless outbound changed it (Learn: forward-request)
    unforwarded: int = 0
    # the simulated second a --timeout stopped the run at; None for a run that finished
    stopped_at: float | None = None

    @property
    def token_limits(self) -> list[int]:
        """Every tokens-per-minute limit the run applied, smallest first."""
        return sorted({limit for limits in self.limits_by_consumer.values() for limit in limits})

    @property
    def total_requests(self) -> int:
        return sum(c.requests for c in self.consumers.values())

    @property
    def backend_tokens(self) -> int:
        """Tokens the backends served (cache hits and refusals spent none)."""
        return sum(b.tokens for b in self.backends.values())

    @property
    def passed(self) -> bool:
        """Every expectation holds, over the whole run: a stopped run proves nothing."""
        return self.stopped_at is None and all(e.passed for e in self.expectations)

    def measure(self, expectation: Expectation) -> float:
        if expectation.measure == "metric":
            return self._metric_sum(expectation)
        if expectation.measure.startswith("cache_"):
            return self._cache_measure(expectation.measure)
        if expectation.measure in CLIENT_MEASURES:
            return self._client_measure(expectation)
        if expectation.backend and expectation.while_available:
            pair = (expectation.backend, expectation.while_available)
            return float(self.calls_while_available[pair])
        if expectation.backend:
            backend = self.backends.get(expectation.backend, BackendStats())
            return float(
                {
                    "requests": backend.requests,
                    "tokens": backend.tokens,
                    "status_429": backend.throttled,
                    "trips": backend.trips,
                }.get(expectation.measure, float("nan"))
            )
        groups = (
            [self.consumers[expectation.consumer]]
            if expectation.consumer
            else list(self.consumers.values())
        )
        requests = sum(g.requests for g in groups)
        everything = sum(c.tokens for c in self.consumers.values())
        statuses: Counter[int] = Counter()
        for g in groups:
            statuses.update(g.statuses)
        per_minute: dict[int, int] = defaultdict(int)
        for g in groups:
            for minute, tokens in g.tokens_per_minute.items():
                per_minute[minute] += tokens
        values: dict[str, float] = {
            "requests": requests,
            "status_200": statuses[200],
            "status_429": statuses[429],
            "status_403": statuses[403],
            "status_400": statuses[400],
            "status_401": statuses[401],
            "status_5xx": server_errors(statuses),
            "share_429": statuses[429] / requests if requests else 0.0,
            "share_503": statuses[503] / requests if requests else 0.0,
            "tokens": sum(g.tokens for g in groups),
            "token_share": sum(g.tokens for g in groups) / everything if everything else 0.0,
            "max_tokens_per_minute": max(per_minute.values(), default=0),
            "trips": sum(b.trips for b in self.backends.values()),
        }
        return float(values[expectation.measure])

    def _client_measure(self, expectation: Expectation) -> float:
        """A retrying client's calls as the application saw them (the scenario checks that
        the consumer has a client)."""
        assert expectation.consumer is not None
        client = self.consumers[expectation.consumer].client
        assert client is not None
        values = {
            "calls": client.calls,
            "calls_ok": client.succeeded,
            "calls_ok_after_retries": client.recovered,
            "calls_failed": client.calls - client.succeeded,
            "client_retries": client.retries,
            "latency_p95": client.latency(0.95),
        }
        return float(values[expectation.measure])

    def _metric_sum(self, expectation: Expectation) -> float:
        """A custom metric's sum over the samples with the expectation's dimensions (and
        namespace), on every gateway node: 0 when no policy emitted it that way."""
        assert expectation.metric is not None  # the scenario model requires it
        return float(
            sum(
                store.sum(expectation.metric, expectation.dimensions, expectation.namespace)
                for store in self.metric_stores
            )
        )

    def _cache_measure(self, measure: str) -> float:
        """Semantic-cache measures; 0 when no lookup happened."""
        cache = self.semantic_cache or {}
        if measure == "cache_hit_ratio":
            return float(cache.get("hit_ratio", 0.0))
        if measure == "cache_false_hits":
            return float(cache.get("false_hits", 0))
        saved = float(cache.get("tokens_saved", 0))
        served = saved + self.backend_tokens
        return saved / served if served else 0.0  # cache_saved_share

    def check(self, expectations: list[Expectation]) -> None:
        for expectation in expectations:
            measured = self.measure(expectation)
            checks = []
            if expectation.at_most is not None:
                checks.append((measured <= expectation.at_most, f"<= {expectation.at_most:g}"))
            if expectation.at_least is not None:
                checks.append((measured >= expectation.at_least, f">= {expectation.at_least:g}"))
            if expectation.equals is not None:
                checks.append((measured == expectation.equals, f"== {expectation.equals:g}"))
            if expectation.measure.startswith("cache_") and not self.semantic_cache:
                # Nothing was looked up: "no false hits" would hold of a cache that never ran.
                checks.append((False, "a semantic-cache lookup (none ran)"))
            subject = expectation.consumer or expectation.backend or "all"
            name = expectation.name or f"{subject} {expectation.measure}" + (
                f" while {expectation.while_available} is available"
                if expectation.while_available
                else ""
            )
            if expectation.measure == "metric" and not expectation.name:
                where = ", ".join(f"{k}={v}" for k, v in (expectation.dimensions or {}).items())
                name = f"metric {expectation.metric}" + (f" where {where}" if where else "")
            self.expectations.append(
                ExpectationResult(
                    name,
                    measured,
                    all(ok for ok, _ in checks),
                    " and ".join(text for _, text in checks),
                )
            )

    @property
    def minutes(self) -> int:
        """Minutes the run covers, a partial last minute included."""
        return int(self.duration // 60) + (1 if self.duration % 60 else 0)

    def to_json(self) -> dict[str, Any]:
        minutes = self.minutes
        return {
            "schema": "apimgen.simulation/v1",
            "name": self.name,
            "seed": self.seed,
            "starts_at": self.starts_at.isoformat().replace("+00:00", "Z"),
            "duration_seconds": self.duration,
            "requests": self.total_requests,
            "consumers": {
                name: {
                    "requests": c.requests,
                    "statuses": {str(k): v for k, v in sorted(c.statuses.items())},
                    "tokens": c.tokens,
                    "backend_calls": c.backend_calls,
                    "tokens_per_minute": [c.tokens_per_minute.get(m, 0) for m in range(minutes)],
                    **({"client": c.client.to_json()} if c.client is not None else {}),
                }
                for name, c in self.consumers.items()
            },
            "backends": {
                name: {
                    "requests": b.requests,
                    "tokens": b.tokens,
                    "throttled": b.throttled,
                    "trips": b.trips,
                    "tokens_per_minute": [b.tokens_per_minute.get(m, 0) for m in range(minutes)],
                    **(
                        {
                            "embedding_calls": b.embedding_calls,
                            "embedding_tokens": b.embedding_tokens,
                        }
                        if b.embedding_calls
                        else {}
                    ),
                }
                for name, b in self.backends.items()
            },
            "tokens_per_minute": [self.tokens_per_minute.get(m, 0) for m in range(minutes)],
            "metric_samples": self.metric_samples,
            "endpoint_calls": dict(sorted(self.endpoint_calls.items())),
            "token_limits": self.token_limits,
            "semantic_cache": self.semantic_cache,
            "skipped_policies": self.skipped_policies,
            "errors": [{"error": e, "count": n} for e, n in self.errors.most_common()],
            "expectations": [
                {"name": e.name, "measured": e.measured, "bound": e.bound, "passed": e.passed}
                for e in self.expectations
            ],
            "passed": self.passed,
            **({"empty_response_bodies": self.empty_bodies} if self.empty_bodies else {}),
            **({"unforwarded_requests": self.unforwarded} if self.unforwarded else {}),
            **({"stopped_at_seconds": self.stopped_at} if self.stopped_at is not None else {}),
            **({"log_records": self.log_records} if self.log_records else {}),
            **(
                {"explained": [e.as_json(self.starts_at) for e in self.explained]}
                if self.explained
                else {}
            ),
        }
