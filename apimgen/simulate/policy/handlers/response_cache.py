"""``cache-lookup`` and ``cache-store`` (Learn: cache-lookup-policy, cache-store-policy): the
gateway's response cache.

Learn: "API Management only performs cache lookup for HTTP GET requests" and "only caches
responses to HTTP GET requests". Chat completions, embeddings and the other inference calls are
POST, so on an AI gateway both policies do nothing: every call still reaches the backend and
spends tokens (the semantic cache policies are the ones that cache prompts). The simulator
runs them so that policies which carry them (a global policy written for other APIs, say) run
unchanged, and ``--explain`` says why they did nothing.

For a GET request the lookup keys the cache by the operation, the URL's path, the
``vary-by-query-parameter`` values (a semicolon separates several names), the
``vary-by-header`` values, the developer when ``vary-by-developer`` and the developer's groups
when ``vary-by-developer-groups``. A request with an Authorization header is neither looked up
nor stored unless ``allow-private-response-caching`` is true. A hit answers from the gateway:
no backend call, nothing after it in the pipeline (inference, as for the semantic cache). The
store keeps a 200 answer, or any answer with ``cache-response="true"``, for ``duration``
seconds. Internal and external caches behave the same here.
"""

from __future__ import annotations

from dataclasses import dataclass

from apimgen.simulate.expr.values import cs_string
from apimgen.simulate.policy.handlers.base import (
    Attribute,
    BuildContext,
    PolicyHandler,
)
from apimgen.simulate.policy.handlers.control import to_bool
from apimgen.simulate.policy.reader import PolicyElement
from apimgen.simulate.state import RequestState

__all__ = ["CacheLookup", "CacheStore", "CachedResponse"]

_NOT_GET = "not a GET request: API Management looks up and stores GET responses only"
_PRIVATE = "the request carries Authorization and allow-private-response-caching is not true"


@dataclass(frozen=True)
class CachedResponse:
    stored: float
    expires: float
    status: int
    reason: str
    headers: dict[str, list[str]]
    body: str | None


class CacheLookup(PolicyHandler):
    element_names = ("cache-lookup",)
    child_elements = ("vary-by-header", "vary-by-query-parameter")
    sections = ("inbound",)
    once_per_section = True
    attributes = (
        Attribute("vary-by-developer", required=True, choices=("true", "false")),
        Attribute("vary-by-developer-groups", required=True, choices=("true", "false")),
        Attribute(
            "caching-type",
            expressions=False,
            choices=("internal", "external", "prefer-external"),
        ),
        Attribute("downstream-caching-type", choices=("none", "private", "public")),
        Attribute("must-revalidate", choices=("true", "false")),
        Attribute("allow-private-response-caching", default="false", choices=("true", "false")),
    )

    def __init__(self, element: PolicyElement, build: BuildContext) -> None:
        super().__init__(element, build)
        self.headers = [
            (child.text or "").strip() for child in element.children
            if child.name == "vary-by-header"
        ]  # fmt: skip
        self.query = [
            name.strip()
            for child in element.children if child.name == "vary-by-query-parameter"
            for name in (child.text or "").split(";") if name.strip()
        ]  # fmt: skip

    def run(self, state: RequestState) -> None:
        request = state.context.Request
        if _not_get(state):
            return
        private = to_bool(self.values["allow-private-response-caching"].get(state), self.element)
        if request.Headers.ContainsKey("Authorization") and not private:
            return
        key = self._key(state)
        entry = state.services.response_cache.get(key)
        if entry is None or entry.expires <= state.services.now:
            state.response_cache_key = key
            return
        state.respond(entry.status, entry.reason, dict(entry.headers), entry.body)
        state.from_cache = True
        state.returned = True

    def explain(self, state: RequestState) -> str:
        if _not_get(state):
            return _NOT_GET
        if state.from_cache:
            return "hit"
        return "miss" if state.response_cache_key is not None else _PRIVATE

    def _key(self, state: RequestState) -> tuple[str, ...]:
        context = state.context
        request = context.Request
        url = request.Url
        parts = [
            context.Api.Id,
            context.Operation.Id,
            url.Path,
            *(f"{name}={url.Query.GetValueOrDefault(name, '')}" for name in self.query),
            *(f"{name}:{request.Headers.GetValueOrDefault(name, '')}" for name in self.headers),
        ]
        user = context.User
        if to_bool(self.values["vary-by-developer"].get(state), self.element):
            parts.append(f"developer:{user.Id if user is not None else ''}")
        if to_bool(self.values["vary-by-developer-groups"].get(state), self.element):
            groups = sorted(cs_string(getattr(g, "Id", g)) for g in (user.Groups if user else []))
            parts.append("groups:" + ",".join(groups))
        return tuple(parts)


class CacheStore(PolicyHandler):
    element_names = ("cache-store",)
    child_elements = ()
    sections = ("outbound",)
    once_per_section = True
    attributes = (
        Attribute("duration", required=True, kind="number"),
        Attribute("cache-response", default="false", choices=("true", "false")),
    )

    def run(self, state: RequestState) -> None:
        key, response = state.response_cache_key, state.context.Response
        if key is None:
            return  # no lookup missed: not a GET, a private request, or no lookup at all
        every = to_bool(self.values["cache-response"].get(state), self.element)
        if response.StatusCode != 200 and not every:
            return
        body = response.Body.text if response.Body is not None else None
        headers = {name: list(values) for name, values in response.Headers.plain().items()}
        now = state.services.now
        state.services.response_cache[key] = CachedResponse(
            now,
            now + self.number("duration", state),
            response.StatusCode,
            response.StatusReason,
            headers,
            body,
        )

    def explain(self, state: RequestState) -> str:
        key, response = state.response_cache_key, state.context.Response
        if _not_get(state):
            return _NOT_GET
        if key is None:
            return ""
        entry = state.services.response_cache.get(key)
        if entry is not None:  # (another request missing on the same key may have stored it)
            return f"stored for {entry.expires - entry.stored:g} s"
        return f"not stored: {response.StatusCode} is not 200"


def _not_get(state: RequestState) -> bool:
    return state.context.Request.Method.upper() != "GET"
