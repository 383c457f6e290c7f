"""The GenAI token policies: ``azure-openai-token-limit`` / ``llm-token-limit`` and
``azure-openai-emit-token-metric`` / ``llm-emit-token-metric``.

Token limits follow Learn's azure-openai-token-limit-policy and llm-token-limit-policy plus the
behaviour recorded on live gateways (apim-genai-policies.md §2.5, §12):

- one counter per counter-key value, per gateway node, shared by every scope using the key;
- the minute limit is a sliding 60-second window over timestamped entries; admission compares
  the key's current total with the limit (it does not ask whether this request fits), so
  without estimation one request can overshoot and the following ones are refused;
- with ``estimate-prompt-tokens`` the prompt estimate is entered on arrival and the rest
  (actual total - estimate) when the response completes; a failure without usage keeps the
  estimate; a prompt estimate alone above the limit is refused with no retry time;
- over the minute limit: 429 "Token limit is exceeded. Try again in N seconds." with
  Retry-After N, the time until enough tokens leave the window; over the quota (strictly past
  it): 403 until the UTC period boundary; LastError.Reason OpenAITokenLimitExceeded or
  OpenAITokenQuotaExceeded, and on-error runs.

Token metrics emit three samples per successful call (Total, Prompt, Completion Tokens) after
the response, with the dimensions evaluated for that request; refused calls emit none.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from apimgen.simulate.policy.handlers.base import (
    Attribute,
    BuildContext,
    PolicyConfigError,
    PolicyHandler,
    Value,
    compile_value,
)
from apimgen.simulate.policy.reader import PolicyElement
from apimgen.simulate.state import (
    AfterResponse,
    MetricStore,
    PolicyError,
    RequestState,
    SeriesSums,
    error_body,
)
from apimgen.simulate.timeline import Timeline

__all__ = ["EmitTokenMetric", "SlidingWindow", "TokenLimit"]

WINDOW = 60.0
PERIODS = ("Hourly", "Daily", "Weekly", "Monthly", "Yearly")


class SlidingWindow(Timeline):
    """Timestamped token entries of one key over the last 60 seconds."""

    __slots__ = ("_release",)

    def __init__(self) -> None:
        super().__init__()
        # The entry whose leaving brings the total below a limit, per limit. Entries leaving
        # from the front do not move it (the total falls by what they held), only an added
        # entry does; a key refused many times over asks the same question again and again.
        self._release: dict[int, float | None] = {}

    def add(self, time: float, amount: int) -> None:
        if amount:
            super().add(time, amount)
            if self._release:
                self._release.clear()

    def seconds_until_below(self, now: float, limit: int) -> int:
        """Whole seconds until the window total drops below ``limit``."""
        if limit in self._release:
            release = self._release[limit]
        else:
            release = self._release[limit] = self._release_time(limit)
        if release is None:
            return 1
        return max(1, math.ceil(release + WINDOW - now))

    def _release_time(self, limit: int) -> float | None:
        remaining = self.total
        for time, tokens in self.entries():
            if remaining < limit:
                break
            remaining -= tokens
            if remaining < limit:
                return time
        return None


@dataclass
class QuotaCounter:
    period_start: datetime
    spent: int = 0


def _period_start(moment: datetime, period: str) -> datetime:
    base = moment.replace(minute=0, second=0, microsecond=0)
    if period == "Hourly":
        return base
    base = base.replace(hour=0)
    if period == "Daily":
        return base
    if period == "Weekly":
        return base - timedelta(days=base.weekday())  # weeks start on Monday (undocumented)
    if period == "Monthly":
        return base.replace(day=1)
    return base.replace(month=1, day=1)


def _next_period(start: datetime, period: str) -> datetime:
    if period == "Hourly":
        return start + timedelta(hours=1)
    if period == "Daily":
        return start + timedelta(days=1)
    if period == "Weekly":
        return start + timedelta(days=7)
    if period == "Monthly":
        return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start.replace(year=start.year + 1)


class TokenLimit(PolicyHandler):
    element_names = ("azure-openai-token-limit", "llm-token-limit")
    child_elements = ()
    sections = ("inbound",)
    attributes = (
        Attribute("counter-key", required=True),
        Attribute("tokens-per-minute", kind="whole"),
        # Expressions allowed in both since April 2026 (Learn: "Policy expression support in
        # token limit policies"); before, token-quota took a literal only.
        Attribute("token-quota", kind="whole"),
        Attribute("token-quota-period", choices=PERIODS),
        Attribute("estimate-prompt-tokens", default="false"),
        Attribute("retry-after-header-name", expressions=False, default="Retry-After"),
        Attribute("retry-after-variable-name", expressions=False),
        Attribute("remaining-quota-tokens-header-name", expressions=False),
        Attribute("remaining-quota-tokens-variable-name", expressions=False),
        Attribute("remaining-tokens-header-name", expressions=False),
        Attribute("remaining-tokens-variable-name", expressions=False),
        Attribute("tokens-consumed-header-name", expressions=False),
        Attribute("tokens-consumed-variable-name", expressions=False),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        quota, period = self.values.get("token-quota"), self.values.get("token-quota-period")
        self.quota_expression = quota if quota is not None and quota.expression else None
        self.period_expression = period if period is not None and period.expression else None
        self.quota = None if self.quota_expression else self.int_literal("token-quota")
        self.has_quota = self.has("token-quota")
        self.period = None if self.period_expression else self.literal("token-quota-period")
        if not self.has("tokens-per-minute") and not self.has("token-quota"):
            raise PolicyConfigError(
                f"<{element.name}> needs tokens-per-minute, token-quota, or both",
                location=element.location,
            )
        if self.has("token-quota") != self.has("token-quota-period"):
            raise PolicyConfigError(
                f"<{element.name}> token-quota and token-quota-period go together",
                location=element.location,
            )
        # Everything written as a literal is read once here, not on every request.
        self.counter_key = self.values["counter-key"]
        tpm = self.values.get("tokens-per-minute")
        self.tpm_expression = tpm if tpm is not None and tpm.expression is not None else None
        self.tpm = self.int_literal("tokens-per-minute") if self.tpm_expression is None else None
        estimate = self.values["estimate-prompt-tokens"]
        self.estimate_expression = estimate if estimate.expression is not None else None
        self.estimate = (estimate.literal or "").lower() == "true"
        self.consumed_variable = self.literal("tokens-consumed-variable-name")
        self.consumed_header = self.literal("tokens-consumed-header-name")
        self.remaining_variable = self.literal("remaining-tokens-variable-name")
        self.remaining_header = self.literal("remaining-tokens-header-name")
        self.remaining_quota_variable = self.literal("remaining-quota-tokens-variable-name")
        self.remaining_quota_header = self.literal("remaining-quota-tokens-header-name")
        self.retry_after_header = self.literal("retry-after-header-name") or "Retry-After"
        self.retry_after_variable = self.literal("retry-after-variable-name")
        self._refusals: dict[int | None, tuple[str, dict[str, str], Callable[[], str]]] = {}

    def _tokens_per_minute(self, state: RequestState) -> int | None:
        assert self.tpm_expression is not None
        text = self.tpm_expression.text(state)
        if not text:
            return None  # an expression giving nothing: no per-minute limit for this call
        return int(self.number_from("tokens-per-minute", text, whole=True))

    def _quota_and_period(self, state: RequestState) -> tuple[int | None, str | None]:
        """This request's quota and its period; (None, None) when it has no quota."""
        quota, period = self.quota, self.period
        if self.quota_expression is not None:
            text = self.quota_expression.text(state)
            if not text:
                return None, None  # an expression giving nothing: no quota for this call
            quota = int(self.number_from("token-quota", text, whole=True))
        if self.period_expression is not None:
            period = self.period_expression.text(state)
            if period not in PERIODS:
                raise PolicyError(
                    "ExpressionValueEvaluationFailure",
                    f"<{self.element.name}> token-quota-period gave '{period}', not one of "
                    f"{', '.join(PERIODS)}",
                    self.element,
                )
        return quota, period

    def _quota_counter(
        self, state: RequestState, key: str
    ) -> tuple[QuotaCounter | None, int | None, str | None]:
        """This request's quota counter, quota and period; Nones when it has no quota."""
        limit, period = self._quota_and_period(state)
        if limit is None or period is None:
            return None, None, None
        counters = state.services.counters
        start = _period_start(state.services.utc_now(), period)
        quota: QuotaCounter | None = counters.get(("quota", key, period))
        if quota is None or quota.period_start != start:
            quota = counters[("quota", key, period)] = QuotaCounter(start)
        return quota, limit, period

    def _estimating(self, state: RequestState) -> bool:
        if state.llm.stream:
            return True
        if self.estimate_expression is None:
            return self.estimate
        return self.estimate_expression.text(state).lower() == "true"

    def run(self, state: RequestState) -> None:
        services = state.services
        now = services.now
        key = self.counter_key.text(state)
        tpm = self.tpm if self.tpm_expression is None else self._tokens_per_minute(state)
        if tpm is not None:
            services.token_limits.add((state.consumer_name, tpm))
        estimating = self._estimating(state)
        counters = services.counters
        window: SlidingWindow | None = counters.get(("tpm", key))
        if window is None:
            window = counters[("tpm", key)] = SlidingWindow()
        window.expire(now - WINDOW)
        quota, limit, period = (
            self._quota_counter(state, key) if self.has_quota else (None, None, None)
        )
        if tpm is not None and window.total >= tpm:
            return self._refuse_tpm(state, window.seconds_until_below(now, tpm))
        if quota is not None and limit is not None and period is not None and quota.spent > limit:
            return self._refuse_quota(state, quota, period)
        estimate = state.llm.prompt_tokens if estimating else 0
        if tpm is not None and estimating and estimate > tpm:
            return self._refuse_tpm(state, None)
        window.add(now, estimate)
        if quota is not None:
            quota.spent += estimate
        if tpm is not None and (self.remaining_variable or self.remaining_header):
            self._expose(state, self.remaining_variable, self.remaining_header, tpm - window.total)
        if quota is not None and limit is not None:
            self._expose(
                state,
                self.remaining_quota_variable,
                self.remaining_quota_header,
                limit - quota.spent,
            )
        if self.consumed_variable:
            state.context.Variables.values[self.consumed_variable] = estimate

        state.after_response.append(_Settlement(self, window, quota, estimate, tpm, limit))

    @staticmethod
    def _expose(
        state: RequestState, variable: str | None, header: str | None, remaining: int
    ) -> None:
        value = max(0, remaining)
        if variable:
            state.context.Variables.values[variable] = value
        if header:
            state.set_response_header_later(header, str(value))

    def _refuse_tpm(self, state: RequestState, seconds: int | None) -> None:
        refusal = self._refusals.get(seconds)
        if refusal is None:
            refusal = self._refusals[seconds] = self._refusal(seconds)
        message, headers, body = refusal
        if seconds is not None and self.retry_after_variable:
            state.context.Variables.values[self.retry_after_variable] = seconds
        response = state.respond(429, "Too Many Requests", headers, body)
        state.refuse(PolicyError("OpenAITokenLimitExceeded", message, self.element, response))

    def _refusal(self, seconds: int | None) -> tuple[str, dict[str, str], Callable[[], str]]:
        """A 429's message, headers and body for a wait of ``seconds``: made once per wait
        and shared (a response reads its headers without changing them), since a client
        refused for minutes on end asks the same question again and again."""
        message = "Token limit is exceeded."
        headers = {"Content-Type": "application/json"}
        if seconds is not None:
            message += f" Try again in {seconds} seconds."
            headers[self.retry_after_header] = str(seconds)
        return message, headers, error_body(429, message)

    def _refuse_quota(self, state: RequestState, quota: QuotaCounter, period: str) -> None:
        remaining = _next_period(quota.period_start, period) - state.services.utc_now()
        seconds = max(1, int(remaining.total_seconds()))
        message = (
            f"Token quota is exceeded. Try again in {seconds // 60} minutes and "
            f"{seconds % 60} seconds."
        )
        response = state.respond(
            403,
            "Forbidden",
            {
                "Content-Type": "application/json",
                self.retry_after_header: str(seconds),
            },
            error_body(403, message),
        )
        state.refuse(PolicyError("OpenAITokenQuotaExceeded", message, self.element, response))


