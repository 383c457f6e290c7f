"""Reaching the backend: set-backend-service, forward-request and retry."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from apimgen.simulate.backends import BackendCall
from apimgen.simulate.context import Body, body_field
from apimgen.simulate.expr.values import cs_string
from apimgen.simulate.policy.handlers.base import (
    Attribute,
    BuildContext,
    PolicyConfigError,
    PolicyHandler,
    Wait,
)
from apimgen.simulate.policy.handlers.flow import run_handlers
from apimgen.simulate.policy.reader import PolicyElement
from apimgen.simulate.state import PolicyError, RequestState, error_body

__all__ = [
    "ForwardRequest",
    "Retry",
    "SetBackendService",
    "pool_unavailable_reason",
]


def pool_unavailable_reason(pool: str) -> str:
    """The status reason of the gateway's own 503 when every member of a pool is tripped.

    Microsoft's AI gateway samples tell it apart from a backend's 503 in the retry condition
    by the phrases "Backend pool" and "is temporarily unavailable"; policies written against
    the real gateway depend on both, so the simulated answer carries both.
    """
    return f"Backend pool {pool} is temporarily unavailable"


class SetBackendService(PolicyHandler):
    """``set-backend-service`` (Learn: set-backend-service-policy): a backend id (single or
    pool) or a base URL. Service Fabric attributes are not simulated."""

    element_names = ("set-backend-service",)
    child_elements = ()
    sections = ("inbound", "backend")
    attributes = (
        Attribute("backend-id"),
        Attribute("base-url"),
        # Service Fabric backends' resolution: accepted, as no scenario backend is one
        *(
            Attribute(f"sf-{name}")
            for name in (
                "partition-key",
                "replica-type",
                "resolve-condition",
                "service-instance-name",
                "listener-name",
            )
        ),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        if self.has("backend-id") == self.has("base-url"):
            raise PolicyConfigError(
                "<set-backend-service> needs exactly one of backend-id or base-url",
                location=element.location,
            )
        self.backend_id = self.values.get("backend-id")
        self.base_url = self.values.get("base-url")

    def run(self, state: RequestState) -> None:
        context = state.context
        if self.backend_id is not None:
            backend_id = state.backend_id = self.backend_id.text(state)
            state.base_url = None
            known = state.services.backends.urls.get(backend_id)  # a pool has none
            if known is not None:
                context.Request.route_to(known, context.Api.Path)
        elif self.base_url is not None:
            state.base_url = self.base_url.text(state)
            state.backend_id = None
            context.Request.route_to(state.base_url, context.Api.Path)
        state.pinned_backend = None


def _error_body(status: int, message: str) -> Callable[[], str]:
    """An Azure OpenAI error body as the backend sends it, made only if something reads it."""
    return lambda: json.dumps({"error": {"code": str(status), "message": message}})


class _Answer:
    """A chat completion's body, made only if something reads it (one object per answer,
    where a closure would be two)."""

    __slots__ = ("model", "request_id", "usage")

    def __init__(self, request_id: str, model: str, usage: dict[str, int]) -> None:
        self.request_id = request_id
        self.model = model
        self.usage = usage

    def __call__(self) -> str:
        return json.dumps(
            {
                "id": f"chatcmpl-{self.request_id}",
                "object": "chat.completion",
                "model": self.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "…"}}],
                "usage": self.usage,
            }
        )


def _embeddings_answer(model: str, prompt_tokens: int) -> Callable[[], str]:
    """An embeddings call's body, made only if something reads it: one vector (shortened;
    nothing a policy does depends on its length) and usage without completion tokens, as
    Azure OpenAI answers."""
    return lambda: json.dumps(
        {
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.0] * 8}],
            "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }
    )


def _responses_answer(
    request_id: str, model: str, call: BackendCall, *, stream: bool
) -> Callable[[], str]:
    """A Responses API answer, made only if something reads it: one message output item and
    usage in input and output tokens; streamed, its events end with response.completed,
    which carries the usage (the Responses API always sends it, and no [DONE])."""

    def response(status: str) -> dict[str, object]:
        done = status == "completed"
        return {
            "id": f"resp_{request_id}",
            "object": "response",
            "status": status,
            "model": model,
            "output": [
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "…", "annotations": []}],
                }
            ]
            if done
            else [],
            "usage": {
                "input_tokens": call.prompt_tokens,
                "output_tokens": call.completion_tokens,
                "total_tokens": call.total_tokens,
            }
            if done
            else None,
        }

    def events() -> str:
        def event(kind: str, data: dict[str, object]) -> str:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

        delta = event("response.output_text.delta", {"output_index": 0, "delta": "…"})
        return (
            event("response.created", {"response": response("in_progress")})
            + delta * max(1, call.completion_tokens // 4)
            + event("response.completed", {"response": response("completed")})
        )

    return events if stream else lambda: json.dumps(response("completed"))


_CHUNK = 'data: {"choices": [{"delta": {"content": "…"}}]}\n\n'


def _stream_answer(completion_tokens: int, usage: dict[str, int] | None) -> Callable[[], str]:
    """A streamed answer's server-sent events, made only if something reads them; with
    ``usage``, a last chunk carrying it (no choices), as Azure OpenAI sends when asked."""

    def events() -> str:
        text = _CHUNK * max(1, completion_tokens // 4)
        if usage is not None:
            text += f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n"
        return text + "data: [DONE]\n\n"

    return events


def _wants_usage(body: str | None) -> bool:
    """Whether a streamed call asks for a last usage chunk (``stream_options.include_usage``):
    without it Azure OpenAI streams no token counts."""
    options = body_field(body, "stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


class ForwardRequest(PolicyHandler):
    """``forward-request`` (Learn: forward-request-policy): calls the chosen backend and waits
    for its answer on the virtual clock. A pool with no available member answers 503 at once.

    A backend's error status is a response like any other, read by outbound, unless
    ``fail-on-error-status-code`` is true: then a 4xx or 5xx sends the request to on-error.
    Without ``buffer-request-body="true"`` the body goes out once: a retry sends none, and the
    backend answers 400. ``timeout`` (default 300 s) or ``timeout-ms`` bounds the wait for the
    response headers — a whole answer, or a stream's first token — after which "a timeout
    error is raised" (Learn) and on-error runs (inside retry its condition decides first); Learn
    names neither the status nor the reason, so the caller gets 504 and ``LastError.Reason`` is
    ``Timeout`` (inference)."""

    element_names = ("forward-request",)
    child_elements = ()
    sections = ("backend",)
    attributes = (
        Attribute("timeout", kind="whole"),
        Attribute("timeout-ms", kind="whole"),
        Attribute("continue-timeout", expressions=False, kind="whole"),
        Attribute("http-version", expressions=False),
        Attribute("follow-redirects", expressions=False),
        Attribute("buffer-request-body", expressions=False, choices=("true", "false")),
        Attribute("buffer-response", expressions=False),
        Attribute("fail-on-error-status-code", expressions=False, choices=("true", "false")),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        if self.has("timeout") and self.has("timeout-ms"):
            raise PolicyConfigError(
                "<forward-request> takes timeout or timeout-ms, not both",
                location=element.location,
            )
        self.fail_on_error = self.literal("fail-on-error-status-code") == "true"
        # Learn: only a buffered body is kept for another attempt; without it a retry reaches
        # the backend with no body (as users of Service Fabric backends have reported).
        self.buffered = self.literal("buffer-request-body") == "true"
        # The wait for response headers, in seconds: a literal read once, else evaluated per
        # request (one giving no number fails the request, as in APIM).
        self.timeout_name = "timeout-ms" if self.has("timeout-ms") else "timeout"
        given = self.values.get(self.timeout_name)
        self.timeout: float | None = _DEFAULT_TIMEOUT
        if given is not None:
            literal = self.int_literal(self.timeout_name)
            scale = 1000 if self.timeout_name == "timeout-ms" else 1
            self.timeout = None if literal is None else literal / scale

    def run(self, state: RequestState) -> Wait:
        timeout = self.timeout
        if timeout is None:
            timeout = self.number(self.timeout_name, state, whole=True)
            timeout /= 1000 if self.timeout_name == "timeout-ms" else 1
        return self._forward(state, timeout)

    def _forward(self, state: RequestState, timeout: float) -> Iterator[float]:
        services = state.services
        registry = services.backends
        backend_id = state.backend_id
        if backend_id is None and state.base_url:
            backend_id = registry.for_url(state.base_url)
            if backend_id is None:
                raise PolicyError(
                    "BackendConnectionFailure",
                    f"no scenario backend serves {state.base_url}: give the backend that "
                    "answers there a url in the scenario",
                    self.element,
                )
        if backend_id is None:
            raise PolicyError(
                "BackendConnectionFailure",
                "no backend set: no set-backend-service routed the call and the scenario gives "
                "the API no service URL (policies.api_backend)",
                self.element,
            )
        if not registry.knows(backend_id):
            raise PolicyError(
                "BackendNotFound", f"backend '{backend_id}' is not defined", self.element
            )
        backend = state.pinned_backend
        # A retry resends to the member it pinned; only when a retry may pick anew (older
        # gateways, retry_reselects_backend) does a tripped one give way to another. Newer
        # gateways resend to it even when it has just tripped, and the caller gets its 429.
        if backend is None or (
            services.retry_reselects_backend and not backend.available(services.now)
        ):
            backend = registry.choose(backend_id, services.now)
        if backend is None:
            state.respond(
                503,
                pool_unavailable_reason(backend_id),
                body=_error_body(503, "No backend service available: every member is tripped"),
            )
            state.unavailable = True
            raise PolicyError(
                "BackendServiceUnavailable",
                f"no available backend in '{backend_id}'",
                self.element,
                response=state.context.Response,
            )
        state.pinned_backend = backend
        llm = state.llm
        body = state.context.Request.Body
        deployment = backend.deployment
        if body is None or body.consumed or state.body_streamed:
            # No body, one an expression read without preserveContent, or one an earlier
            # forward-request streamed out unbuffered: the call reaches the backend, which
            # refuses it with 400 (an answer like any other: fail-on-error and retry see it).
            deployment.calls += 1
            call = BackendCall(400, {}, deployment.latency_base)
        else:
            embeddings = llm.api == "embeddings"
            call = deployment.call(
                services.now,
                deployment.estimate(llm.max_tokens, llm.prompt_estimate, embeddings),
                llm.prompt_tokens,
                0 if embeddings else llm.max_tokens,
                llm.completion_tokens,
                services.random(),
                "text/event-stream" if llm.stream else "application/json",
            )
        if llm.latency is not None and call.status == 200:
            call.latency = llm.latency  # the script's own answer time for this call
        state.backend_calls += 1
        state.backend_reserved = call.reserved
        state.backend_used = backend.id
        state.body_streamed = not self.buffered
        if registry.watched:
            registry.note_call(backend.id, services.now)
        # A stream's headers come with its first token; any other answer's with all of it.
        headers_after = (
            deployment.latency_base if llm.stream and call.status == 200 else call.latency
        )
        if headers_after > timeout:
            yield services.now + timeout
            self._time_out(state, timeout)
        yield services.now + call.latency
        if backend.breaker is not None:
            backend.record(services.now, call.status, call.headers)
        _respond_with(state, call, deployment.name, body)
        if body is not None and body.consumed:
            # Buffered for a retry: the next attempt can send the same body again.
            state.context.Request.Body = Body(body.text)
        if self.fail_on_error and call.status >= 400:
            raise PolicyError(
                "BackendErrorStatusCode",
                f"the backend answered {call.status} and fail-on-error-status-code is true",
                self.element,
                response=state.context.Response,
            )

    def explain(self, state: RequestState) -> str:
        """What the deployment charged at admission and had left: its estimate, not the
        call's usage (admission.py), which is why a backend can refuse while the gateway's
        own counters show room."""
        reserved = state.backend_reserved
        if not state.backend_calls or reserved <= 0:
            return ""
        response = state.context.Response
        left = response.Headers.GetValueOrDefault("x-ratelimit-remaining-tokens", "")
        left_text = f", {left} TPM left" if left else ""
        verb = "needed" if response.StatusCode == 429 else "reserved"
        return f"deployment {verb} {reserved} tokens{left_text}"

    def _time_out(self, state: RequestState, timeout: float) -> None:
        state.respond(
            504,
            "Gateway Timeout",
            {"Content-Type": "application/json"},
            error_body(504, "Backend service timeout"),
        )
        raise PolicyError(
            "Timeout",
            f"the backend sent no response headers within {timeout:g} s",
            self.element,
            response=state.context.Response,
        )


_DEFAULT_TIMEOUT = 300.0  # seconds, Learn's default for forward-request


def _respond_with(
    state: RequestState, call: BackendCall, deployment: str, sent: Body | None
) -> None:
    """The backend's answer as the caller's response: a completion (streamed or whole) with
    its usage, or the backend's error status with Azure OpenAI's error body."""
    if call.status != 200 or sent is None:
        reason = _REASONS.get(call.status, "Service Unavailable")
        message = "the request body is empty" if call.status == 400 else reason
        headers = {"Content-Type": "application/json", **call.headers}
        state.respond(call.status, reason, headers, _error_body(call.status, message))
        return
    usage = state.usage = {
        "prompt_tokens": call.prompt_tokens,
        "completion_tokens": call.completion_tokens,
        "total_tokens": call.total_tokens,
    }
    llm, label = state.llm, state.context.request_label
    if llm.api == "responses":
        answer = _responses_answer(label, deployment, call, stream=llm.stream)
    elif llm.stream:
        answer = _stream_answer(llm.completion_tokens, usage if _wants_usage(sent.text) else None)
    elif llm.api == "embeddings":
        answer = _embeddings_answer(deployment, call.prompt_tokens)
    else:
        answer = _Answer(label, deployment, usage)
    state.respond(200, "OK", call.headers, answer)  # the mock's own, Content-Type first


_REASONS = {400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error"}


# The errors of a retry's children that its condition decides on, as it does on responses:
# forward-request's own — an exhausted pool, a timeout, and an error status with
# fail-on-error-status-code (Microsoft's GenAI gateway toolkit sends a PTU's 429 on to
# pay-as-you-go that way, its load test showing the spill-over).
_RETRIED_ERRORS = frozenset({"BackendServiceUnavailable", "Timeout", "BackendErrorStatusCode"})


class Retry(PolicyHandler):
    """``retry`` (Learn: retry-policy): runs its children, then again while ``condition`` holds
    and retries remain, waiting ``interval`` seconds (0 for the first with first-fast-retry)."""

    element_names = ("retry",)
    attributes = (
        Attribute("condition", required=True),
        Attribute("count", required=True, kind="whole"),
        Attribute("interval", required=True, kind="number"),
        Attribute("max-interval", kind="number"),
        Attribute("delta", kind="number"),
        Attribute("first-fast-retry", default="false"),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        self.children = build.handlers(element.children, build.section)

    def run(self, state: RequestState) -> Wait:
        return self._loop(state)

    def _loop(self, state: RequestState) -> Iterator[float]:
        count = int(self.number("count", state, whole=True))
        interval = self.number("interval", state)
        delta_value = self.values.get("delta")
        delta = self.number("delta", state) if delta_value else 0.0
        max_value = self.values.get("max-interval")
        maximum = self.number("max-interval", state) if max_value else None
        fast = cs_string(self.values["first-fast-retry"].get(state)).lower() == "true"
        attempt = 0
        while True:
            # The gateway's own 503 for an exhausted pool, its 504 for a backend that timed
            # out and a backend's error status under fail-on-error-status-code are responses
            # the condition sees (samples exclude the first by its reason; a published trace
            # shows the condition evaluated after a timeout, with a response of status 429 or
            # more); when no retry follows, they are errors.
            exhausted: PolicyError | None = None
            try:
                yield from run_handlers(self.children, state)
            except PolicyError as error:
                if error.reason not in _RETRIED_ERRORS:
                    raise
                exhausted = error
            if attempt >= count or state.returned:  # return-response ends the pipeline
                if exhausted is not None:
                    raise exhausted
                return
            condition = self.values["condition"].get(state)
            if not (condition is True or cs_string(condition).lower() == "true"):
                if exhausted is not None:
                    raise exhausted
                return
            state.unavailable = False
            if state.services.retry_reselects_backend:
                state.pinned_backend = None
            attempt += 1
            wait = 0.0 if (fast and attempt == 1) else interval + (attempt - 1) * delta
            if maximum is not None:
                wait = min(wait, maximum)
            if wait > 0:
                yield state.services.now + wait
