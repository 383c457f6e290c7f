"""The read-only dictionaries of the policy context, with APIM's lookup semantics.

Headers, query parameters and JWT claims map a name to several values; APIM's
``GetValueOrDefault(name, default)`` joins them with commas. Header names are
case-insensitive. ``context.Variables`` holds objects and its generic ``GetValueOrDefault<T>``
throws when the stored value is of another type.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from apimgen.simulate.expr.typesystem import CSharpObject, KeyValue, default_of, unbox
from apimgen.simulate.expr.values import CSharpError, OutRef, type_name

__all__ = ["MultiValueDictionary", "StringDictionary", "VariablesDictionary"]


_NOTHING: Mapping[str, Any] = {}


class MultiValueDictionary(CSharpObject):
    """``IReadOnlyDictionary<string, string[]>`` (headers, query, claims)."""

    csharp_name = "IReadOnlyDictionary<string, string[]>"

    def __init__(self, values: Mapping[str, Any], *, case_insensitive: bool = False) -> None:
        self._case_insensitive = case_insensitive
        self._raw: Mapping[str, Any] | None = values
        self._built: dict[str, tuple[str, list[str]]] = {}
        self._shared = False  # _built is also another dictionary's: copy it before a change

    def copy(self) -> MultiValueDictionary:
        """A copy sharing this one's entries until either changes: the headers a consumer
        sends are built once, and each request gets its own copy for set-header to change."""
        twin = MultiValueDictionary(_NOTHING)
        twin._case_insensitive, twin._raw, twin._built = self._case_insensitive, None, self._items
        twin._shared = self._shared = True
        return twin

    def _writable(self) -> dict[str, tuple[str, list[str]]]:
        items = self._items
        if self._shared:
            # Entries are never changed in place (a change replaces the entry), so a shallow
            # copy is this dictionary's own.
            items = self._built = dict(items)
            self._shared = False
        return items

    @property
    def _items(self) -> dict[str, tuple[str, list[str]]]:
        """Built on first use: most responses' headers are never read by a policy."""
        raw = self._raw
        if raw is not None:
            if raw:  # most requests come without headers
                for name, value in raw.items():
                    items = (
                        [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
                    )
                    self._built[self._fold(name)] = (name, items)
            self._raw = None
        return self._built

    def _fold(self, name: str) -> str:
        # A method, not a stored str.lower: compiled, a flag and a native call are cheaper
        # than calling a Python function object per header.
        return name.lower() if self._case_insensitive else name

    def GetValueOrDefault(self, name: str, default: Any = None) -> Any:
        """APIM's ``GetValueOrDefault(name, string)`` joins the values with commas; with a
        ``string[]`` default it is .NET's dictionary extension, which gives the array."""
        found = self._items.get(self._fold(name))
        if isinstance(default, list):
            return list(found[1]) if found else default
        return ",".join(found[1]) if found else default

    def ContainsKey(self, name: str) -> bool:
        return self._fold(name) in self._items

    def TryGetValue(self, name: str, result: Any = None) -> bool:
        """``TryGetValue(name, out string[] values)``."""
        found = self._items.get(self._fold(name))
        if isinstance(result, OutRef):
            result.value = list(found[1]) if found else None
        return found is not None

    def __getitem__(self, name: str) -> list[str]:
        found = self._items.get(self._fold(name))
        if found is None:
            raise CSharpError("KeyNotFoundException", f"the key '{name}' was not present")
        return list(found[1])

    def __iter__(self) -> Iterator[KeyValue]:
        return (KeyValue(name, list(values)) for name, values in self._items.values())

    @property
    def Count(self) -> int:
        return len(self._items)

    @property
    def Keys(self) -> list[str]:
        return [name for name, _ in self._items.values()]

    def _set(self, name: str, values: list[str]) -> None:
        """Policy-side mutation (set-header); expressions cannot reach underscore names."""
        self._writable()[self._fold(name)] = (name, list(values))

    def _remove(self, name: str) -> None:
        self._writable().pop(self._fold(name), None)

    def plain(self) -> dict[str, list[str]]:
        return {name: list(values) for name, values in self._items.values()}


class _OneValuePerName(CSharpObject):
    """What the one-value dictionaries share: ``ContainsKey``, ``TryGetValue``, the indexer,
    enumeration as KeyValuePairs, ``Count`` and ``Keys`` over ``values``."""

    _missing = "the key '{}' was not present"

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(values or {})

    def ContainsKey(self, name: str) -> bool:
        return name in self.values

    def TryGetValue(self, name: str, result: Any = None) -> bool:
        """``TryGetValue(name, out T value)``."""
        if isinstance(result, OutRef):
            result.value = self.values.get(name)
        return name in self.values

    def __getitem__(self, name: str) -> Any:
        if name not in self.values:
            raise CSharpError("KeyNotFoundException", self._missing.format(name))
        return self.values[name]

    def __iter__(self) -> Iterator[KeyValue]:
        return (KeyValue(name, value) for name, value in self.values.items())

    @property
    def Count(self) -> int:
        return len(self.values)

    @property
    def Keys(self) -> list[str]:
        return list(self.values)


class StringDictionary(_OneValuePerName):
    """``IReadOnlyDictionary<string, string>`` (``context.Request.MatchedParameters``): one
    value per name, so ``["deployment-id"]`` is a string, not an array."""

    csharp_name = "IReadOnlyDictionary<string, string>"

    def GetValueOrDefault(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)


class VariablesDictionary(_OneValuePerName):
    """``context.Variables``: written by set-variable and policies, read by expressions."""

    csharp_name = "IReadOnlyDictionary<string, object>"
    generic_methods = frozenset({"GetValueOrDefault"})
    _missing = "the variable '{}' was not set"

    def GetValueOrDefault(
        self, name: str, default: Any = None, type_args: tuple[str, ...] = ()
    ) -> Any:
        if name not in self.values:
            # GetValueOrDefault<bool>("missing") is default(bool), false; null only for
            # reference types (a value type's default cannot be passed as null)
            return default_of(type_args[0]) if default is None and type_args else default
        value = self.values[name]
        if type_args:
            try:
                return unbox(value, type_args[0])
            except CSharpError:
                raise CSharpError(
                    "InvalidCastException",
                    f"variable '{name}' holds a {type_name(value)}, not {type_args[0]}",
                ) from None
        return value