class _Settlement(AfterResponse):
    """A token limit's count corrected to what the call used, once its usage is known."""

    __slots__ = ("estimate", "limit", "quota", "quota_limit", "tpm", "window")

    def __init__(
        self,
        limit: TokenLimit,
        window: SlidingWindow,
        quota: QuotaCounter | None,
        estimate: int,
        tpm: int | None,
        quota_limit: int | None,
    ) -> None:
        self.limit = limit
        self.window = window
        self.quota = quota
        self.estimate = estimate
        self.tpm = tpm  # this call's limits, as evaluated on arrival
        self.quota_limit = quota_limit

    def run(self, state: RequestState) -> None:
        usage = state.usage
        estimate = self.estimate
        limit = self.limit
        if usage is None:
            # No usage (a backend error): the estimate stays counted, and is what the call
            # consumed (a published live run: a backend 429 reported its 14-token estimate).
            consumed = estimate
        else:
            extra = usage["total_tokens"] - estimate
            self.window.add(state.services.now, extra)
            if self.quota is not None:
                self.quota.spent += extra
            # A stream's headers, and the outbound policies that run with them, come before
            # its tokens: they see the estimate (a published measurement on a live gateway:
            # the variable reported 18 prompt tokens of a 520-token streamed call).
            consumed = estimate if state.llm.stream else usage["total_tokens"]
        if limit.consumed_variable:
            state.context.Variables.values[limit.consumed_variable] = consumed
        if limit.consumed_header:
            state.context.Response.Headers._set(limit.consumed_header, [str(consumed)])
        if state.llm.stream:
            return  # its remaining-tokens went out with the headers, before the tokens
        # A whole answer's remaining tokens are written once the backend answered, so they
        # include this call's own usage (published live runs: 10,000 less the first call's
        # 148 tokens read 9,852 on that call's own header).
        tpm, window = self.tpm, self.window
        if tpm is not None and (limit.remaining_variable or limit.remaining_header):
            window.expire(state.services.now - WINDOW)
            limit._expose(
                state, limit.remaining_variable, limit.remaining_header, tpm - window.total
            )
        quota, quota_limit = self.quota, self.quota_limit
        if (
            quota is not None
            and quota_limit is not None
            and (limit.remaining_quota_variable or limit.remaining_quota_header)
        ):
            limit._expose(
                state,
                limit.remaining_quota_variable,
                limit.remaining_quota_header,
                quota_limit - quota.spent,
            )


