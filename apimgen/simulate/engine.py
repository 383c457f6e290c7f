"""Run requests through a compiled policy pipeline on a virtual clock.

Each request is a generator that yields the virtual time it waits for (a backend's latency, a
retry interval); a heap orders them, so concurrent requests interleave exactly as their times
say, and a run is reproducible for a seed. Sections run inbound → backend → outbound; a policy
error (a token limit's 429, a failed expression) goes to on-error, as in APIM.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from apimgen.simulate.policy.handlers.base import BuildContext, PolicyHandler, registry

if TYPE_CHECKING:
    from apimgen.simulate.explain import Explainer
from apimgen.simulate.policy.handlers.flow import run_section
from apimgen.simulate.policy.reader import PolicyElement
from apimgen.simulate.policy.scopes import SECTIONS, Pipeline
from apimgen.simulate.state import PolicyError, RequestState, error_body

__all__ = ["CompiledPipeline", "EventLoop", "compile_pipeline", "on_error", "process"]


# Final: compiled, these live in C statics, not looked up on the module at every call.
_push: Final = heapq.heappush
_pop: Final = heapq.heappop


@dataclass(frozen=True)
class CompiledPipeline:
    """Each section's handlers, built once and run for every request."""

    inbound: list[PolicyHandler]
    backend: list[PolicyHandler]
    outbound: list[PolicyHandler]
    on_error: list[PolicyHandler]
    skipped: tuple[PolicyElement, ...] = ()


def compile_pipeline(
    pipeline: Pipeline,
    *,
    skip_unknown: bool = False,
    schemas: Mapping[str, Any] | None = None,
    explainer: Explainer | None = None,
) -> CompiledPipeline:
    """Build every handler once; raises PolicyConfigError for what APIM would refuse.
    ``schemas`` are the JSON Schemas validate-content may name, by id; an ``explainer``
    (explain.py) records the steps of the requests it chooses."""
    skipped: list[PolicyElement] = []
    build = BuildContext(
        registry(),
        skip_unknown=skip_unknown,
        skipped=skipped,
        schemas=schemas or {},
        wrap=explainer.wrap if explainer is not None else None,
    )
    inbound, backend, outbound, on_error = (
        build.handlers(pipeline.section(name), name) for name in SECTIONS
    )
    return CompiledPipeline(inbound, backend, outbound, on_error, tuple(skipped))


def _internal_error(state: RequestState, message: str) -> None:
    state.respond(
        500,
        "Internal Server Error",
        {"Content-Type": "application/json"},
        error_body(500, message),
    )


def process(pipeline: CompiledPipeline, state: RequestState) -> Iterator[float]:
    """One request from arrival to response; yields the times it waits until."""
    inbound, backend, outbound = pipeline.inbound, pipeline.backend, pipeline.outbound
    try:
        state.section = "inbound"
        waiting = run_section(inbound, state) if inbound else None
        if waiting is not None:
            yield from waiting
        if not state.returned:
            state.section = "backend"
            waiting = run_section(backend, state) if backend else None
            if waiting is not None:
                yield from waiting
            if state.failure is None:
                # Without a forward-request the gateway's own response goes on to outbound:
                # 200 OK, no body (Learn: forward-request).
                response = state.context.Response
                for hook in state.after_response:
                    hook.run(state)
                if state.pending_response_headers:
                    for name, value in state.pending_response_headers.items():
                        response.Headers._set(name, [value])
                if not state.returned and outbound:
                    state.section = "outbound"
                    waiting = run_section(outbound, state)
                    if waiting is not None:
                        yield from waiting
    except PolicyError as error:
        state.failure = error
    failure = state.failure  # raised, or signalled by a policy's refusal (RequestState.refuse)
    if failure is not None:
        state.failure = None
        _failed(state, failure)
        if pipeline.on_error:  # most refusals meet an empty on-error: no generator for them
            yield from _on_error_section(pipeline, state)


def on_error(
    pipeline: CompiledPipeline, state: RequestState, error: PolicyError
) -> Iterator[float]:
    """What follows ``error`` — a policy's, or a built-in step's before any policy (a call
    without its subscription key): it becomes LastError, its response (or a 500) the
    response, and the on-error section runs."""
    _failed(state, error)
    yield from _on_error_section(pipeline, state)


def _failed(state: RequestState, error: PolicyError) -> None:
    state.record_error(error)
    if error.response is None:
        _internal_error(state, error.message)
    else:
        state.context.Response = error.response
    state.returned = False
    state.section = "on-error"


def _on_error_section(pipeline: CompiledPipeline, state: RequestState) -> Iterator[float]:
    try:
        waiting = run_section(pipeline.on_error, state)
        if waiting is not None:
            yield from waiting
    except PolicyError as error:
        state.failure = error
    nested = state.failure
    if nested is not None:
        state.failure = None
        state.returned = False
        state.record_error(nested)
        _internal_error(state, nested.message)


@dataclass
class EventLoop:
    """A deterministic discrete-event loop over request generators.

    Heap entries are plain tuples (time, sequence, generator, state): the sequence number breaks
    ties in start order, so equal times resolve the same way in every run.
    """

    on_done: Callable[[RequestState], None]
    queue: list[tuple[float, int, Iterator[float], RequestState]] = field(default_factory=list)
    sequence: int = 0
    # actions due at a time (a client giving up on an attempt), kept apart from requests
    timers: list[tuple[float, int, Callable[[float], None]]] = field(default_factory=list)

    def call_at(self, time: float, action: Callable[[float], None]) -> None:
        """Run ``action(time)`` at ``time``, in sequence with the requests due then."""
        self.sequence += 1
        heapq.heappush(self.timers, (time, self.sequence, action))

    def start(self, time: float, state: RequestState, run: Iterator[float]) -> None:
        """Queue a request that starts at ``time``, which may lie ahead of the clock."""
        self.sequence += 1
        _push(self.queue, (time, self.sequence, run, state))

    def arrive(self, time: float, state: RequestState, run: Iterator[float]) -> None:
        """A request arriving at ``time``: what happens before it runs first, then its first
        step runs at once. That is the order ``start`` would give (earlier events and equal
        times queued before it come first), without a round trip through the heap, so a
        request refused in inbound never enters it."""
        if (self.queue and self.queue[0][0] <= time) or (self.timers and self.timers[0][0] <= time):
            self.run_until(time)
        state.services.now = time
        self._step(time, state, run)

    def run_until(self, end: float | None = None) -> None:
        queue = self.queue
        timers = self.timers
        limit = float("inf") if end is None else end
        while True:
            if timers and timers[0][0] <= limit:
                due = timers[0]
                if not queue or (due[0], due[1]) < (queue[0][0], queue[0][1]):
                    heapq.heappop(timers)
                    due[2](due[0])
                    continue
            if not queue or queue[0][0] > limit:
                return
            time, _, run, state = _pop(queue)
            state.services.now = time
            self._step(time, state, run)

    def _step(self, time: float, state: RequestState, run: Iterator[float]) -> None:
        """Run a request to its next wait (queued again) or to its end (reported)."""
        # A loop, not next() and a caught StopIteration: compiled, it steps the generator
        # directly, where catching would build a traceback for every request.
        for resume in run:
            self.sequence += 1
            _push(self.queue, (resume if resume > time else time, self.sequence, run, state))
            return
        self.on_done(state)
