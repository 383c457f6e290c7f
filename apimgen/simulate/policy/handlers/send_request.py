"""``send-request`` (Learn: send-request-policy): a call from the gateway to another service,
answered by the scenario's ``endpoints`` on the virtual clock.

The request is built as the policy says (set-url, set-method, set-header, set-body; a managed
identity token is noted and not fetched); the endpoint whose URL the call's URL starts with
answers with its status, headers and body after its latency, and the response lands in
``response-variable-name`` as an ``IResponse``. As Learn documents, a call slower than
``timeout`` (default 60 s) fails, and with ``ignore-error="true"`` a failed call leaves the
variable null instead of failing the request. A URL no endpoint serves is such a failure too.
The error reason the gateway gives a failed call is not documented: the simulator uses
``SendRequestFailure`` (inference).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from apimgen.simulate.context import Response
from apimgen.simulate.policy.handlers.base import (
    Attribute,
    BuildContext,
    PolicyConfigError,
    PolicyHandler,
    Value,
    Wait,
    compile_value,
    refuse_unknown_children,
)
from apimgen.simulate.policy.handlers.control import header_values
from apimgen.simulate.policy.reader import PolicyElement
from apimgen.simulate.state import PolicyError, RequestState
from apimgen.simulate.urls import longest_prefix

if TYPE_CHECKING:
    from apimgen.simulate.scenario import Endpoint

__all__ = ["SendOneWayRequest", "SendRequest", "WaitFor"]

_PARTS = ("set-url", "set-method", "set-header", "set-body", "authentication-managed-identity")


class SendRequest(PolicyHandler):
    """``send-request`` (Learn: send-request-policy); see the module's docstring."""

    element_names = ("send-request",)
    attributes: ClassVar[tuple[Attribute, ...]] = (
        Attribute("mode", expressions=False, default="new", choices=("new", "copy")),
        Attribute("response-variable-name", expressions=False),
        Attribute("timeout", default="60", kind="number"),
        Attribute("ignore-error", expressions=False, default="false", choices=("true", "false")),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        for child in element.children:
            if child.name not in _PARTS:
                raise PolicyConfigError(
                    f"<{element.name}> with <{child.name}> is not simulated",
                    hint=f"the simulator builds the call from {', '.join(_PARTS)}",
                    location=child.location,
                )
        url = element.child("set-url")
        url_text = (url.text or "").strip() if url is not None else ""
        if url is None or not url_text:
            raise PolicyConfigError(f"<{element.name}> needs <set-url>", location=element.location)
        self.url = compile_value(url_text, url)
        # Built per call like the gateway builds them, so their expressions fail as they would;
        # the endpoint answers whatever they say.
        self.parts: list[Value] = []
        for child in element.children:
            if child.name in ("set-method", "set-body"):
                self.parts.append(compile_value((child.text or "").strip(), child))
            elif child.name == "set-header":
                self.parts.append(compile_value(child.attributes.get("name", ""), child, "name"))
                self.parts.extend(header_values(child))
        self.variable = self.literal("response-variable-name")
        self.ignore_error = self.literal("ignore-error") == "true"

    def run(self, state: RequestState) -> Wait | None:
        return self._send(state)

    def _send(self, state: RequestState) -> Iterator[float]:
        services = state.services
        url = self.url.text(state)
        for part in self.parts:
            part.get(state)
        timeout = self.number("timeout", state)
        prefix = longest_prefix(url, services.endpoints)
        endpoint = services.endpoints[prefix] if prefix is not None else None
        if prefix is not None:
            services.endpoint_calls[prefix] += 1
        if endpoint is None or endpoint.latency > timeout:
            if endpoint is not None:
                yield services.now + timeout
            failure = (
                f"no scenario endpoint answers {url}"
                if endpoint is None
                else f"{url} did not answer within {timeout:g} s"
            )
            if not self.ignore_error:
                raise PolicyError("SendRequestFailure", failure, self.element)
            self._store(state, None)
            return
        status, body = _answer(endpoint, services.now, services.rng.random)
        yield services.now + endpoint.latency
        text = body if isinstance(body, str) or body is None else json.dumps(body)
        self._store(
            state,
            Response(
                StatusCode=status,
                StatusReason="OK" if status < 400 else "",
                headers=dict(endpoint.headers),
                body_text=text,
            ),
        )

    def _store(self, state: RequestState, response: Response | None) -> None:
        if self.variable:
            state.context.Variables.values[self.variable] = response

    def explain(self, state: RequestState) -> str:
        """The answer as the policies see it, in the response variable."""
        if not self.variable:
            return "answer not kept (no response-variable-name)"
        response = state.context.Variables.values.get(self.variable)
        if not isinstance(response, Response):
            return f"{self.variable} = null (the call failed; ignore-error)"
        return f"{self.variable} = {response.StatusCode}"


class SendOneWayRequest(SendRequest):
    """``send-one-way-request`` (Learn: send-one-way-request-policy): the call is built as the
    policy says and sent without waiting, so neither its latency nor its answer (nor a
    missing endpoint) changes the request."""

    element_names = ("send-one-way-request",)
    attributes = (
        Attribute("mode", expressions=False, default="new", choices=("new", "copy")),
        Attribute("timeout", default="60", kind="number"),
    )

    def run(self, state: RequestState) -> Wait | None:
        url = self.url.text(state)
        for part in self.parts:
            part.get(state)
        prefix = longest_prefix(url, state.services.endpoints)
        if prefix is not None:
            state.services.endpoint_calls[prefix] += 1
        return None


def _answer(endpoint: Endpoint, now: float, draw: Callable[[], float]) -> tuple[int, Any]:
    """The status and body a call gets now: an outage's status, a drawn 500, or the
    configured answer. ``draw`` is called only when there is an error rate, so endpoints
    without one leave the run's random stream as it was."""
    for outage in endpoint.outages:
        if outage.start <= now < outage.end:
            return outage.status, {"error": {"code": str(outage.status)}}
    if endpoint.error_rate and draw() < endpoint.error_rate:
        return 500, {"error": {"code": "500"}}
    return endpoint.status, endpoint.body


class WaitFor(PolicyHandler):
    """``wait`` (Learn: wait-policy): runs its child policies — ``send-request``,
    ``cache-lookup-value``, ``choose`` — side by side on the virtual clock and goes on when all
    of them (``for="all"``, the default) or the first (``for="any"``) finished. Under ``any`` the
    others are not followed further: a response that had not arrived is not set (inference:
    Learn does not say what becomes of them)."""

    element_names = ("wait",)
    sections = ("inbound", "outbound", "backend")
    attributes = (Attribute("for", expressions=False, default="all", choices=("all", "any")),)
    _CHILDREN = ("send-request", "cache-lookup-value", "choose")

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        refuse_unknown_children(element, self._CHILDREN)
        self.children = build.handlers(element.children, build.section)
        self.any = self.literal("for") == "any"

    def run(self, state: RequestState) -> Wait | None:
        waiting = []
        for child in self.children:
            started = child.run(state)
            if state.failure is not None:
                return None  # a child's policy refused the call: the section stops here
            if started is None:
                if self.any:
                    return None  # one finished at once: the wait is over
            else:
                waiting.append(started)
        return self._side_by_side(waiting, state) if waiting else None

    def _side_by_side(self, waiting: list[Wait], state: RequestState) -> Wait:
        """The children's waits merged: each resumed at its own time, in the order written,
        starting with all of them now."""
        pending: list[tuple[float, Wait]] = [(state.services.now, wait) for wait in waiting]
        while pending:
            now, still = state.services.now, []
            for time, wait in pending:
                if time > now:
                    still.append((time, wait))
                    continue
                try:
                    still.append((next(wait), wait))
                except StopIteration:
                    if self.any:
                        return
                if state.failure is not None:
                    return  # a child's policy refused the call: the others stop with it
            pending = still
            if pending:
                yield min(time for time, _ in pending)