# Dimension names the gateway fills itself (apim-genai-policies.md §3.1).
_DEFAULT_DIMENSIONS: dict[str, Callable[[RequestState], str]] = {
    "API ID": lambda state: state.context.Api.Id,
    "Operation ID": lambda state: state.context.Operation.Id,
    "Product ID": lambda state: state.context.Product.Id if state.context.Product else "",
    "User ID": lambda state: state.context.User.Id if state.context.User else "",
    "Subscription ID": lambda state: (
        state.context.Subscription.Id if state.context.Subscription else ""
    ),
    "Location": lambda state: state.services.region,
    "Gateway ID": lambda state: state.context.Deployment.GatewayId,
    "Backend ID": lambda state: state.backend_used or state.backend_id or "",
}

# A dimension's value as known on arrival: text, or the gateway's getter to read after the
# response (the backend that answered is known only then).
_Known = str | Callable[[RequestState], str]


def _constant_dimensions(
    dimensions: list[tuple[Value, Value | None, PolicyElement]],
) -> list[tuple[str, _Known]] | None:
    """The dimensions resolved once when every name and value is a literal, else None."""
    constant: list[tuple[str, _Known]] = []
    for name_value, given, _ in dimensions:
        name = name_value.literal
        if name is None or (given is not None and given.expression is not None):
            return None
        if given is not None:
            constant.append((name, given.literal or ""))
            continue
        getter = _DEFAULT_DIMENSIONS.get(name)
        if getter is None:
            return None  # refused per request, as the gateway does
        constant.append((name, getter))
    return constant


