"""``apimgen simulate --explain``: the path a few requests took through the policies, for when
a summary says *that* calls were refused and a user needs to see *why*.

Each policy statement the chosen requests ran is recorded with its section, its place in the
policy files and the virtual time, then the request's outcome: status, tokens, backend, the
policy error if one ended it, and its variables. Recording wraps the handlers only when asked,
so a run without ``--explain`` pays nothing for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from apimgen.errors import ApimgenError
from apimgen.simulate.expr.values import CSharpError, UnsupportedError, cs_string
from apimgen.simulate.state import PolicyError

if TYPE_CHECKING:
    from apimgen.simulate.policy.handlers.base import PolicyHandler
    from apimgen.simulate.state import RequestState

__all__ = ["ExplainedRequest", "Explainer", "Step", "parse_explain"]

_SPEC = re.compile(r"(?P<only>\d+)|(?P<consumer>[^:]+?)(?::(?P<count>\d+))?")
_MOST = 100  # more than this is a log, not an explanation
_VALUE_WIDTH = 80
_WHY_WIDTH = 120  # a handler's account of a step: a trace's record can be long


def parse_explain(spec: str) -> tuple[str | None, int]:
    """``--explain`` as (consumer or None for any, how many requests): ``3``, ``alice`` (its
    first 3) or ``alice:10``."""
    found = _SPEC.fullmatch(spec.strip())
    if found is None or not spec.strip():
        raise ApimgenError(
            f"--explain takes N, CONSUMER or CONSUMER:N, not '{spec}'", hint="e.g. alice:5"
        )
    if found.group("only"):
        consumer, count = None, int(found.group("only"))
    else:
        consumer, count = found.group("consumer"), int(found.group("count") or 3)
    if not 1 <= count <= _MOST:
        raise ApimgenError(f"--explain explains 1 to {_MOST} requests, not {count}")
    return consumer, count


@dataclass
class Step:
    """One policy statement a request ran, and what it changed that a reader looks for: the
    response's status, the backend chosen, the error it raised."""

    time: float
    section: str
    policy: str
    at: str  # file:line
    outcome: str = ""


