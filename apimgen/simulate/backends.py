"""Mock Azure OpenAI deployments and the gateway's backend entities (single, pool, breaker).

A deployment enforces Azure's limits the way Azure describes them: tokens per 60 s and
requests per 10 s at 6 RPM per 1000 TPM, counting ``max_tokens`` (or a default) plus the prompt
at admission; a refused call gets 429 with ``Retry-After`` and ``retry-after-ms``. Outages and
error rates are scheduled by the scenario.

Pools follow apim-genai-policies.md §5 and §12: lower priority numbers first; within a group a
smooth weighted rotation (80/10/10 gives eight to the first, then one each); lower groups only
while every higher member is tripped; with every member tripped, 503 without calling anything.
A breaker trips on the response that meets its failure condition and rests for its trip
duration, or for the backend's Retry-After when ``acceptRetryAfter`` is set.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field

from apimgen.simulate.timeline import Timeline
from apimgen.simulate.urls import longest_prefix

__all__ = [
    "BackendCall",
    "BackendRegistry",
    "BreakerRule",
    "MockDeployment",
    "Outage",
    "PoolMember",
    "SingleBackend",
]


@dataclass(frozen=True)
class Outage:
    start: float
    end: float
    status: int = 503


class BackendCall:
    """What the mock returns for one call. Its own ``__init__``: one is made per call, and a
    compiled dataclass's ``__init__`` is still generated Python (native.py)."""

    __slots__ = ("completion_tokens", "headers", "latency", "prompt_tokens", "status")

    def __init__(
        self,
        status: int,
        headers: dict[str, str],
        latency: float,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
    ) -> None:
        self.status = status
        self.headers = headers
        self.latency = latency
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class MockDeployment:
    """One Azure OpenAI model deployment with its own quota."""

    name: str
    tpm: int
    latency_base: float = 0.2
    latency_per_token: float = 0.01
    default_max_tokens: int = 4096
    outages: tuple[Outage, ...] = ()
    error_rate: float = 0.0
    _tokens: Timeline = field(default_factory=Timeline)  # tokens used, by time
    _requests: Timeline = field(default_factory=Timeline)  # calls taken, by time
    calls: int = 0
    throttled: int = 0
    tokens_served: int = 0
    tokens_per_minute: dict[int, int] = field(default_factory=dict)  # for the backend chart

    def __post_init__(self) -> None:
        # Azure grants 6 requests per minute per 1000 TPM, enforced over 10-second windows.
        self.requests_per_10s = max(1, self.tpm * 6 // 1000 // 6)

    def _expire(self, now: float) -> None:
        self._tokens.expire(now - 60)
        self._requests.expire(now - 10)

    def call(
        self,
        now: float,
        prompt_tokens: int,
        max_tokens: int | None,
        completion_tokens: int,
        rng_value: float,
        content_type: str = "application/json",
    ) -> BackendCall:
        """One call now; a success answers in ``content_type`` (an error in JSON)."""
        self.calls += 1
        for outage in self.outages:
            if outage.start <= now < outage.end:
                return BackendCall(outage.status, {}, self.latency_base)
        if self.error_rate and rng_value < self.error_rate:
            return BackendCall(500, {}, self.latency_base)
        self._expire(now)
        # an embeddings call reserves its input only (max_tokens 0)
        reserved = prompt_tokens + (self.default_max_tokens if max_tokens is None else max_tokens)
        per_10s = self.requests_per_10s
        if self._tokens.total + reserved > self.tpm or len(self._requests) >= per_10s:
            self.throttled += 1
            wait = self._retry_after(now, reserved)
            return BackendCall(
                429,
                {
                    "Content-Type": "application/json",
                    "Retry-After": str(max(1, math.ceil(wait))),
                    "retry-after-ms": str(int(wait * 1000)),
                    "x-ratelimit-remaining-tokens": str(max(0, self.tpm - self._tokens.total)),
                    "x-ratelimit-remaining-requests": str(max(0, per_10s - len(self._requests))),
                },
                0.05,
            )
        completion = min(completion_tokens, max_tokens) if max_tokens else completion_tokens
        used = prompt_tokens + completion
        self._tokens.add(now, used)
        self._requests.add(now, 1)
        self.tokens_served += used
        minute = int(now // 60)
        self.tokens_per_minute[minute] = self.tokens_per_minute.get(minute, 0) + used
        return BackendCall(
            200,
            {
                "Content-Type": content_type,
                "x-ratelimit-remaining-tokens": str(max(0, self.tpm - self._tokens.total)),
                "x-ratelimit-remaining-requests": str(max(0, per_10s - len(self._requests))),
            },
            self.latency_base + self.latency_per_token * completion,
            prompt_tokens,
            completion,
        )

    def _retry_after(self, now: float, needed: int) -> float:
        if len(self._requests) >= self.requests_per_10s:
            return self._requests.oldest() + 10 - now
        freed = 0
        for time, tokens in self._tokens.entries():
            freed += tokens
            if self._tokens.total - freed + needed <= self.tpm:
                return time + 60 - now
        return 60.0


@dataclass(frozen=True)
class BreakerRule:
    failure_count: int | None
    failure_percentage: int | None
    interval: float
    status_ranges: tuple[tuple[int, int], ...]
    trip_duration: float
    accept_retry_after: bool


@dataclass
class SingleBackend:
    """A backend entity: a URL served by a mock deployment, optionally with a breaker."""

    id: str
    deployment: MockDeployment
    breaker: BreakerRule | None = None
    failures: deque[float] = field(default_factory=deque)
    calls_in_window: deque[float] = field(default_factory=deque)
    tripped_until: float = 0.0
    trips: int = 0

    def available(self, now: float) -> bool:
        return now >= self.tripped_until

    def record(self, now: float, status: int, headers: dict[str, str]) -> None:
        rule = self.breaker
        if rule is None:
            return
        self.calls_in_window.append(now)
        while self.calls_in_window and self.calls_in_window[0] <= now - rule.interval:
            self.calls_in_window.popleft()
        if any(low <= status <= high for low, high in rule.status_ranges):
            self.failures.append(now)
        while self.failures and self.failures[0] <= now - rule.interval:
            self.failures.popleft()
        tripped = (rule.failure_count is not None and len(self.failures) >= rule.failure_count) or (
            rule.failure_percentage is not None
            and self.calls_in_window
            and 100 * len(self.failures) / len(self.calls_in_window) >= rule.failure_percentage
        )
        if tripped:
            rest = rule.trip_duration
            retry_after = headers.get("Retry-After")
            if rule.accept_retry_after and retry_after and retry_after.isdigit():
                rest = float(retry_after)
            self.tripped_until = now + rest
            self.trips += 1
            self.failures.clear()


@dataclass(frozen=True)
class PoolMember:
    backend: str
    priority: int
    weight: int


class _Rotation:
    """One priority group of a pool, picked by smooth weighted round robin (nginx's):
    deterministic, interleaved by weight, over the members not tripped."""

    __slots__ = ("current", "members")

    def __init__(self, members: list[tuple[SingleBackend, int]]) -> None:
        self.members = members  # each with its weight
        self.current = [0] * len(members)  # each member's running weight, by position

    def pick(self, now: float) -> SingleBackend | None:
        """The next available member, or None when every member is tripped."""
        members, current = self.members, self.current
        total = 0
        best = -1
        best_value = 0
        # One pass, no list of the available ones: a tripped member keeps its running weight.
        for index in range(len(members)):
            backend, weight = members[index]
            if backend.tripped_until > now:
                continue
            value = current[index] + weight
            current[index] = value
            total += weight
            if best < 0 or value > best_value:
                best, best_value = index, value
        if best < 0:
            return None
        current[best] -= total
        return members[best][0]


@dataclass
class BackendRegistry:
    """Every backend entity the gateway knows: singles by id, pools of singles."""

    singles: dict[str, SingleBackend]
    pools: dict[str, list[PoolMember]]
    urls: dict[str, str] = field(default_factory=dict)  # backend id → its URL
    # Backends whose calls are counted per other backend being available (expectations'
    # while_available): called id → the ids to look at, and the counts kept.
    watched: dict[str, tuple[str, ...]] = field(default_factory=dict)
    calls_while_available: Counter[tuple[str, str]] = field(default_factory=Counter)

    def note_call(self, backend_id: str, now: float) -> None:
        """A call to ``backend_id`` now: counted for each watched backend available now."""
        for other in self.watched.get(backend_id, ()):
            if self.singles[other].available(now):
                self.calls_while_available[(backend_id, other)] += 1

    def __post_init__(self) -> None:
        self._reached: dict[str, str | None] = {}  # base URL → backend id, as for_url found
        # Each pool's priority groups in order, each with its own rotation, computed once.
        self.groups: dict[str, list[_Rotation]] = {
            pool: [
                _Rotation(
                    [
                        (self.singles[m.backend], max(m.weight, 1))
                        for m in members
                        if m.priority == priority
                    ]
                )
                for priority in sorted({m.priority for m in members})
            ]
            for pool, members in self.pools.items()
        }

    def choose(self, backend_id: str, now: float) -> SingleBackend | None:
        """The backend a call goes to now, or None when a pool has no member available."""
        single = self.singles.get(backend_id)
        if single is not None:
            return single if single.available(now) else None
        for rotation in self.groups.get(backend_id, ()):
            chosen = rotation.pick(now)
            if chosen is not None:
                return chosen
        return None

    def knows(self, backend_id: str) -> bool:
        return backend_id in self.singles or backend_id in self.pools

    def for_url(self, url: str) -> str | None:
        """The backend a ``base-url`` reaches: the one whose URL it starts with."""
        if url in self._reached:
            return self._reached[url]
        if len(self._reached) >= 1024:  # base URLs made by expressions could be endless
            self._reached.clear()
        by_url = {backend_url: backend_id for backend_id, backend_url in self.urls.items()}
        prefix = longest_prefix(url, by_url)
        found = self._reached[url] = by_url[prefix] if prefix is not None else None
        return found
