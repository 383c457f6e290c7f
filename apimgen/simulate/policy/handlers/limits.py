"""Request-based limits: ``rate-limit``, ``rate-limit-by-key``, ``quota``, ``quota-by-key``,
``limit-concurrency`` (Learn pages of the same names; apim-genai-policies.md §6).

- rate limits: calls per renewal period (at most 300 s) as a sliding window per key (the
  classic tiers' algorithm; v2's token bucket is not modelled); over it, 429 "Rate limit is
  exceeded. Try again in N seconds." With an expression-valued increment-condition the call is
  counted after the response, so the 429 arrives one call late, as documented.
- quotas: calls per fixed period (at least 300 s, 0 for a lifetime quota), starting at
  first-period-start; over it, 403 "Out of call volume quota. Quota will be replenished in
  hh:mm:ss." Bandwidth quotas and per-API/operation children of rate-limit/quota are refused
  as not simulated rather than silently ignored.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from apimgen.simulate.context import Response
from apimgen.simulate.expr.values import cs_string
from apimgen.simulate.policy.handlers.base import (
    Attribute,
    BuildContext,
    PolicyConfigError,
    PolicyHandler,
    Wait,
)
from apimgen.simulate.policy.handlers.flow import run_section
from apimgen.simulate.policy.reader import PolicyElement
from apimgen.simulate.state import CallAfterResponse, PolicyError, RequestState, error_body
from apimgen.simulate.timeline import Timeline

__all__ = ["LimitConcurrency", "QuotaByKey", "RateLimitByKey"]


class CallWindow(Timeline):
    """Calls counted in the last ``period`` seconds, as (time, calls) entries: an
    increment-count of a million is one entry, not a million."""

    __slots__ = ()

    def count(self, now: float, period: float) -> int:
        self.expire(now - period)
        return self.total

    def add(self, time: float, amount: int = 1) -> None:
        if amount > 0:
            super().add(time, amount)


def _refuse_children(element: PolicyElement) -> None:
    if element.children:
        raise PolicyConfigError(
            f"per-API and per-operation limits inside <{element.name}> are not simulated",
            hint="use rate-limit-by-key or quota-by-key with a counter key per API",
            location=element.children[0].location,
        )


def _response(
    state: RequestState, status: int, reason: str, message: str, headers: dict[str, str]
) -> Response:
    return state.respond(
        status,
        reason,
        {"Content-Type": "application/json", **headers},
        error_body(status, message),
    )


class _RateLimit(PolicyHandler):
    sections = ("inbound",)

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        calls = self.literal("calls")
        if calls is not None and int(calls) < 1:
            raise PolicyConfigError(
                f"<{element.name}> calls must be at least 1", location=element.location
            )

    def key(self, state: RequestState) -> str:
        raise NotImplementedError

    def run(self, state: RequestState) -> None:
        calls = int(self.number("calls", state, whole=True))
        if calls < 1:
            raise PolicyError(
                "ExpressionValueEvaluationFailure",
                f"<{self.element.name}> calls gave {calls}, not at least 1",
                self.element,
            )
        period = self.number("renewal-period", state)
        if period > 300:
            raise PolicyError(
                "InvalidPolicyValue", "renewal-period must be 300 seconds or less", self.element
            )
        key = self.key(state)
        counters = state.services.counters
        window: CallWindow | None = counters.get(("rate", key, period))
        if window is None:
            window = counters[("rate", key, period)] = CallWindow()
        now = state.services.now
        used = window.count(now, period)
        if used >= calls:
            wait = max(1, math.ceil(window.oldest() + period - now))
            headers = {self.literal("retry-after-header-name") or "Retry-After": str(wait)}
            variable = self.literal("retry-after-variable-name")
            if variable:
                state.context.Variables.values[variable] = wait
            message = f"Rate limit is exceeded. Try again in {wait} seconds."
            response = _response(state, 429, "Too Many Requests", message, headers)
            return state.refuse(PolicyError("RateLimitExceeded", message, self.element, response))
        condition = self.values.get("increment-condition")
        count = self.values.get("increment-count")

        def increment(done: RequestState) -> None:
            if condition is not None and cs_string(condition.get(done)).lower() != "true":
                return
            times = int(self.number("increment-count", done, whole=True)) if count else 1
            window.add(done.services.now, times)

        if condition is None and count is None:
            window.add(now)
        else:
            state.after_response.append(CallAfterResponse(increment))
        remaining = max(0, calls - used - 1)
        variable = self.literal("remaining-calls-variable-name")
        if variable:
            state.context.Variables.values[variable] = remaining
        header = self.literal("remaining-calls-header-name")
        if header:
            state.set_response_header_later(header, str(remaining))
        total = self.literal("total-calls-header-name")
        if total:
            state.set_response_header_later(total, str(calls))


_RATE_ATTRIBUTES = (
    Attribute("calls", required=True, kind="whole"),
    Attribute("renewal-period", required=True, kind="number"),
    Attribute("retry-after-header-name", expressions=False),
    Attribute("retry-after-variable-name", expressions=False),
    Attribute("remaining-calls-header-name", expressions=False),
    Attribute("remaining-calls-variable-name", expressions=False),
    Attribute("total-calls-header-name", expressions=False),
)


class RateLimitByKey(_RateLimit):
    element_names = ("rate-limit-by-key",)
    child_elements = ()
    attributes = (
        *_RATE_ATTRIBUTES,
        Attribute("counter-key", required=True),
        Attribute("increment-condition"),
        Attribute("increment-count", kind="whole"),
    )

    def key(self, state: RequestState) -> str:
        return self.values["counter-key"].text(state)


def _subscription_key(state: RequestState) -> str:
    """rate-limit and quota count per subscription (and take no per-API children)."""
    subscription = state.context.Subscription
    return f"subscription:{subscription.Id if subscription else ''}"


class RateLimit(_RateLimit):
    """``rate-limit``: per subscription."""

    element_names = ("rate-limit",)
    attributes = _RATE_ATTRIBUTES

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        _refuse_children(element)

    def key(self, state: RequestState) -> str:
        return _subscription_key(state)


@dataclass
class PeriodCounter:
    start: float
    calls: int = 0


class _Quota(PolicyHandler):
    sections = ("inbound",)

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        if self.has("bandwidth"):
            raise PolicyConfigError(
                f"<{element.name}> bandwidth quotas are not simulated", location=element.location
            )
        self.calls = self.int_literal("calls")
        self.period = self.int_literal("renewal-period") or 0
        if self.calls is None:
            raise PolicyConfigError(f"<{element.name}> needs calls", location=element.location)
        if 0 < self.period < 300:
            raise PolicyConfigError(
                f"<{element.name}> renewal-period must be at least 300 seconds (or 0)",
                location=element.location,
            )

    def key(self, state: RequestState) -> str:
        raise NotImplementedError

    def run(self, state: RequestState) -> None:
        services = state.services
        now = services.now
        origin = 0.0
        first = self.literal("first-period-start")
        if first:
            start = datetime.fromisoformat(first.replace("Z", "+00:00"))
            origin = (start - services.epoch).total_seconds()
        period_start = origin
        if self.period:
            period_start = origin + ((now - origin) // self.period) * self.period
        key = ("quota", self.key(state), self.period)
        counter: PeriodCounter | None = services.counters.get(key)
        if counter is None or counter.start != period_start:
            counter = PeriodCounter(period_start)
            services.counters[key] = counter
        assert self.calls is not None
        if counter.calls >= self.calls:
            if self.period:
                left = int(period_start + self.period - now)
                clock = f"{left // 3600:02d}:{left % 3600 // 60:02d}:{left % 60:02d}"
                message = f"Out of call volume quota. Quota will be replenished in {clock}."
                headers = {"Retry-After": str(max(1, left))}
            else:
                message = "Out of call volume quota."
                headers = {}
            response = _response(state, 403, "Forbidden", message, headers)
            return state.refuse(PolicyError("QuotaExceeded", message, self.element, response))
        condition = self.values.get("increment-condition")
        if condition is None:
            counter.calls += 1
        else:

            def increment(done: RequestState) -> None:
                if cs_string(condition.get(done)).lower() == "true":
                    counter.calls += 1

            state.after_response.append(CallAfterResponse(increment))


_QUOTA_ATTRIBUTES = (
    Attribute("calls", expressions=False, kind="whole"),
    Attribute("bandwidth", expressions=False, kind="whole"),
    Attribute("renewal-period", required=True, expressions=False, kind="whole"),
)


class QuotaByKey(_Quota):
    element_names = ("quota-by-key",)
    child_elements = ()
    attributes = (
        *_QUOTA_ATTRIBUTES,
        Attribute("counter-key", required=True),
        Attribute("increment-condition"),
        Attribute("first-period-start", expressions=False),
    )

    def key(self, state: RequestState) -> str:
        return self.values["counter-key"].text(state)


class Quota(_Quota):
    """``quota``: per subscription."""

    element_names = ("quota",)
    attributes = _QUOTA_ATTRIBUTES

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        _refuse_children(element)

    def key(self, state: RequestState) -> str:
        return _subscription_key(state)


class LimitConcurrency(PolicyHandler):
    """``limit-concurrency`` (Learn: limit-concurrency-policy): at most ``max-count`` requests
    run the enclosed policies at once per key, counted per gateway node; one more fails at
    once with 429. A slot is held until the enclosed policies finish, a backend call's wait
    included, and freed however they end. The 429 goes to on-error like the other limits'
    (inference: Learn gives the status only)."""

    element_names = ("limit-concurrency",)
    attributes = (
        Attribute("key", required=True),
        Attribute("max-count", required=True, expressions=False, kind="whole"),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        self.max_count = self.int_literal("max-count")
        if self.max_count is None or self.max_count < 1:
            raise PolicyConfigError(
                "<limit-concurrency> max-count must be a whole number of at least 1",
                location=element.location,
            )
        self.children = build.handlers(element.children, build.section)

    def run(self, state: RequestState) -> Wait | None:
        key = ("concurrency", self.values["key"].text(state))
        counters = state.services.node_counters  # a node holds its own requests
        running = counters.get(key, 0)
        if running >= (self.max_count or 0):
            message = "Concurrency limit is exceeded."
            response = _response(state, 429, "Too Many Requests", message, {})
            state.refuse(PolicyError("ConcurrencyLimitExceeded", message, self.element, response))
            return None
        counters[key] = running + 1
        try:
            waiting = run_section(self.children, state)
        except BaseException:
            counters[key] -= 1
            raise
        if waiting is None:
            counters[key] -= 1
            return None
        return self._hold(waiting, state, key)

    @staticmethod
    def _hold(waiting: Iterator[float], state: RequestState, key: tuple[str, str]) -> Wait:
        try:
            yield from waiting
        finally:
            state.services.node_counters[key] -= 1
