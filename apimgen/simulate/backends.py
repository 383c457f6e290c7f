"""Mock Azure OpenAI deployments and the gateway's backend entities (single, pool, breaker).

A deployment enforces Azure's limits the way Azure describes them: tokens per 60 s and
requests per 10 s at 6 RPM per 1000 TPM. Tokens are charged at admission by the model's
estimate (admission.py: ``max_tokens`` or a flat amount, plus the prompt for some models), not
by the real usage it answers with. A refused call gets 429 with ``Retry-After``,
``retry-after-ms`` and ``x-ratelimit-reset-tokens``; every answer carries ``x-ms-region`` and
the ``x-ratelimit-remaining-*`` headers. Outages and error rates are scheduled by the scenario.

Pools follow apim-genai-policies.md §5 and §12: lower priority numbers first; within a group a
plain weighted round robin (80/10/10 sends eight in a row to the first, then one each, as live
pools do); lower groups only while every higher member is tripped; with every member tripped,
503 without calling anything. A breaker trips on the response that meets its failure condition
and rests for its trip duration, or for the backend's Retry-After when ``acceptRetryAfter`` is
set.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field

from apimgen.simulate.admission import DEFAULT_MODEL, Reservation, reservation_for
from apimgen.simulate.regions import DEFAULT_REGION, display_name
from apimgen.simulate.timeline import Timeline
from apimgen.simulate.urls import longest_prefix

__all__ = [
    "BackendCall",
    "BackendRegistry",
    "BreakerRule",
    "MockDeployment",
    "Outage",
    "PoolMember",
    "Scripted",
    "SingleBackend",
]


@dataclass(frozen=True)
class Outage:
    start: float
    end: float
    status: int = 503


@dataclass(frozen=True)
class Scripted:
    """An answer the scenario gives in place of the mock's: to the backend's call numbers in
    ``calls``, or between ``start`` and ``end``; ``status`` None answers as usual."""

    calls: frozenset[int]
    start: float
    end: float
    status: int | None
    headers: tuple[tuple[str, str], ...]
    latency: float | None

    def applies(self, number: int, now: float) -> bool:
        return number in self.calls if self.calls else self.start <= now < self.end


class BackendCall:
    """What the mock returns for one call. Its own ``__init__``: one is made per call, and a
    compiled dataclass's ``__init__`` is still generated Python (native.py)."""

    __slots__ = ("completion_tokens", "headers", "latency", "prompt_tokens", "reserved", "status")

    def __init__(
        self,
        status: int,
        headers: dict[str, str],
        latency: float,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        reserved: int = 0,
    ) -> None:
        self.status = status
        self.headers = headers
        self.latency = latency
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        # what admission charged (a 200) or asked for (a 429); 0 when it never got that far
        self.reserved = reserved

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
    reservation: Reservation = field(default_factory=lambda: reservation_for(DEFAULT_MODEL))
    region: str = DEFAULT_REGION  # the account's location
    outages: tuple[Outage, ...] = ()
    scripted: tuple[Scripted, ...] = ()
    error_rate: float = 0.0
    _reserved: Timeline = field(default_factory=Timeline)  # tokens reserved at admission
    _requests: Timeline = field(default_factory=Timeline)  # calls taken, by time
    calls: int = 0
    throttled: int = 0
    tokens_served: int = 0  # real usage, as answered
    tokens_per_minute: dict[int, int] = field(default_factory=dict)  # for the backend chart

    def __post_init__(self) -> None:
        # Azure grants 6 requests per minute per 1000 TPM, enforced over 10-second windows.
        self.requests_per_10s = max(1, self.tpm * 6 // 1000 // 6)
        self.region_header = display_name(self.region)
        # the reservation's two numbers as plain fields: read on every call
        self.without_max_tokens = self.reservation.without_max_tokens
        self.counts_prompt = self.reservation.counts_prompt

    def _expire(self, now: float) -> None:
        self._reserved.expire(now - 60)
        self._requests.expire(now - 10)

    def estimate(self, max_tokens: int | None, prompt_estimate: int, embeddings: bool) -> int:
        """What a call reserves against the TPM at admission (admission.py)."""
        if embeddings:
            return prompt_estimate
        completion = self.without_max_tokens if max_tokens is None else max_tokens
        return completion + prompt_estimate if self.counts_prompt else completion

    def call(
        self,
        now: float,
        reserved: int,
        prompt_tokens: int,
        max_tokens: int | None,
        completion_tokens: int,
        rng_value: float,
        content_type: str = "application/json",
    ) -> BackendCall:
        """One call now, charged ``reserved`` tokens at admission; a success answers with its
        real usage in ``content_type`` (an error in JSON)."""
        self.calls += 1
        region = self.region_header
        if self.scripted:
            script = next((a for a in self.scripted if a.applies(self.calls, now)), None)
            if script is not None:
                if script.status is not None:
                    headers = {"Content-Type": "application/json", "x-ms-region": region}
                    headers.update(script.headers)
                    latency = self.latency_base if script.latency is None else script.latency
                    return BackendCall(script.status, headers, latency)
                answer = self._answer(
                    now, reserved, prompt_tokens, max_tokens, completion_tokens, content_type
                )
                answer.latency = script.latency if script.latency is not None else answer.latency
                return answer
        for outage in self.outages:
            if outage.start <= now < outage.end:
                return BackendCall(outage.status, {"x-ms-region": region}, self.latency_base)
        if self.error_rate and rng_value < self.error_rate:
            return BackendCall(500, {"x-ms-region": region}, self.latency_base)
        return self._answer(
            now, reserved, prompt_tokens, max_tokens, completion_tokens, content_type
        )

    def _answer(
        self,
        now: float,
        reserved: int,
        prompt_tokens: int,
        max_tokens: int | None,
        completion_tokens: int,
        content_type: str,
    ) -> BackendCall:
        """The mock's own answer: admitted within its limits, or its 429."""
        region = self.region_header
        self._expire(now)
        per_10s = self.requests_per_10s
        tokens_short = self._reserved.total + reserved > self.tpm
        requests_short = len(self._requests) >= per_10s
        if tokens_short or requests_short:
            self.throttled += 1
            token_wait = self._token_wait(now, reserved) if tokens_short else 0.0
            request_wait = self._requests.oldest() + 10 - now if requests_short else 0.0
            wait = max(token_wait, request_wait)
            return BackendCall(
                429,
                {
                    "Content-Type": "application/json",
                    "Retry-After": str(max(1, math.ceil(wait))),
                    "retry-after-ms": str(int(wait * 1000)),
                    "x-ratelimit-reset-tokens": str(math.ceil(token_wait)),
                    "x-ms-region": region,
                    "x-ratelimit-remaining-requests": str(max(0, per_10s - len(self._requests))),
                    "x-ratelimit-remaining-tokens": str(max(0, self.tpm - self._reserved.total)),
                },
                0.05,
                reserved=reserved,
            )
        completion = min(completion_tokens, max_tokens) if max_tokens else completion_tokens
        used = prompt_tokens + completion
        self._reserved.add(now, reserved)
        self._requests.add(now, 1)
        self.tokens_served += used
        minute = int(now // 60)
        self.tokens_per_minute[minute] = self.tokens_per_minute.get(minute, 0) + used
        return BackendCall(
            200,
            {
                "Content-Type": content_type,
                "x-ms-region": region,
                "x-ratelimit-remaining-requests": str(max(0, per_10s - len(self._requests))),
                "x-ratelimit-remaining-tokens": str(max(0, self.tpm - self._reserved.total)),
            },
            self.latency_base + self.latency_per_token * completion,
            prompt_tokens,
            completion,
            reserved,
        )

    def remaining_tokens(self, now: float) -> int:
        """The TPM not reserved in the last 60 s, as ``x-ratelimit-remaining-tokens`` says."""
        self._expire(now)
        return max(0, self.tpm - self._reserved.total)

    def _token_wait(self, now: float, needed: int) -> float:
        """Seconds until enough reservations leave the window for ``needed`` more."""
        freed = 0
        for time, tokens in self._reserved.entries():
            freed += tokens
            if self._reserved.total - freed + needed <= self.tpm:
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
            # header names are case-insensitive; a scripted answer may write retry-after
            retry_after = headers.get("Retry-After") or headers.get("retry-after")
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
    """One priority group of a pool, picked by plain weighted round robin (LVS's): the
    weights reduced by their greatest common divisor, each member taken while its weight is
    at least a running threshold that steps down, so 80/10/10 gives A eight times, B, C and repeats,
    the order live pools show. A tripped member is passed over; the others keep their turns."""

    __slots__ = ("gcd", "index", "members", "threshold", "top")

    def __init__(self, members: list[tuple[SingleBackend, int]]) -> None:
        self.members = members  # each with its weight
        self.gcd = math.gcd(*(weight for _, weight in members)) if members else 1
        self.top = max((weight for _, weight in members), default=1)
        self.index = -1  # the position picked last
        self.threshold = 0

    def pick(self, now: float) -> SingleBackend | None:
        """The next available member, or None when every member is tripped."""
        members = self.members
        count = len(members)
        # One full cycle of thresholds visits every member at the lowest one, so more steps
        # than that mean nothing is available.
        for _ in range(count * (self.top // self.gcd + 1)):
            self.index = (self.index + 1) % count
            if self.index == 0:
                self.threshold -= self.gcd
                if self.threshold <= 0:
                    self.threshold = self.top
            backend, weight = members[self.index]
            if weight >= self.threshold and backend.tripped_until <= now:
                return backend
        return None


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