@dataclass
class ExplainedRequest:
    request: str
    consumer: str
    arrived: float
    answered: float
    status: int
    tokens: int
    backend: str | None
    from_cache: bool
    error: tuple[str, str] | None
    steps: list[Step]
    variables: dict[str, str]

    def as_json(self, epoch: datetime) -> dict[str, Any]:
        def clock(seconds: float) -> str:
            return (epoch + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")

        return {
            "request": self.request,
            "consumer": self.consumer,
            "arrived": clock(self.arrived),
            "answered": clock(self.answered),
            "status": self.status,
            "tokens": self.tokens,
            "backend": self.backend,
            "from_cache": self.from_cache,
            "error": None if self.error is None else {"reason": self.error[0],
                                                      "message": self.error[1]},
            "steps": [
                {"time": clock(s.time), "section": s.section, "policy": s.policy, "at": s.at,
                 "outcome": s.outcome}
                for s in self.steps
            ],
            "variables": self.variables,
        }  # fmt: skip


@dataclass
class Explainer:
    """Chooses the first ``count`` requests (of ``consumer``, or of anyone) as they arrive and
    records their steps; the run hands it every finished request."""

    consumer: str | None
    count: int
    explained: list[ExplainedRequest] = field(default_factory=list)
    _steps: dict[int, list[Step]] = field(default_factory=dict)  # by id() of the request state
    _chosen: int = 0

    def wrap(self, handler: PolicyHandler, section: str) -> PolicyHandler:
        """``handler``, its runs recorded for the chosen requests."""
        from apimgen.simulate.policy.handlers.base import RecordedHandler

        run: Callable[[RequestState], Any] = handler.run
        element = handler.element
        at = f"{element.file}:{element.line}"

        def recorded(state: RequestState) -> Any:
            steps = self._steps_of(state)
            if steps is None:
                return run(state)
            step = Step(state.services.now, section, element.name, at)
            steps.append(step)
            before = _before(state)
            try:
                waiting = run(state)
            except PolicyError as error:
                step.outcome = f"raised {error.reason}"
                raise
            if waiting is None:
                step.outcome = _outcome(state, before, handler)
                return None
            return _watched(waiting, state, step, before, handler)

        return RecordedHandler(handler, recorded)

    def built_in(self, state: RequestState, step: str, outcome: str) -> None:
        """A step of the gateway's own that ended the request before any policy ran (the
        subscription key check), recorded if the request is chosen."""
        steps = self._steps_of(state)
        if steps is not None:
            steps.append(Step(state.services.now, "inbound", step, "gateway (built in)", outcome))

    def _steps_of(self, state: RequestState) -> list[Step] | None:
        """The chosen request's steps so far; a request is chosen when it runs its first
        policy, so requests are taken in the order they arrive."""
        key = id(state)  # finished requests leave, so a reused id starts afresh
        steps = self._steps.get(key)
        if steps is not None:
            return steps
        if self._chosen >= self.count:
            return None
        if self.consumer is not None and state.consumer_name != self.consumer:
            return None
        self._chosen += 1
        steps = self._steps[key] = []
        return steps

    def after(self, done: Callable[[RequestState], None]) -> Callable[[RequestState], None]:
        """``done``, then this explainer's own record of the finished request."""

        def both(state: RequestState) -> None:
            done(state)
            self.finish(state)

        return both

    def finish(self, state: RequestState) -> None:
        key = id(state)
        steps = self._steps.pop(key, None)
        if steps is None:
            return
        response = state.context.Response
        self.explained.append(
            ExplainedRequest(
                request=state.context.request_label,
                consumer=state.consumer_name,
                arrived=steps[0].time,  # chosen as it ran its first policy, on arrival
                answered=state.services.now,
                status=response.StatusCode,
                tokens=state.usage["total_tokens"] if state.usage else 0,
                backend=state.backend_used,
                from_cache=state.from_cache,
                error=state.error,
                steps=steps,
                variables={
                    name: _short(value)
                    for name, value in sorted(state.context.Variables.values.items())
                },
            )
        )


def _status(state: RequestState) -> int:
    return state.context.Response.StatusCode


# status, backend chosen, backend called, calls to backends so far
_Before = tuple[int, str | None, str | None, int]


def _before(state: RequestState) -> _Before:
    return _status(state), state.backend_id, state.backend_used, state.backend_calls


def _outcome(state: RequestState, before: _Before, handler: PolicyHandler) -> str:
    """What a finished step changed: the backend it routed to or called, the status now,
    and the handler's own account. A step that called a backend (forward-request, a retry)
    always says whom it called and what came back, even when that is what it was before. A
    limit's refusal is signalled on the request, not raised: the step ends with it."""
    if state.failure is not None:
        return f"raised {state.failure.reason}"
    parts = []
    called = state.backend_calls != before[3]
    if state.backend_id != before[1] and state.backend_id is not None:
        parts.append(f"to {state.backend_id}")
    if state.backend_used is not None and (called or state.backend_used != before[2]):
        parts.append(f"via {state.backend_used}")
    status = _status(state)
    if called or status != before[0]:
        parts.append(f"response {status}")
    why = handler.explain(state)
    if why:
        parts.append(_clipped(" ".join(why.split()), _WHY_WIDTH))
    return ", ".join(parts)


def _watched(
    waiting: Iterator[float],
    state: RequestState,
    step: Step,
    before: _Before,
    handler: PolicyHandler,
) -> Iterator[float]:
    """A waiting policy (forward-request, retry, send-request) run on, its outcome noted
    when it ends."""
    try:
        yield from waiting
    except PolicyError as error:
        step.outcome = f"raised {error.reason}"
        raise
    step.outcome = _outcome(state, before, handler)


def _short(value: Any) -> str:
    try:
        text = cs_string(value)
    except (CSharpError, UnsupportedError):  # a value C# cannot print: shown by its type
        text = f"<{type(value).__name__}>"
    return _clipped(" ".join(text.split()), _VALUE_WIDTH)


def _clipped(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
