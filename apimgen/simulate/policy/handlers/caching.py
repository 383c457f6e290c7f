"""``cache-lookup-value``, ``cache-store-value``, ``cache-remove-value`` (Learn pages of the same
names): a key-value cache per gateway with expiry on the virtual clock. ``caching-type`` is
accepted; internal and external caches behave the same here."""

from __future__ import annotations

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
            state.context.Variables.values[variable] = entry[1]
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
            self.values["value"].get(state),
        )


class CacheRemoveValue(PolicyHandler):
    element_names = ("cache-remove-value",)
    child_elements = ()
    attributes = (Attribute("key", required=True), _CACHING_TYPE)

    def run(self, state: RequestState) -> None:
        state.services.cache.pop(self.values["key"].text(state), None)
