"""Control flow and message shaping: choose, set-variable, set-header, set-query-parameter,
set-body, find-and-replace, return-response, mock-response, check-header, trace, log-to-eventhub,
emit-metric.

Each handler follows its Microsoft Learn page (named in its docstring); what it leaves out is
said there too.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from apimgen.simulate.context import Body, Request, Response
from apimgen.simulate.expr.dictionaries import MultiValueDictionary
from apimgen.simulate.expr.values import cs_string
from apimgen.simulate.policy.handlers.base import (
    Attribute,
    BuildContext,
    PolicyConfigError,
    PolicyHandler,
    Value,
    Wait,
    compile_value,
)
from apimgen.simulate.policy.handlers.flow import run_section
from apimgen.simulate.policy.handlers.http import http_status
from apimgen.simulate.policy.reader import PolicyElement
from apimgen.simulate.state import PolicyError, RequestState, error_body

__all__ = ["Choose", "ReturnResponse", "SetHeader", "SetVariable", "header_values", "to_bool"]


def to_bool(value: object, element: PolicyElement) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise PolicyError(
        "ExpressionValueEvaluationFailure",
        f"<{element.name}> condition gave {value!r}, not a bool",
        element,
    )


class Choose(PolicyHandler):
    """``choose`` (Learn: choose-policy): the first ``when`` whose condition holds, else
    ``otherwise``."""

    element_names = ("choose",)
    child_elements = ("when", "otherwise")

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        self.branches: list[tuple[Value | None, list[PolicyHandler], PolicyElement]] = []
        section = build.section
        for child in element.children:
            if child.name == "when":
                condition = child.attributes.get("condition")
                if condition is None:
                    raise PolicyConfigError("<when> needs a condition", location=child.location)
                value = compile_value(condition, child, "condition")
                self.branches.append((value, build.handlers(child.children, section), child))
            else:  # otherwise, the only other element it may hold
                self.branches.append((None, build.handlers(child.children, section), child))

    def run(self, state: RequestState) -> Wait | None:
        for condition, handlers, element in self.branches:
            if condition is None or to_bool(condition.get(state), element):
                return run_section(handlers, state)
        return None


class SetVariable(PolicyHandler):
    """``set-variable`` (Learn: set-variable-policy)."""

    element_names = ("set-variable",)
    child_elements = ()
    attributes = (
        Attribute("name", required=True, expressions=False),
        Attribute("value", required=True),
    )

    def run(self, state: RequestState) -> None:
        name = self.literal("name")
        assert name is not None
        state.context.Variables.values[name] = self.values["value"].get(state)


def header_values(element: PolicyElement) -> list[Value]:
    """The ``<value>`` children of a set-header or set-query-parameter, compiled."""
    values = []
    for child in element.children:
        if child.name != "value":
            raise PolicyConfigError(
                f"<{element.name}> holds <value> elements, not <{child.name}>",
                location=child.location,
            )
        values.append(compile_value(child.text or "", child))
    return values


class _SetNamedValues(PolicyHandler):
    """Shared by set-header and set-query-parameter: name, exists-action and <value>s."""

    attributes = (
        Attribute("name", required=True),
        Attribute(
            "exists-action",
            expressions=False,
            default="override",
            choices=("override", "skip", "append", "delete"),
        ),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        self.items = header_values(element)

    def target(self, state: RequestState) -> MultiValueDictionary:
        raise NotImplementedError

    def run(self, state: RequestState) -> None:
        target = self.target(state)
        name = self.values["name"].text(state)
        action = self.literal("exists-action")
        if action == "delete":
            target._remove(name)
            return
        exists = target.ContainsKey(name)
        if action == "skip" and exists:
            return
        values = [v.text(state) for v in self.items]
        if action == "append" and exists:
            values = target[name] + values
        target._set(name, values)


class SetHeader(_SetNamedValues):
    """``set-header`` (Learn: set-header-policy): request headers in inbound/backend, response
    headers in outbound/on-error."""

    element_names = ("set-header",)
    child_elements = ("value",)

    def target(self, state: RequestState) -> MultiValueDictionary:
        if state.section in ("outbound", "on-error"):
            return state.context.Response.Headers
        return state.context.Request.Headers


class SetQueryParameter(_SetNamedValues):
    """``set-query-parameter`` (Learn: set-query-parameter-policy)."""

    element_names = ("set-query-parameter",)
    child_elements = ("value",)
    sections = ("inbound", "backend")

    def target(self, state: RequestState) -> MultiValueDictionary:
        return state.context.Request.Url.Query


class SetBody(PolicyHandler):
    """``set-body`` (Learn: set-body-policy): the request body in inbound/backend, the response
    body in outbound. Not in on-error: Learn's sections and its on-error list leave it out, and
    a published write-up saw a policy with it there refused on deployment (return-response
    sets an error's body). A request body set again after an unbuffered forward-request is a
    new body, which the next attempt sends (a published spill-over fragment re-sets the body
    inside its retry instead of buffering it). Liquid templates are not simulated."""

    element_names = ("set-body",)
    sections = ("inbound", "backend", "outbound")
    attributes = (
        Attribute("template", expressions=False),
        Attribute("xsi-nil", expressions=False),
        # how date strings in a JSON body reach a Liquid template; nothing else reads it
        Attribute("parse-date", expressions=False, choices=("true", "false")),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        if self.literal("template"):
            raise PolicyConfigError(
                "<set-body template=...> (Liquid) is not simulated", location=element.location
            )
        self.body = compile_value(element.text or "", element)

    def run(self, state: RequestState) -> None:
        message = _message(state)
        message.Body = Body(cs_string(self.body.get(state)))
        if message is state.context.Request:
            state.body_streamed = False  # a new body: nothing of it has gone out yet


def _message(state: RequestState) -> Request | Response:
    """The message a body policy works on: the response in outbound and on-error, else the
    request."""
    if state.section in ("outbound", "on-error"):
        return state.context.Response
    return state.context.Request


class FindAndReplace(PolicyHandler):
    """``find-and-replace`` (Learn: find-and-replace-policy): every occurrence of ``from`` in
    the request body (inbound, backend) or the response body (outbound, on-error) becomes
    ``to``; an empty ``to`` removes it."""

    element_names = ("find-and-replace",)
    child_elements = ()
    attributes = (Attribute("from", required=True), Attribute("to", required=True))

    def run(self, state: RequestState) -> None:
        message = _message(state)
        body = message.Body
        found = self.values["from"].text(state)
        if body is None or not found:
            return
        message.Body = Body(body.text.replace(found, self.values["to"].text(state)))


class ReturnResponse(PolicyHandler):
    """``return-response`` (Learn: return-response-policy): answers at once; the rest of the
    pipeline, outbound included, does not run."""

    element_names = ("return-response",)
    child_elements = ("set-status", "set-header", "set-body")
    attributes = (Attribute("response-variable-name", expressions=False),)

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        self.status: tuple[Value, Value | None] | None = None
        self.headers: list[SetHeader] = []
        self.body: Value | None = None
        for child in element.children:
            if child.name == "set-status":
                code = child.attributes.get("code")
                if code is None:
                    raise PolicyConfigError("<set-status> needs code", location=child.location)
                reason = child.attributes.get("reason")
                self.status = (
                    compile_value(code, child, "code"),
                    compile_value(reason, child, "reason") if reason is not None else None,
                )
            elif child.name == "set-header":
                self.headers.append(SetHeader(child, build))
            else:  # set-body, the only other element it may hold
                self.body = compile_value(child.text or "", child)

    def run(self, state: RequestState) -> None:
        status, reason = 200, "OK"
        if self.status is not None:
            status = http_status(cs_string(self.status[0].get(state)), self.element)
            reason = self.status[1].text(state) if self.status[1] else ""
        body = cs_string(self.body.get(state)) if self.body is not None else None
        previous = state.section
        state.respond(status, reason, body=body)
        state.section = "outbound"  # the headers it sets are response headers
        for header in self.headers:
            header.run(state)
        state.section = previous
        state.returned = True


class MockResponse(PolicyHandler):
    """``mock-response`` (Learn: mock-response-policy): a canned answer with the status given."""

    element_names = ("mock-response",)
    child_elements = ()
    sections = ("inbound", "outbound", "on-error")
    attributes = (
        Attribute("status-code", expressions=False, default="200", kind="whole"),
        Attribute("content-type", expressions=False, default="application/json"),
    )

    def run(self, state: RequestState) -> None:
        status = self.int_literal("status-code") or 200
        state.respond(
            status,
            "OK" if status < 400 else "",
            {"Content-Type": self.literal("content-type")},
            "{}",
        )
        state.returned = True


class CheckHeader(PolicyHandler):
    """``check-header`` (Learn: check-header-policy)."""

    element_names = ("check-header",)
    child_elements = ("value",)
    sections = ("inbound",)
    attributes = (
        Attribute("name", required=True, expressions=False),
        Attribute("failed-check-httpcode", required=True, expressions=False, kind="whole"),
        Attribute("failed-check-error-message", required=True, expressions=False),
        Attribute("ignore-case", required=True, expressions=False, choices=("true", "false")),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        self.allowed = [
            compile_value(c.text or "", c) for c in element.children if c.name == "value"
        ]

    def run(self, state: RequestState) -> None:
        name = self.literal("name") or ""
        headers = state.context.Request.Headers
        ignore_case = self.literal("ignore-case") == "true"
        present = headers.ContainsKey(name)
        if present and self.allowed:
            actual = headers.GetValueOrDefault(name, "")
            wanted = [v.text(state) for v in self.allowed]
            present = (
                (actual.lower() in [w.lower() for w in wanted])
                if ignore_case
                else (actual in wanted)
            )
        if not present:
            # A failed check is an error (Learn: error handling, predefined errors): on-error
            # runs with LastError, and the caller gets the configured status and message.
            status = self.int_literal("failed-check-httpcode") or 400
            message = self.literal("failed-check-error-message") or ""
            response = state.respond(
                status,
                "",
                {"Content-Type": "application/json"},
                error_body(status, message),
            )
            reason = "HeaderValueNotAllowed" if headers.ContainsKey(name) else "HeaderNotFound"
            raise PolicyError(reason, message, self.element, response=response)


class _Logging(PolicyHandler):
    """A policy that writes a record (trace, log-to-eventhub): --explain shows it."""

    def explain(self, state: RequestState) -> str:
        return f"wrote {state.log_texts[-1]}" if state.log_texts else ""


class Trace(_Logging):
    """``trace`` (Learn: trace-policy): the message and each metadata name and value are
    evaluated, as the gateway does, so an expression that throws fails the request; the
    record is counted per source for the run's summary and shown by --explain."""

    element_names = ("trace",)
    child_elements = ("message", "metadata")
    required_children = ("message",)
    attributes = (
        Attribute("source", required=True, expressions=False),
        Attribute(
            "severity",
            expressions=False,
            default="verbose",
            choices=("verbose", "information", "error"),
        ),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        message = element.child("message")
        assert message is not None  # required_children
        self.message = compile_value(message.text or "", message)
        self.metadata = [
            (
                compile_value(item.attributes.get("name", ""), item, "name"),
                compile_value(item.attributes.get("value", ""), item, "value"),
            )
            for item in element.children
            if item.name == "metadata"
        ]

    def run(self, state: RequestState) -> None:
        source = self.literal("source") or ""
        text = f"{source}: {self.message.text(state)}"
        if self.metadata:
            pairs = ", ".join(f"{n.text(state)}={v.text(state)}" for n, v in self.metadata)
            text += f" {{{pairs}}}"
        state.record_log("trace", source, text)


class LogToEventHub(_Logging):
    """``log-to-eventhub`` (Learn: log-to-eventhub-policy): the message is evaluated and
    counted per logger for the run's summary, shown by --explain, and not sent."""

    element_names = ("log-to-eventhub",)
    attributes = (
        Attribute("logger-id", required=True, expressions=False),
        Attribute("partition-id", expressions=False),
        Attribute("partition-key"),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        self.message = compile_value(element.text or "", element)

    def run(self, state: RequestState) -> None:
        logger = self.literal("logger-id") or ""
        if self.has("partition-key"):
            self.values["partition-key"].text(state)
        state.record_log("log-to-eventhub", logger, f"{logger}: {self.message.text(state)}")


class EmitMetric(PolicyHandler):
    """``emit-metric`` (Learn: emit-metric-policy): one sample with its dimensions."""

    element_names = ("emit-metric",)
    child_elements = ("dimension",)
    attributes = (
        Attribute("name", required=True),
        Attribute("namespace", expressions=False, default="API Management"),
        Attribute("value", default="1", kind="number"),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        self.dimensions = [
            (
                compile_value(d.attributes.get("name", ""), d, "name"),
                compile_value(d.attributes.get("value", ""), d, "value"),
            )
            for d in element.children
            if d.name == "dimension"
        ]

    def run(self, state: RequestState) -> None:
        dims = tuple((n.text(state), v.text(state)) for n, v in self.dimensions)
        state.services.metrics.add(
            state.services.now,
            self.literal("namespace") or "API Management",
            self.values["name"].text(state),
            self.number("value", state),
            dims,
        )


class RewriteUri(PolicyHandler):
    """``rewrite-uri`` (Learn: rewrite-uri-policy): the path (and query) forwarded to the
    backend. ``{name}`` takes the operation's matched template parameter; the template's own
    query parameters come first, then, unless ``copy-unmatched-params="false"``, the caller's
    others (the simulated operations have no query parameters in their URL template). After
    set-backend-service the path follows the backend's base path. Mock backends answer the
    same whatever the path, so only the context changes."""

    element_names = ("rewrite-uri",)
    child_elements = ()
    sections = ("inbound",)
    attributes = (
        Attribute("template", required=True),
        Attribute("copy-unmatched-params", expressions=False, choices=("true", "false")),
    )

    def run(self, state: RequestState) -> None:
        request = state.context.Request
        matched = request.MatchedParameters
        template = _TEMPLATE_PARAMETER.sub(
            lambda found: str(matched.GetValueOrDefault(found.group(1), found.group(0))),
            self.values["template"].text(state),
        )
        path, _, query_text = template.partition("?")
        url = request.Url
        query: dict[str, list[str]] = {}
        for name, value in parse_qsl(query_text, keep_blank_values=True):
            query.setdefault(name, []).append(value)
        if self.literal("copy-unmatched-params") != "false":
            for name, values in url.Query.plain().items():
                query.setdefault(name, values)
        # The template is relative to the backend's base URL: once set-backend-service has
        # routed the call, under the backend's path; before, under the API's path on the
        # gateway, which routing later replaces with the backend's.
        routed = request.routed_base_path
        prefix = routed if routed is not None else "/" + state.context.Api.Path.strip("/")
        url.replace_path_and_query(prefix.rstrip("/") + "/" + path.lstrip("/"), query)


_TEMPLATE_PARAMETER = re.compile(r"\{([^{}]+)\}")
