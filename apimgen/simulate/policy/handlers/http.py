"""The HTTP message itself: set-status, set-method and cors.

Common in exported policies (the portal writes set-method on imported operations, and most
global policies carry cors), so they run rather than stop a simulation. Each handler follows
its Microsoft Learn page, named in its docstring.
"""

from __future__ import annotations

from apimgen.simulate.expr.values import cs_string
from apimgen.simulate.policy.handlers.base import (
    Attribute,
    BuildContext,
    PolicyConfigError,
    PolicyHandler,
    Value,
    compile_value,
)
from apimgen.simulate.policy.reader import PolicyElement
from apimgen.simulate.state import PolicyError, RequestState

__all__ = ["Cors", "SetMethod", "SetStatus", "http_status"]


def http_status(text: str, element: PolicyElement) -> int:
    """A status code an expression gave; anything else fails the request, as in APIM."""
    if not (text.strip().isdigit() and 100 <= int(text) <= 599):
        raise PolicyError(
            "ExpressionValueEvaluationFailure",
            f"<set-status> code gave '{text}', not an HTTP status",
            element,
        )
    return int(text)


class SetStatus(PolicyHandler):
    """``set-status`` (Learn: set-status-policy) on its own, outside return-response: the status
    of the response in hand. In inbound there is none yet; the simulator starts the caller's
    response with this status, and a forwarded call's answer replaces it (inference)."""

    element_names = ("set-status",)
    child_elements = ()
    attributes = (Attribute("code", required=True), Attribute("reason", required=True))

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        code = self.literal("code")
        if code is not None and not (code.isdigit() and 100 <= int(code) <= 599):
            raise PolicyConfigError(
                f"<set-status> code must be an HTTP status from 100 to 599, not '{code}'",
                location=element.location,
            )

    def run(self, state: RequestState) -> None:
        status = http_status(self.values["code"].text(state), self.element)
        reason = self.values["reason"].text(state)
        response = state.context.Response
        response.StatusCode, response.StatusReason = status, reason


class SetMethod(PolicyHandler):
    """``set-method`` (Learn: set-method-policy): the method the request is forwarded with.
    Mock backends answer whatever the method; expressions see the new one."""

    element_names = ("set-method",)
    child_elements = ()
    sections = ("inbound", "on-error")

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        text = (element.text or "").strip()
        if not text:
            raise PolicyConfigError(
                "<set-method> holds the method, e.g. <set-method>POST</set-method>",
                location=element.location,
            )
        self.method = compile_value(text, element)

    def run(self, state: RequestState) -> None:
        state.context.Request.Method = self.method.text(state).upper()


def _texts(element: PolicyElement, group: str, item: str) -> list[str]:
    holder = element.child(group)
    if holder is None:
        return []
    return [(child.text or "").strip() for child in holder.children if child.name == item]


class Cors(PolicyHandler):
    """``cors`` (Learn: cors-policy) for the calls a scenario makes, which are not preflights:
    a call whose ``Origin`` is allowed gets ``Access-Control-Allow-Origin`` (with
    ``-Allow-Credentials`` and ``-Expose-Headers`` as configured); a call without ``Origin``
    is not cross-origin and is left alone. A GET or HEAD from an origin not allowed ends with an
    empty 200 when ``terminate-unmatched-request`` is true, as Learn describes; other methods
    go on without CORS headers."""

    element_names = ("cors",)
    child_elements = ("allowed-origins", "allowed-methods", "allowed-headers", "expose-headers")
    required_children = ("allowed-origins",)
    sections = ("inbound",)
    attributes = (
        Attribute("allow-credentials", default="false"),
        Attribute("terminate-unmatched-request", default="true"),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        self.origins = _texts(element, "allowed-origins", "origin")
        if not self.origins:
            raise PolicyConfigError(
                "<cors> needs <allowed-origins> with at least one <origin>",
                location=element.location,
            )
        self.exposed = ", ".join(_texts(element, "expose-headers", "header"))

    def _flag(self, value: Value, state: RequestState) -> bool:
        return cs_string(value.get(state)).lower() == "true"

    def run(self, state: RequestState) -> None:
        request = state.context.Request
        origin = request.Headers.GetValueOrDefault("Origin")
        if not origin:
            return
        if "*" not in self.origins and origin not in self.origins:
            terminate = self._flag(self.values["terminate-unmatched-request"], state)
            if terminate and request.Method in ("GET", "HEAD"):
                state.respond(200, "OK")
                state.returned = True
            return
        credentials = self._flag(self.values["allow-credentials"], state)
        # "*" when any origin may call without credentials, else the caller's own origin
        # (browsers refuse "*" with credentials); Learn does not say which APIM sends.
        allowed = "*" if "*" in self.origins and not credentials else origin
        state.set_response_header_later("Access-Control-Allow-Origin", allowed)
        if credentials:
            state.set_response_header_later("Access-Control-Allow-Credentials", "true")
        if self.exposed:
            state.set_response_header_later("Access-Control-Expose-Headers", self.exposed)