# What the token metric policies emit, in the order of their values.
_TOKEN_METRICS = ("Total Tokens", "Prompt Tokens", "Completion Tokens")


class EmitTokenMetric(PolicyHandler):
    element_names = ("azure-openai-emit-token-metric", "llm-emit-token-metric")
    child_elements = ("dimension",)
    sections = ("inbound",)
    attributes = (Attribute("namespace", expressions=False, default="API Management"),)

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        self.dimensions: list[tuple[Value, Value | None, PolicyElement]] = []
        for child in element.children:
            if "name" not in child.attributes:
                raise PolicyConfigError("<dimension> needs name", location=child.location)
            value = child.attributes.get("value")
            self.dimensions.append(
                (
                    compile_value(child.attributes["name"], child, "name"),
                    compile_value(value, child, "value") if value is not None else None,
                    child,
                )
            )
        if not self.dimensions:
            raise PolicyConfigError(
                f"<{element.name}> needs at least one dimension", location=element.location
            )
        self.namespace = self.literal("namespace") or "API Management"
        constant = _constant_dimensions(self.dimensions)
        # With every dimension known in advance, every request leaves the same emission.
        self._constant_emission = (
            _Emission(self.namespace, constant, shared=True) if constant is not None else None
        )

    def _evaluate(self, state: RequestState) -> list[tuple[str, _Known]]:
        evaluated: list[tuple[str, _Known]] = []
        for name_value, value, child in self.dimensions:
            name = name_value.text(state)
            if value is not None:
                evaluated.append((name, value.text(state)))
                continue
            getter = _DEFAULT_DIMENSIONS.get(name)
            if getter is None:
                raise PolicyError(
                    "ExpressionValueEvaluationFailure",
                    f"dimension '{name}' has no value and is not a default dimension",
                    child,
                )
            evaluated.append((name, getter))
        return evaluated

    def run(self, state: RequestState) -> None:
        emission = self._constant_emission
        if emission is None:
            emission = _Emission(self.namespace, self._evaluate(state))
        state.after_response.append(emission)


