"""Running a list of handlers: synchronous ones inline, waiting ones as generators, stopping
as soon as a response has been returned."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apimgen.simulate.policy.handlers.base import PolicyHandler
    from apimgen.simulate.state import RequestState

__all__ = ["run_handlers"]


def run_handlers(handlers: Sequence[PolicyHandler], state: RequestState) -> Iterator[float]:
    """Yield the virtual times at which to resume; return when done or a response was set."""
    for handler in handlers:
        waiting = handler.run(state)
        if waiting is not None:
            yield from waiting
        if state.returned:
            return
