"""LINQ over the sequences expressions enumerate (lists, arrays, strings, JSON containers,
dictionaries) and ``List<T>``'s own in-place methods."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from mypy_extensions import mypyc_attr

from apimgen.simulate.expr.operators import plain
from apimgen.simulate.expr.typesystem import sequence
from apimgen.simulate.expr.values import CSharpError, JValue, UnsupportedError

__all__ = ["LINQ_METHODS", "LIST_CHANGES", "Grouping", "change_list", "element_at", "linq_method"]


@mypyc_attr(native_class=False)  # a builtin subclass (native.py)
class Grouping(list[Any]):
    """One group of ``GroupBy``: its items, and the ``Key`` they share."""

    def __init__(self, key: Any) -> None:
        super().__init__()
        self.key = key


def element_at(items: Sequence[Any], index: Any) -> Any:
    """``items[index]`` on a list, array or string, as .NET bounds-checks it."""
    if not isinstance(index, int) or not 0 <= index < len(items):
        raise CSharpError("ArgumentOutOfRangeException", f"index {index} is out of range")
    return items[index]


def _keyed(items: list[Any], name: str, args: list[Any]) -> Any:
    """``GroupBy(key[, element])`` and ``ToDictionary(key[, value])``."""
    key_of = args[0]
    select = args[1] if len(args) > 1 and callable(args[1]) else None
    if name == "GroupBy":
        groups: dict[Any, Grouping] = {}
        for item in items:
            key = plain(key_of(item))
            group = groups.get(key)
            if group is None:
                group = groups[key] = Grouping(key)
            group.append(select(item) if select else item)
        return list(groups.values())
    made: dict[Any, Any] = {}
    for item in items:
        key = plain(key_of(item))
        if key in made:
            raise CSharpError(
                "ArgumentException", "An item with the same key has already been added."
            )
        made[key] = select(item) if select else item
    return made


def _lambda(fn: Callable[..., Any] | None, name: str) -> Callable[..., Any]:
    """The lambda a LINQ method needs; C# would not compile the call without one."""
    if fn is None:
        raise UnsupportedError(f"{name}() without a lambda")
    return fn


def linq_method(items: list[Any], name: str, args: list[Any]) -> Any:
    fn = args[0] if args and callable(args[0]) else None
    if name == "Any":
        return any(bool(fn(x)) for x in items) if fn else bool(items)
    if name == "All":
        fn = _lambda(fn, name)
        return all(bool(fn(x)) for x in items)
    if name == "Where":
        fn = _lambda(fn, name)
        if getattr(fn, "arity", 1) == 2:  # Where((x, i) => ...): with each item's index
            return [x for i, x in enumerate(items) if fn(x, i)]
        return [x for x in items if fn(x)]
    if name == "Select":
        fn = _lambda(fn, name)
        if getattr(fn, "arity", 1) == 2:
            return [fn(x, i) for i, x in enumerate(items)]
        return [fn(x) for x in items]
    if name in ("First", "FirstOrDefault", "Last", "LastOrDefault", "Single", "SingleOrDefault"):
        chosen = [x for x in items if fn(x)] if fn else items
        if not chosen:
            if name.endswith("OrDefault"):
                return None
            raise CSharpError("InvalidOperationException", "sequence contains no elements")
        if name.startswith("Single") and len(chosen) > 1:
            raise CSharpError(
                "InvalidOperationException", "sequence contains more than one element"
            )
        return chosen[-1] if name.startswith("Last") else chosen[0]
    if name in ("GroupBy", "ToDictionary"):
        return _keyed(items, name, args)
    if name == "Count":
        return sum(1 for x in items if fn(x)) if fn else len(items)
    if name in ("Sum", "Max", "Min", "Average"):
        values = [fn(x) for x in items] if fn else items
        plain = [v.value if isinstance(v, JValue) else v for v in values]
        if name == "Sum":
            return sum(plain)
        if not plain:
            raise CSharpError("InvalidOperationException", "sequence contains no elements")
        return (
            {"Max": max, "Min": min}[name](plain) if name != "Average" else sum(plain) / len(plain)
        )
    if name == "Contains":
        return args[0] in items
    if name in ("ToList", "ToArray"):
        return list(items)
    if name == "Skip":  # a count below zero skips nothing, as in .NET
        return items[max(args[0], 0) :]
    if name == "Take":
        return items[: max(args[0], 0)]
    if name in ("SkipWhile", "TakeWhile"):
        keep = _lambda(fn, name)
        taken = list(itertools.takewhile(lambda x: bool(keep(x)), items))
        return taken if name == "TakeWhile" else items[len(taken) :]
    if name in ("OrderBy", "OrderByDescending"):
        fn = _lambda(fn, name)
        return sorted(items, key=fn, reverse=name.endswith("Descending"))
    if name == "Distinct":
        return list(dict.fromkeys(items))
    if name == "Reverse":
        return list(reversed(items))
    if name == "Concat":
        return items + sequence(args[0])
    if name == "ElementAt":
        return element_at(items, args[0])
    if name == "ElementAtOrDefault":
        index = args[0]
        return items[index] if isinstance(index, int) and 0 <= index < len(items) else None
    if name in ("Except", "Intersect", "Union"):
        return _set_operation(items, name, sequence(args[0]))
    if name == "SequenceEqual":
        return items == sequence(args[0])
    if name == "DefaultIfEmpty":
        return items or [args[0] if args else None]
    if name == "LongCount":
        return sum(1 for x in items if fn(x)) if fn else len(items)
    if name == "Aggregate":
        return _aggregate(items, args)
    raise UnsupportedError(f"LINQ method {name}()")