# Series an emission with fixed dimensions remembers; past it, it starts afresh.
_MAX_REMEMBERED_SERIES = 1024


class _Series:
    """Where the samples with one set of dimension values go in the minute last written."""

    __slots__ = ("dimensions", "minute", "store", "sums")

    def __init__(self, dimensions: tuple[tuple[str, str], ...]) -> None:
        self.dimensions = dimensions
        self.minute = -1
        self.store: MetricStore | None = None
        self.sums: SeriesSums | None = None


class _Emission(AfterResponse):
    """A token metric policy's three metrics, emitted once the call's usage is known.

    One made for a policy whose dimensions are all known in advance serves every request, and
    remembers each set of dimension values' series for the current minute: most samples then
    add to it without a lookup in the store."""

    __slots__ = ("_names", "_series", "dimensions", "namespace")

    def __init__(
        self, namespace: str, dimensions: list[tuple[str, _Known]], *, shared: bool = False
    ) -> None:
        self.namespace = namespace
        self.dimensions = dimensions  # a value, or the getter read once the response is known
        self._names = tuple(name for name, _ in dimensions)
        self._series: dict[tuple[str, ...], _Series] | None = {} if shared else None

    def run(self, state: RequestState) -> None:
        usage = state.usage
        if usage is None or state.context.Response.StatusCode >= 400:
            return
        # tuple() of a generator over a list: compiled, filled in place, no list between.
        known = tuple(
            value if isinstance(value, str) else value(state) for _, value in self.dimensions
        )
        services = state.services
        store, minute = services.metrics, int(services.now // 60)
        remembered = self._series
        series = remembered.get(known) if remembered is not None else None
        if series is not None and series.minute == minute and series.store is store:
            sums = series.sums
            assert sums is not None
        else:
            dimensions = (
                series.dimensions
                if series is not None
                else tuple(zip(self._names, known, strict=True))
            )
            sums = store.sums(minute, self.namespace, dimensions, _TOKEN_METRICS)
            if remembered is not None:
                if series is None:
                    if len(remembered) >= _MAX_REMEMBERED_SERIES:
                        remembered.clear()
                    series = remembered[known] = _Series(dimensions)
                series.minute, series.store, series.sums = minute, store, sums
        sums.add(
            (
                float(usage["total_tokens"]),
                float(usage["prompt_tokens"]),
                float(usage["completion_tokens"]),
            )
        )
