"""Retrying clients: what the official OpenAI SDKs do with a refused or failed call.

An application does not see the gateway's 429: its SDK waits and sends the call again. The
rules below are the SDKs' own (their source, not their docs):

- ``openai-python`` (``_base_client.py``, ``_constants.py``): 2 retries; retried on 408, 409,
  429 and any 5xx, or whatever ``x-should-retry`` says; the wait is ``retry-after-ms``, else
  ``retry-after`` in seconds, when that lies in (0, 60]; otherwise ``min(0.5 * 2**n, 8)``
  seconds for the n-th retry (from 0) less up to a quarter of jitter.
- ``openai-dotnet`` (System.ClientModel's ``ClientRetryPolicy`` and its default classifier):
  3 retries; retried on 408, 429, 500, 502, 503 and 504; the wait is the response's
  ``Retry-After`` (honoured since 1.1.0), otherwise ``0.8 * 2**n`` seconds.
- ``none``: the call is sent once.

Each SDK gives up on an attempt after its timeout (openai-python 600 s, openai-dotnet's network
timeout 100 s) and retries it like an error without headers; the gateway still finishes the
abandoned attempt, and its answer is ignored. The jitter is drawn from the run's seed, so runs
repeat.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apimgen.simulate.results import ClientStats
    from apimgen.simulate.state import RequestState

__all__ = ["PRESETS", "ClientCall", "ClientRules", "Retrying", "retry_after_seconds"]


@dataclass(frozen=True)
class ClientRules:
    """When a client sends a call again, and after how long."""

    name: str
    max_retries: int
    timeout: float  # seconds an attempt may take before the client gives up on it
    retries: Callable[[int, Mapping[str, str]], bool]  # status and headers → retry?
    delay: Callable[[int, Mapping[str, str], random.Random], float]  # retries taken so far

    def with_overrides(self, max_retries: int | None, timeout: float | None) -> ClientRules:
        return ClientRules(
            self.name,
            self.max_retries if max_retries is None else max_retries,
            self.timeout if timeout is None else timeout,
            self.retries,
            self.delay,
        )


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """``retry-after-ms`` in seconds, else ``retry-after``'s seconds; None when neither is a
    number (an HTTP date is not sent by the gateway or Azure OpenAI)."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return float(value) / scale
            except ValueError:
                continue
    return None


def _python_retries(status: int, headers: Mapping[str, str]) -> bool:
    told = headers.get("x-should-retry")
    if told in ("true", "false"):
        return told == "true"
    return status in (408, 409, 429) or status >= 500


def _python_delay(taken: int, headers: Mapping[str, str], rng: random.Random) -> float:
    asked = retry_after_seconds(headers)
    if asked is not None and 0 < asked <= 60:
        return asked
    return min(0.5 * 2.0**taken, 8.0) * (1 - 0.25 * rng.random())


_DOTNET_RETRIED = frozenset({408, 429, 500, 502, 503, 504})


def _dotnet_retries(status: int, headers: Mapping[str, str]) -> bool:
    return status in _DOTNET_RETRIED


def _dotnet_delay(taken: int, headers: Mapping[str, str], rng: random.Random) -> float:
    asked = retry_after_seconds(headers)
    if asked is not None and asked > 0:
        return asked
    return 0.8 * 2.0**taken


def _never(status: int, headers: Mapping[str, str]) -> bool:
    return False


def _no_wait(taken: int, headers: Mapping[str, str], rng: random.Random) -> float:
    return 0.0


PRESETS: dict[str, ClientRules] = {
    "openai-python": ClientRules("openai-python", 2, 600.0, _python_retries, _python_delay),
    "openai-dotnet": ClientRules("openai-dotnet", 3, 100.0, _dotnet_retries, _dotnet_delay),
    "none": ClientRules("none", 0, math.inf, _never, _no_wait),
}


class ClientCall:
    """One call an application made through its client: the attempts the gateway sees
    share it. Slotted: one is made per call of a consumer with a client."""

    __slots__ = ("first_arrival", "lane", "live", "planned", "retries", "waited")

    def __init__(self, planned: Any, lane: int, first_arrival: float) -> None:
        self.planned = planned  # the PlannedCall every attempt sends again
        self.lane = lane  # the consumer's position in the scenario
        self.first_arrival = first_arrival
        self.retries = 0
        self.waited = 0.0
        self.live: Any = None  # the attempt the client waits on (None once it gave up)


class Retrying:
    """As each attempt finishes, decides whether its client sends the call again (and
    when), or records the call's outcome as the application saw it."""

    def __init__(
        self,
        rules: Mapping[int, ClientRules],
        stats: Mapping[int, ClientStats],
        seed: int,
        resend: Callable[[ClientCall, float], None],
        answered: Callable[[ClientCall, float], None] | None = None,
    ) -> None:
        self.rules = rules  # by lane; a lane without rules sends each call once
        self.stats = stats
        self.jitter = {lane: random.Random(seed * 7919 + lane) for lane in rules}
        self.resend = resend
        self.answered = answered  # told when a call's last attempt is back (scripts)
        self.schedule: Callable[[float, Callable[[float], None]], None] | None = None

    def started(self, call: ClientCall, state: RequestState, time: float) -> None:
        """An attempt of ``call`` left the client at ``time``: it waits on this one, and
        gives up at its timeout."""
        call.live = state
        rules = self.rules.get(call.lane)
        if rules is not None and rules.timeout < math.inf and self.schedule is not None:
            self.schedule(time + rules.timeout, lambda now: self._gave_up(call, state, now))

    def _gave_up(self, call: ClientCall, state: RequestState, now: float) -> None:
        """The timeout of an attempt: unless it was answered, the client stops waiting and
        retries as after an error without headers, or gives the call up."""
        if call.live is not state:
            return
        call.live = None
        lane = call.lane
        rules = self.rules[lane]
        if call.retries < rules.max_retries:
            wait = rules.delay(call.retries, {}, self.jitter[lane])
            call.retries += 1
            call.waited += wait
            self.resend(call, now + wait)
            return
        self.stats[lane].record(None, call.retries, call.waited, now - call.first_arrival)
        if self.answered is not None:
            self.answered(call, now)

    def finished(self, state: RequestState) -> None:
        call: ClientCall | None = state.client_call
        if call is None or call.live is not state:
            return  # not a client's, or one it gave up on: nobody reads its answer
        call.live = None
        lane = call.lane
        now = state.services.now
        rules = self.rules.get(lane)
        if rules is not None:
            response = state.context.Response
            status = response.StatusCode
            if call.retries < rules.max_retries and not 200 <= status < 300:
                headers = {pair.Key.lower(): ", ".join(pair.Value) for pair in response.Headers}
                if rules.retries(status, headers):
                    wait = rules.delay(call.retries, headers, self.jitter[lane])
                    call.retries += 1
                    call.waited += wait
                    self.resend(call, now + wait)
                    return
            latency = now - call.first_arrival
            self.stats[lane].record(status, call.retries, call.waited, latency)
        if self.answered is not None:
            self.answered(call, now)