LIST_CHANGES = {"Add", "AddRange", "Clear", "Insert", "Remove", "RemoveAt", "IndexOf"}


def change_list(items: list[Any], name: str, args: list[Any]) -> Any:
    """``List<T>``'s own methods, which change the list in place (LINQ's make new ones)."""
    if name == "Add":
        items.append(args[0])
    elif name == "AddRange":
        items.extend(sequence(args[0]))
    elif name == "Clear":
        items.clear()
    elif name == "Insert":
        if not 0 <= args[0] <= len(items):
            raise CSharpError("ArgumentOutOfRangeException", f"index {args[0]} is out of range")
        items.insert(args[0], args[1])
    elif name == "RemoveAt":
        if not 0 <= args[0] < len(items):
            raise CSharpError("ArgumentOutOfRangeException", f"index {args[0]} is out of range")
        del items[args[0]]
    elif name == "Remove":
        if args[0] not in items:
            return False
        items.remove(args[0])
        return True
    else:  # IndexOf
        return items.index(args[0]) if args[0] in items else -1
    return None


def _set_operation(items: list[Any], name: str, other: list[Any]) -> list[Any]:
    """``Except``, ``Intersect`` and ``Union``: distinct items, in the order first seen."""
    if name == "Union":
        return list(dict.fromkeys(items + other))
    keep = name == "Intersect"
    return [x for x in dict.fromkeys(items) if (x in other) == keep]


def _aggregate(items: list[Any], args: list[Any]) -> Any:
    """``Aggregate(fn)`` folds from the first item; ``Aggregate(seed, fn)`` from the seed."""
    if len(args) == 1:
        if not items:
            raise CSharpError("InvalidOperationException", "sequence contains no elements")
        result, rest, fn = items[0], items[1:], args[0]
    else:
        result, rest, fn = args[0], items, args[1]
    for item in rest:
        result = fn(result, item)
    return result


LINQ_METHODS = {
    "Any", "All", "Where", "Select", "First", "FirstOrDefault", "Last", "LastOrDefault", "Single",
    "SingleOrDefault", "Count", "Sum", "Max", "Min", "Average", "Contains", "ToList", "ToArray",
    "Skip", "Take", "SkipWhile", "TakeWhile", "OrderBy", "OrderByDescending", "Distinct",
    "Reverse", "Concat", "ElementAt", "ElementAtOrDefault", "Except", "Intersect", "Union",
    "SequenceEqual", "DefaultIfEmpty", "LongCount", "Aggregate", "GroupBy", "ToDictionary",
}  # fmt: skip
