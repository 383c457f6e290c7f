"""``HashSet<T>`` and ``Dictionary<TKey, TValue>`` as policies build them, with the
``StringComparer`` they may be given: a model allow-list written as
``new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "gpt-4o" }`` must accept "GPT-4o".

A set is a list (expressions run LINQ over it) that keeps each item once; a dictionary built
with an ignore-case comparer finds its keys without case and keeps the spelling first added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mypy_extensions import mypyc_attr

from apimgen.simulate.expr.values import CSharpError

__all__ = ["CaseInsensitiveDictionary", "HashSet", "ignores_case"]


def ignores_case(comparer: Any) -> bool | None:
    """Whether a ``StringComparer`` argument compares without case; None when ``comparer``
    is not one."""
    if isinstance(comparer, str) and comparer.startswith("StringComparer."):
        return comparer.endswith("IgnoreCase")
    return None


def _fold(value: Any, ignore_case: bool) -> Any:
    return value.lower() if ignore_case and isinstance(value, str) else value


@mypyc_attr(native_class=False)  # a builtin subclass (native.py)
class HashSet(list[Any]):
    """``HashSet<T>``: items in the order first added, each once under its comparer."""

    def __init__(self, items: Iterable[Any] = (), *, ignore_case: bool = False) -> None:
        super().__init__()
        self.ignore_case = ignore_case
        for item in items:
            self.Add(item)

    def _index(self, value: Any) -> int:
        wanted = _fold(value, self.ignore_case)
        return next(
            (i for i, item in enumerate(self) if _fold(item, self.ignore_case) == wanted), -1
        )

    def Add(self, value: Any) -> bool:
        if self._index(value) >= 0:
            return False
        self.append(value)
        return True

    def Contains(self, value: Any) -> bool:
        return self._index(value) >= 0

    def Remove(self, value: Any) -> bool:
        index = self._index(value)
        if index < 0:
            return False
        del self[index]
        return True


@mypyc_attr(native_class=False)  # a builtin subclass (native.py)
class CaseInsensitiveDictionary(dict[Any, Any]):
    """``new Dictionary<string, T>(StringComparer.OrdinalIgnoreCase)``."""

    def __init__(self, items: Mapping[Any, Any] | None = None) -> None:
        super().__init__()
        self._spelling: dict[Any, Any] = {}
        for key, value in (items or {}).items():
            self[key] = value

    def __setitem__(self, key: Any, value: Any) -> None:
        spelling = self._spelling.setdefault(_fold(key, True), key)
        super().__setitem__(spelling, value)

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(self._spelling.get(_fold(key, True), key))

    def __contains__(self, key: object) -> bool:
        return _fold(key, True) in self._spelling

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(self._spelling.pop(_fold(key, True)))

    def get(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            return default
        return self[key]

    def pop(self, key: Any, *default: Any) -> Any:
        if key not in self:
            if default:
                return default[0]
            raise CSharpError("KeyNotFoundException", f"the key '{key}' was not present")
        value = self[key]
        del self[key]
        return value
