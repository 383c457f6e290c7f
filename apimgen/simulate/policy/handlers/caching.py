"""``cache-lookup-value``, ``cache-store-value``, ``cache-remove-value`` (Learn pages of the same
names): a key-value cache per gateway with expiry on the virtual clock. ``caching-type`` is
accepted; internal and external caches behave the same here.

The cache holds values, not references: a store keeps a copy and a lookup hands out a copy,
as a cache that serialises what it holds does. Without that, a policy that changes the route
table it looked up (marking one deployment throttled) would change every later request's
table without storing it back, as no gateway does."""

from __future__ import annotations

from apimgen.simulate.expr.values import snapshot
from apimgen.simulate.policy.handlers.base import Attribute, PolicyHandler
from apimgen.simulate.state import RequestState

__all__ = ["CacheLookupValue", "CacheRemoveValue", "CacheStoreValue"]

_CACHING_TYPE = Attribute(
    "caching-type", expressions=False, choices=("internal", "external", "prefer-external")
)


class CacheLookupValue(PolicyHandler):
    element_names = ("cache-lookup-value",)
    child_elements = ()
    attributes = (
        Attribute("key", required=True),
        Attribute("default-value"),
        Attribute("variable-name", required=True, expressions=False),
        _CACHING_TYPE,
    )

    def run(self, state: RequestState) -> None:
        key = self.values["key"].text(state)
        entry = state.services.cache.get(key)
        variable = self.literal("variable-name")
        assert variable is not None
        if entry is not None and entry[0] > state.services.now:
            state.context.Variables.values[variable] = snapshot(entry[1])
        elif self.has("default-value"):
            state.context.Variables.values[variable] = self.values["default-value"].get(state)


class CacheStoreValue(PolicyHandler):
    element_names = ("cache-store-value",)
    child_elements = ()
    attributes = (
        Attribute("key", required=True),
        Attribute("value", required=True),
        Attribute("duration", required=True, kind="number"),
        _CACHING_TYPE,
    )

    def run(self, state: RequestState) -> None:
        duration = self.number("duration", state)
        state.services.cache[self.values["key"].text(state)] = (
            state.services.now + duration,
            snapshot(self.values["value"].get(state)),
        )


class CacheRemoveValue(PolicyHandler):
    element_names = ("cache-remove-value",)
    child_elements = ()
    attributes = (Attribute("key", required=True), _CACHING_TYPE)

    def run(self, state: RequestState) -> None:
        state.services.cache.pop(self.values["key"].text(state), None)
