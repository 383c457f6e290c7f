"""Running a list of handlers: synchronous ones inline, waiting ones as generators, stopping
as soon as a response has been returned.

Most policies never wait, so a section runs as plain calls until a handler hands back a
generator (forward-request, retry); only from there on does the rest of the section become a
generator the event loop resumes. A request refused in inbound never builds one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apimgen.simulate.policy.handlers.base import PolicyHandler
    from apimgen.simulate.state import RequestState

__all__ = ["run_handlers", "run_section"]


def run_section(handlers: list[PolicyHandler], state: RequestState) -> Iterator[float] | None:
    """Run ``handlers`` until one waits: None when all ran, else the generator of the rest."""
    for index in range(len(handlers)):  # a list, indexed: compiled, no iterator object
        waiting = handlers[index].run(state)
        if waiting is not None:
            rest = handlers[index + 1 :]
            return _resume(waiting, rest, state) if rest else waiting
        if state.returned:
            return None
    return None


def _resume(
    waiting: Iterator[float], rest: list[PolicyHandler], state: RequestState
) -> Iterator[float]:
    yield from waiting
    if not state.returned:
        yield from run_handlers(rest, state)


def run_handlers(handlers: list[PolicyHandler], state: RequestState) -> Iterator[float]:
    """Yield the virtual times at which to resume; return when done or a response was set."""
    waiting = run_section(handlers, state)
    if waiting is not None:
        yield from waiting
