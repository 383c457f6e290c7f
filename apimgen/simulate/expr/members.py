"""Members and methods of the .NET types policy expressions may use (the APIM whitelist,
apim-genai-policies.md §9.3), implemented over the Python values of ``values.py``.

A member or method that is not listed here raises UnsupportedError naming it: an expression the
simulator cannot evaluate faithfully must fail loudly, never evaluate to null.
"""

from __future__ import annotations

import base64
import calendar
import html
import itertools
import math
import random
import re
import unicodedata
import uuid
import zlib
from collections.abc import Callable, Iterable, MutableMapping
from datetime import UTC, datetime, time, timedelta
from typing import Any, ClassVar
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from mypy_extensions import mypyc_attr

from apimgen.simulate.expr.collections import HashSet
from apimgen.simulate.expr.dates import (
    datetime_method,
    format_datetime,
    parse_datetime,
    parse_exact,
    parse_timespan,
)
from apimgen.simulate.expr.numbers import align, format_number
from apimgen.simulate.expr.operators import plain
from apimgen.simulate.expr.values import (
    DAY_ONE,
    LOCAL,
    UNSPECIFIED,
    CSharpError,
    EnumValue,
    JArray,
    JObject,
    JProperty,
    JToken,
    JValue,
    OutRef,
    UnsupportedError,
    clone_token,
    cs_string,
    from_json,
    local_reading,
    newtonsoft_json,
    ticks,
    to_plain,
    to_token,
    type_name,
)

__all__ = [
    "CSharpObject",
    "Guid",
    "StaticType",
    "call_method",
    "convert",
    "format_value",
    "get_index",
    "get_member",
    "is_instance",
    "parse_guid",
    "static_property",
    "static_type",
    "unbox",
]


class CSharpObject:
    """Base for simulator objects (``context`` and its parts): C# members are Python attributes
    with the same names, C# methods are Python methods with the same names."""

    __slots__ = ()  # so the per-request ones can be slotted
    # The .NET type's name. A dataclass subclass declares it a field without a parameter:
    # compiled (native.py), a name merely assigned there would become the first parameter.
    csharp_name = "object"
    # Methods that take C# type arguments (``As<JObject>()``): they are passed ``type_args``.
    generic_methods: ClassVar[frozenset[str]] = frozenset()


class Guid(CSharpObject):
    """``System.Guid`` (``context.RequestId``, ``Guid.NewGuid()``): written lower-case with
    hyphens by default, with ``N``, ``B`` and ``P`` as .NET formats them."""

    __slots__ = ("value",)
    csharp_name = "Guid"

    def __init__(self, value: uuid.UUID) -> None:
        self.value = value

    def ToString(self, format: Any = "D", *_: Any) -> str:
        text = str(self.value)
        kind = cs_string(format).upper() or "D"
        if kind == "D":
            return text
        if kind == "N":
            return self.value.hex
        if kind == "B":
            return "{" + text + "}"
        if kind == "P":
            return "(" + text + ")"
        raise CSharpError(
            "FormatException", 'Format string can be only "D", "N", "P", "B" or "X" (any case).'
        )

    def Equals(self, other: Any) -> bool:
        return bool(self == other)

    def CompareTo(self, other: Any) -> int:
        mine, theirs = self.value.int, other.value.int if isinstance(other, Guid) else -1
        return (mine > theirs) - (mine < theirs)

    def GetHashCode(self) -> int:
        value = zlib.crc32(self.value.bytes)
        return value - 2**32 if value >= 2**31 else value

    def ToByteArray(self) -> list[int]:
        return list(self.value.bytes_le)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Guid) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)


def parse_guid(text: Any) -> Guid:
    """``Guid.Parse``: the D, N, B and P forms, any case."""
    try:
        return Guid(uuid.UUID(cs_string(text).strip()))
    except ValueError:
        raise CSharpError("FormatException", "Unrecognized Guid format.") from None


class StaticType:
    """A type used statically (``int.Parse``, ``DateTime.UtcNow``): its members are functions."""

    def __init__(
        self,
        name: str,
        members: dict[str, Callable[..., Any]],
        construct: Callable[..., Any] | None = None,
    ) -> None:
        self.name = name
        self.members = members
        self.construct = construct  # what ``new`` makes, where it needs the simulation's state


# ------------------------------------------------------------------ conversions

DAYS_OF_WEEK = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
# Enum members a cast to a number reads: (int)d.DayOfWeek is 0 on a Sunday, as in .NET.
ENUM_NUMBERS = {EnumValue(f"DayOfWeek.{day}"): number for number, day in enumerate(DAYS_OF_WEEK)}
_NUMERIC = {"int", "long", "short", "byte", "uint", "ulong", "Int32", "Int64"}
_REAL = {"double", "float", "decimal", "Double", "Decimal", "Single"}


# What .NET calls the types a cast names, for its InvalidCastException message.
_DOTNET = {
    "int": "System.Int32", "Int32": "System.Int32", "long": "System.Int64",
    "Int64": "System.Int64", "short": "System.Int16", "byte": "System.Byte",
    "uint": "System.UInt32", "ulong": "System.UInt64", "double": "System.Double",
    "Double": "System.Double", "float": "System.Single", "Single": "System.Single",
    "decimal": "System.Decimal", "Decimal": "System.Decimal", "bool": "System.Boolean",
    "Boolean": "System.Boolean", "string": "System.String", "String": "System.String",
}  # fmt: skip
_TOKEN_TYPES = frozenset({"JToken", "JValue", "JObject", "JArray"})


def default_of(type_name: str) -> Any:
    """``default(T)``: zero for numbers, false for bool, null for everything else."""
    if type_name in _NUMERIC:
        return 0
    if type_name in _REAL:
        return 0.0
    return False if type_name in ("bool", "Boolean") else None


def convert(value: Any, target: str) -> Any:
    """An explicit cast or ``Value<T>``/``GetValueOrDefault<T>`` conversion to ``target``.

    A JSON token's text converts to a number (Newtonsoft's explicit operators parse it); any
    other string does not: C# has no conversion from string to a number, so ``(int)`` of a
    variable holding "5" (set-variable's literal values are strings) unboxes and throws."""
    if isinstance(value, JToken) and target in _TOKEN_TYPES and is_instance(value, target):
        return value  # (JToken)x keeps the token: its conversions apply to it later
    from_token = isinstance(value, JValue)
    if from_token:
        value = value.value
    if target.endswith("?"):  # int?, bool?: null stays null, anything else converts
        if value is None:
            return None
        target = target[:-1]
    if target in ("object", "var", "dynamic"):
        return value
    if target.endswith("[]") and value is not None:  # (string[])x: an array as it is
        if is_instance(value, target):
            return value
        raise CSharpError("InvalidCastException", f"cannot cast {type_name(value)} to {target}")
    if value is None:
        if target in _NUMERIC | _REAL | {"bool", "Boolean", "DateTime", "TimeSpan"}:
            raise CSharpError("InvalidCastException", f"null cannot be converted to {target}")
        return None
    if target in ("string", "String"):
        if isinstance(value, str):
            return value
        if from_token and isinstance(value, datetime):  # Convert.ToString, invariant culture
            return value.strftime("%m/%d/%Y %H:%M:%S")
        if from_token and isinstance(value, int | float):
            return cs_string(value)  # Newtonsoft's (string) gives a scalar token's text
        if isinstance(value, JObject | JArray):
            kind = "Object" if isinstance(value, JObject) else "Array"
            raise CSharpError("ArgumentException", f"Can not convert {kind} to String.")
        raise CSharpError("InvalidCastException", f"cannot cast {type_name(value)} to string")
    if target in _NUMERIC:
        if isinstance(value, EnumValue) and value in ENUM_NUMBERS:
            return ENUM_NUMBERS[value]  # (int)DayOfWeek.Monday is 1
        if isinstance(value, bool):
            raise CSharpError("InvalidCastException", f"cannot cast bool to {target}")
        if isinstance(value, int | float):
            return int(value)
        if isinstance(value, str) and from_token:
            return _parse_int(value)
    if target in _REAL:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and from_token:
            return _parse_float(value)
    if isinstance(value, str) and target in _NUMERIC | _REAL | {"bool", "Boolean"}:
        dotnet = _DOTNET.get(target, target)
        raise CSharpError(
            "InvalidCastException",
            f"Unable to cast object of type 'System.String' to type '{dotnet}'.",
        )
    if target in ("bool", "Boolean") and isinstance(value, bool):
        return value
    if isinstance(value, JToken) and target == type(value).__name__:  # (JProperty)x
        return value
    if target in ("DateTime",) and isinstance(value, datetime):
        return value
    if target == "DateTime" and isinstance(value, str) and from_token:
        return parse_datetime(value)  # Newtonsoft: Convert.ToDateTime, invariant culture
    if target in ("TimeSpan",) and isinstance(value, timedelta):
        return value
    if is_instance(value, target):
        return value
    raise CSharpError("InvalidCastException", f"cannot cast {type_name(value)} to {target}")


# .NET's names of the runtime types a cast error reports.
_RUNTIME_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "System.Boolean"),
    (int, "System.Int32"),
    (float, "System.Double"),
    (str, "System.String"),
    (datetime, "System.DateTime"),
    (timedelta, "System.TimeSpan"),
    (JValue, "Newtonsoft.Json.Linq.JValue"),
    (JObject, "Newtonsoft.Json.Linq.JObject"),
    (JArray, "Newtonsoft.Json.Linq.JArray"),
)


def unbox(value: Any, target: str) -> Any:
    """A cast of an object — a ``context.Variables`` value, read by ``(T)`` or
    ``GetValueOrDefault<T>`` (Learn: it "throws an exception if the specified type does not
    match the actual type"). C# unboxes a value type only as the type it was stored as, and casts
    a reference only to a type it is: no conversion between numbers, none from text, none from
    a JSON token (whose conversions apply only where the static type is JToken). Whole numbers
    stay interchangeable here: int and long are one Python type."""
    base = target[:-1] if target.endswith("?") else target
    if base in _NUMERIC:
        if isinstance(value, EnumValue) and value in ENUM_NUMBERS:
            return ENUM_NUMBERS[value]  # an enum unboxes to its underlying number
        fits = isinstance(value, int) and not isinstance(value, bool)
    elif base in _REAL:
        fits = isinstance(value, float)
    elif base in ("bool", "Boolean"):
        fits = isinstance(value, bool)
    elif base in ("string", "String"):
        fits = isinstance(value, str)
    else:
        return convert(value, target)
    if value is None:
        if target.endswith("?") or base in ("string", "String"):
            return None
        raise CSharpError("NullReferenceException", "Object reference not set to an instance.")
    if not fits:
        held = next((name for kind, name in _RUNTIME_TYPES if isinstance(value, kind)), None)
        raise CSharpError(
            "InvalidCastException",
            f"Unable to cast object of type '{held or type_name(value)}' to type "
            f"'{_DOTNET.get(base, base)}'.",
        )
    return value


def is_instance(value: Any, target: str) -> bool:
    """``value is target`` for the types expressions test for."""
    checks: dict[str, Callable[[Any], bool]] = {
        "string": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "double": lambda v: isinstance(v, float),
        "bool": lambda v: isinstance(v, bool),
        "JObject": lambda v: isinstance(v, JObject),
        "JArray": lambda v: isinstance(v, JArray),
        "JToken": lambda v: isinstance(v, JToken),
        "JValue": lambda v: isinstance(v, JValue),
        "DateTime": lambda v: isinstance(v, datetime),
        "TimeSpan": lambda v: isinstance(v, timedelta),
        "object": lambda v: v is not None,
        "Guid": lambda v: isinstance(v, Guid),
    }
    if target.endswith("[]"):  # arrays are Python lists; object[] takes any elements
        element = target[:-2]
        return isinstance(value, list) and (
            element == "object" or all(v is None or is_instance(v, element) for v in value)
        )
    check = checks.get(target.rstrip("?"))
    if check is not None:
        return check(value)
    if target in _CONTEXT_TYPES:  # IResponse from send-request, IRequest, ...
        return isinstance(value, CSharpObject) and value.csharp_name == target
    raise UnsupportedError(f"type test against '{target}'")


# The context's interface types an expression may cast to or test for.
_CONTEXT_TYPES = frozenset({"IResponse", "IRequest", "IMessageBody", "IUrl", "Jwt"})


def _parse_int(text: str) -> int:
    if text is None:
        raise CSharpError("ArgumentNullException", "the string to parse is null")
    try:
        return int(text.strip())
    except ValueError:
        raise CSharpError(
            "FormatException", f"the input string '{text}' was not in a correct format"
        ) from None


def _convert_to_integer(value: Any) -> int:
    """``Convert.ToInt32``/``ToInt64``: a double rounds half to even, as .NET's Convert does
    (a cast truncates), and a string is parsed (a cast refuses it)."""
    if isinstance(value, float):
        return round(value)
    if isinstance(value, str):
        return _parse_int(value)
    return int(convert(value, "long"))


def _parse_float(text: str) -> float:
    if text is None:
        raise CSharpError("ArgumentNullException", "the string to parse is null")
    try:
        return float(text.strip())
    except ValueError:
        raise CSharpError(
            "FormatException", f"the input string '{text}' was not in a correct format"
        ) from None


# ------------------------------------------------------------------ members


def _sequence(value: Any) -> list[Any]:
    if isinstance(value, JArray):
        return list(value.items)
    if isinstance(value, JObject):
        return list(value)
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str):
        return list(value)
    if isinstance(value, dict):
        return [KeyValue(k, v) for k, v in value.items()]
    if isinstance(value, CSharpObject) and hasattr(value, "__iter__"):
        return list(value)
    raise UnsupportedError(f"enumerating a {type_name(value)}")


class KeyValue(CSharpObject):
    csharp_name = "KeyValuePair"

    def __init__(self, key: Any, value: Any) -> None:
        self.Key = key
        self.Value = value


def _token_type(token: JToken) -> str:
    """``JToken.Type``, as the JTokenType constant it equals."""
    if isinstance(token, JObject | JArray | JProperty):
        kind = {JObject: "Object", JArray: "Array", JProperty: "Property"}[type(token)]
    else:
        value = token.value if isinstance(token, JValue) else None
        kinds = ((bool, "Boolean"), (int, "Integer"), (float, "Float"), (str, "String"),
                 (datetime, "Date"), (timedelta, "TimeSpan"), (Guid, "Guid"))  # fmt: skip
        kind = next((name for python, name in kinds if isinstance(value, python)), "Null")
    return EnumValue(f"JTokenType.{kind}")


@mypyc_attr(native_class=False)  # a builtin subclass (native.py)
class Grouping(list[Any]):
    """One group of ``GroupBy``: its items, and the ``Key`` they share."""

    def __init__(self, key: Any) -> None:
        super().__init__()
        self.key = key


_PROPERTIES: dict[type, dict[str, Callable[[Any], Any]]] = {
    str: {"Length": len},
    list: {"Count": len, "Length": len},
    Grouping: {"Key": lambda group: group.key},
    dict: {"Count": len, "Keys": list, "Values": lambda d: list(d.values())},
    JArray: {
        "Count": len,
        "First": lambda a: a.items[0] if a.items else None,
        "Last": lambda a: a.items[-1] if a.items else None,
        "HasValues": lambda a: bool(a.items),
        "Type": _token_type,
    },
    JObject: {
        "Count": lambda o: len(o.items),
        "First": lambda o: next(iter(o), None),
        "Last": lambda o: JProperty(*list(o.items.items())[-1]) if o.items else None,
        "HasValues": lambda o: bool(o.items),
        "Type": _token_type,
    },
    JProperty: {
        "Name": lambda p: p.name,
        "Value": lambda p: p.value,
        "HasValues": lambda p: True,  # a property holds its value
        "Type": _token_type,
    },
    JValue: {"Value": lambda v: v.value, "HasValues": lambda v: False, "Type": _token_type},
    datetime: {
        "Year": lambda d: d.year,
        "Month": lambda d: d.month,
        "Day": lambda d: d.day,
        "Hour": lambda d: d.hour,
        "Minute": lambda d: d.minute,
        "Second": lambda d: d.second,
        "Ticks": ticks,
        "Date": lambda d: d.replace(hour=0, minute=0, second=0, microsecond=0),
        "TimeOfDay": lambda d: d - d.replace(hour=0, minute=0, second=0, microsecond=0),
        "DayOfWeek": lambda d: EnumValue(f"DayOfWeek.{DAYS_OF_WEEK[(d.weekday() + 1) % 7]}"),
        "DayOfYear": lambda d: d.timetuple().tm_yday,
        "Millisecond": lambda d: d.microsecond // 1000,
        # DateTimeOffset's: every time here is UTC, so these are the time itself, offset zero
        "UtcDateTime": lambda d: d,
        "DateTime": lambda d: d,
        "LocalDateTime": lambda d: d,
        "Offset": lambda d: d.utcoffset() or timedelta(0),
    },
    timedelta: {
        "TotalSeconds": lambda t: t.total_seconds(),
        "TotalMilliseconds": lambda t: t.total_seconds() * 1000,
        "TotalMinutes": lambda t: t.total_seconds() / 60,
        "TotalHours": lambda t: t.total_seconds() / 3600,
        "TotalDays": lambda t: t.total_seconds() / 86400,
        "Days": lambda t: t.days,
        "Seconds": lambda t: int(t.total_seconds()) % 60,
        "Minutes": lambda t: int(t.total_seconds()) // 60 % 60,
        "Hours": lambda t: int(t.total_seconds()) // 3600 % 24,
        "Milliseconds": lambda t: int(t.total_seconds() * 1000) % 1000,
    },
}


_MISSING = object()


def _nullable_value(value: Any) -> Any:
    if value is None:
        raise CSharpError("InvalidOperationException", "Nullable object must have a value.")
    return value


# Nullable<T>'s members (a Jwt's ExpirationTime, a subscription's EndDate): values here are
# plain, null for none, so these read the value itself.
_NULLABLE: dict[str, Callable[[Any], Any]] = {
    "HasValue": lambda value: value is not None,
    "Value": _nullable_value,
}
_VALUE_TYPES = (bool, int, float, datetime, timedelta)


def get_member(target: Any, name: str) -> Any:
    """``target.name`` — a property read."""
    if isinstance(target, CSharpObject):  # the context and its parts: the common case
        value = getattr(target, name, _MISSING) if name[:1] != "_" else _MISSING
        if value is _MISSING:
            raise UnsupportedError(f"{target.csharp_name}.{name}")
        if callable(value):
            raise UnsupportedError(f"{target.csharp_name}.{name} used as a property")
        return value
    if target is None:
        if name in _NULLABLE:  # a DateTime? or int? that holds nothing
            return _NULLABLE[name](None)
        raise CSharpError("NullReferenceException", f"'{name}' was read on a null reference")
    if isinstance(target, StaticType):
        member = target.members.get(name)
        if member is None:
            raise UnsupportedError(f"{target.name}.{name}")
        return member() if getattr(member, "is_property", False) else member
    for python_type, properties in _PROPERTIES.items():
        if isinstance(target, python_type) and name in properties:
            return properties[name](target)
    if name in _NULLABLE and isinstance(target, _VALUE_TYPES):  # a Nullable<T> with a value
        return _NULLABLE[name](target)
    raise UnsupportedError(f"{type_name(target)}.{name}")


def get_index(target: Any, keys: list[Any]) -> Any:
    """``target[key]``."""
    if target is None:
        raise CSharpError("NullReferenceException", "indexing a null reference")
    key = keys[0]
    if isinstance(target, JObject):
        return target.items.get(str(key))
    if isinstance(target, JArray | list | str):
        items = target.items if isinstance(target, JArray) else target
        if not isinstance(key, int) or not 0 <= key < len(items):
            raise CSharpError("ArgumentOutOfRangeException", f"index {key} is out of range")
        return items[key]
    if isinstance(target, dict):
        return _dict_item(target, key)
    if isinstance(target, CSharpObject) and hasattr(target, "__getitem__"):
        return target[key]
    raise UnsupportedError(f"indexing a {type_name(target)}")


# ------------------------------------------------------------------ methods

Lambda = Callable[..., Any]


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


def _linq(items: list[Any], name: str, args: list[Any]) -> Any:
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
        return items + _sequence(args[0])
    if name == "ElementAt":
        return get_index(items, [args[0]])
    if name == "ElementAtOrDefault":
        index = args[0]
        return items[index] if isinstance(index, int) and 0 <= index < len(items) else None
    if name in ("Except", "Intersect", "Union"):
        return _set_operation(items, name, _sequence(args[0]))
    if name == "SequenceEqual":
        return items == _sequence(args[0])
    if name == "DefaultIfEmpty":
        return items or [args[0] if args else None]
    if name == "LongCount":
        return sum(1 for x in items if fn(x)) if fn else len(items)
    if name == "Aggregate":
        return _aggregate(items, args)
    raise UnsupportedError(f"LINQ method {name}()")


_LIST_CHANGES = {"Add", "AddRange", "Clear", "Insert", "Remove", "RemoveAt", "IndexOf"}


def _change_list(items: list[Any], name: str, args: list[Any]) -> Any:
    """``List<T>``'s own methods, which change the list in place (LINQ's make new ones)."""
    if name == "Add":
        items.append(args[0])
    elif name == "AddRange":
        items.extend(_sequence(args[0]))
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


_LINQ = {
    "Any", "All", "Where", "Select", "First", "FirstOrDefault", "Last", "LastOrDefault", "Single",
    "SingleOrDefault", "Count", "Sum", "Max", "Min", "Average", "Contains", "ToList", "ToArray",
    "Skip", "Take", "SkipWhile", "TakeWhile", "OrderBy", "OrderByDescending", "Distinct",
    "Reverse", "Concat", "ElementAt", "ElementAtOrDefault", "Except", "Intersect", "Union",
    "SequenceEqual", "DefaultIfEmpty", "LongCount", "Aggregate", "GroupBy", "ToDictionary",
}  # fmt: skip


def _comparison(args: list[Any]) -> bool:
    """True when a StringComparison argument asks to ignore case."""
    return any(isinstance(a, str) and a.endswith("IgnoreCase") for a in args[1:])


def _string_hash(text: str) -> int:
    """``string.GetHashCode()``: .NET randomises it per process, so no policy may rely on its
    value; here it is stable (CRC-32 of the UTF-16 text as a signed int), so runs repeat."""
    value = zlib.crc32(text.encode("utf-16-le"))
    return value - 2**32 if value >= 2**31 else value


def _string_method(text: str, name: str, args: list[Any]) -> Any:
    ignore = _comparison(args)
    folded = text.lower() if ignore else text

    def arg(i: int) -> str:
        value = cs_string(args[i])
        return value.lower() if ignore else value

    simple: dict[str, Callable[[], Any]] = {
        "GetHashCode": lambda: _string_hash(text),
        "ToLower": text.lower,
        "ToLowerInvariant": text.lower,
        "ToUpper": text.upper,
        "ToUpperInvariant": text.upper,
        "Trim": lambda: text.strip(*(cs_string(a) for a in args[:1])),
        "TrimStart": lambda: text.lstrip(*(cs_string(a) for a in args[:1])),
        "TrimEnd": lambda: text.rstrip(*(cs_string(a) for a in args[:1])),
        "ToString": lambda: text,
        "Contains": lambda: arg(0) in folded,
        "StartsWith": lambda: folded.startswith(arg(0)),
        "EndsWith": lambda: folded.endswith(arg(0)),
        "Equals": lambda: folded == arg(0),
        "IndexOf": lambda: folded.find(arg(0)),
        "LastIndexOf": lambda: folded.rfind(arg(0)),
        "Replace": lambda: text.replace(cs_string(args[0]), cs_string(args[1])),
        "PadLeft": lambda: text.rjust(args[0], cs_string(args[1]) if len(args) > 1 else " "),
        "PadRight": lambda: text.ljust(args[0], cs_string(args[1]) if len(args) > 1 else " "),
        "AsJwt": lambda: _jwt(text),
        "TryParseJwt": lambda: _jwt(text),
        "AsBasic": lambda: _basic(text),
        "TryParseBasic": lambda: _basic(text),
    }
    if name in simple:
        return simple[name]()
    if name == "Substring":
        start = args[0]
        if start > len(text) or (len(args) > 1 and start + args[1] > len(text)):
            raise CSharpError("ArgumentOutOfRangeException", "substring is out of range")
        return text[start : start + args[1]] if len(args) > 1 else text[start:]
    if name == "Split":
        separators: list[str] = []
        for a in args:
            if isinstance(a, list):
                separators += [cs_string(x) for x in a]
            elif isinstance(a, str) and not a.startswith("StringSplitOptions."):
                separators.append(a)
        separators = separators or [" "]
        parts = re.split("|".join(re.escape(s) for s in separators), text)
        if any(isinstance(a, str) and a.endswith("RemoveEmptyEntries") for a in args):
            parts = [p for p in parts if p]
        return parts
    if name == "ToCharArray":
        return list(text)
    if name in _LINQ:
        return _linq(list(text), name, args)
    raise UnsupportedError(f"string.{name}()")


def _jwt(text: str) -> Any:
    from apimgen.simulate.expr.jwt import parse_jwt

    return parse_jwt(text)


def _basic(text: str) -> Any:
    from apimgen.simulate.expr.jwt import parse_basic

    return parse_basic(text)


def _json_method(token: JToken, name: str, args: list[Any], type_args: tuple[str, ...]) -> Any:
    if name == "ToString":
        indent = not (args and str(args[0]).endswith("None"))
        return token.to_json(indent) if not isinstance(token, JValue) else str(token)
    if name == "Value":
        if isinstance(token, JValue) and not args:
            found: Any = token
        else:
            found = get_index(token, args)
        return convert(found, type_args[0]) if type_args else found
    if name == "ToObject":
        return convert(token, type_args[0]) if type_args else to_plain(token)
    if name == "DeepClone":
        return clone_token(token)
    if name == "SelectToken":
        return _select_token(token, str(args[0]))
    if name == "SelectTokens":
        return _select_tokens(token, str(args[0]))
    if isinstance(token, JObject):
        obj = token.items
        methods: dict[str, Callable[[], Any]] = {
            "ContainsKey": lambda: str(args[0]) in obj,
            "Property": lambda: JProperty(args[0], obj[args[0]]) if args[0] in obj else None,
            "Properties": lambda: list(token),
            "Remove": lambda: token.remove(str(args[0])),
            "GetValue": lambda: obj.get(str(args[0])),
        }
        if name == "TryGetValue":
            return _try_get(obj.get(str(args[0])), args)
        if name == "Add":
            if len(args) == 2:
                token.put(str(args[0]), args[1])
            else:
                token.put(args[0].name, args[0].value)
            return None
        if name in methods:
            return methods[name]()
    if isinstance(token, JArray):
        if name == "Add":
            token.append(args[0])
            return None
        if name == "IndexOf":  # by reference, as Newtonsoft's JContainer compares children
            return next((i for i, item in enumerate(token.items) if item is args[0]), -1)
        if name in _LINQ:
            return _linq(token.items, name, args)
    raise UnsupportedError(f"{type(token).__name__}.{name}()")


def _try_get(found: Any, args: list[Any]) -> bool:
    """``TryGetValue(key, out value)``: whether the key is there, its value in the out slot."""
    if len(args) > 1 and isinstance(args[1], OutRef):
        args[1].value = found
    return found is not None


# One step of a JSON path: [0], [*], ['name'] or ["name"], or a .name / .* member.
_PATH_STEP = re.compile(r"""\[\s*(\d+|\*|'[^']*'|"[^"]*")\s*\]|\.?([^.\[\]]+)""")


def _select_tokens(token: JToken, path: str) -> list[Any]:
    """``SelectTokens``: what a JSON path with names, indices and ``*`` wildcards reaches;
    anything else in a path (``..``, filters) is refused rather than misread."""
    text = path.strip()
    text = text[1:] if text.startswith("$") else text
    steps = list(_PATH_STEP.finditer(text))
    if "".join(step.group(0) for step in steps) != text or ".." in text:
        raise UnsupportedError(f"the JSON path '{path}'")
    current: list[Any] = [token]
    for step in steps:
        index: str | None = step.group(1)
        name: str | None = step.group(2)
        if index is not None and index[0] in "'\"":
            name = index[1:-1]  # ['name'] is .name
            index = None
        reached: list[Any] = []
        for item in current:
            if "*" in (index, name):
                if isinstance(item, JArray):
                    reached.extend(item.items)
                elif isinstance(item, JObject):
                    reached.extend(item.items.values())
            elif index is not None:
                position = int(index)
                if isinstance(item, JArray) and position < len(item.items):
                    reached.append(item.items[position])
            elif isinstance(item, JObject) and name in item.items:
                reached.append(item.items[name])
        current = reached
    return current


def _select_token(token: JToken, path: str) -> Any:
    """``SelectToken``: the one token the path reaches, null for none; Newtonsoft throws
    when a wildcard reaches several."""
    found = _select_tokens(token, path)
    if len(found) > 1:
        raise CSharpError("JsonException", "Path returned multiple tokens.")
    return found[0] if found else None


# C# dictionaries are handled as MutableMappings, not dicts: compiled (native.py), ``in`` and
# ``get`` on a value typed dict skip a subclass's own (CaseInsensitiveDictionary's).


def _dict_item(mapping: MutableMapping[Any, Any], key: Any) -> Any:
    if key not in mapping:
        raise CSharpError("KeyNotFoundException", f"the key '{key}' was not present")
    return mapping[key]


def _dict_method(
    mapping: MutableMapping[Any, Any], name: str, args: list[Any], type_args: tuple[str, ...]
) -> Any:
    if name == "GetValueOrDefault":
        if args[0] not in mapping:
            return args[1] if len(args) > 1 else None
        value = mapping[args[0]]
        return convert(value, type_args[0]) if type_args else value
    if name == "ContainsKey":
        return args[0] in mapping
    if name in ("Add", "TryAdd"):
        if args[0] in mapping:
            if name == "TryAdd":
                return False
            raise CSharpError(
                "ArgumentException", "An item with the same key has already been added."
            )
        mapping[args[0]] = args[1]
        return True if name == "TryAdd" else None
    if name == "Remove":
        return mapping.pop(args[0], _MISSING) is not _MISSING
    if name == "TryGetValue":
        present = args[0] in mapping
        if len(args) > 1 and isinstance(args[1], OutRef):
            args[1].value = mapping[args[0]] if present else None
        return present
    if name == "ContainsValue":
        return args[0] in mapping.values()
    if name == "Clear":
        mapping.clear()
        return None
    if name in _LINQ:
        return _linq(_sequence(mapping), name, args)
    raise UnsupportedError(f"Dictionary.{name}()")


def call_method(target: Any, name: str, args: list[Any], type_args: tuple[str, ...]) -> Any:
    """``target.name<type_args>(args)``."""
    if target is None:
        raise CSharpError("NullReferenceException", f"'{name}()' was called on a null reference")
    if isinstance(target, StaticType):
        member = target.members.get(name)
        if member is None or getattr(member, "is_property", False):
            raise UnsupportedError(f"{target.name}.{name}()")
        return (
            member(*args, type_args=type_args)
            if getattr(member, "generic", False)
            else member(*args)
        )
    if isinstance(target, CSharpObject):
        method = getattr(target, name, None) if not name.startswith("_") else None
        if method is None or not callable(method):
            if name in _LINQ and hasattr(target, "__iter__"):
                return _linq(_sequence(target), name, args)
            raise UnsupportedError(f"{target.csharp_name}.{name}()")
        if name in target.generic_methods:
            return method(*args, type_args=type_args)
        return method(*args)
    if name == "ToString" and not isinstance(target, JToken | datetime):
        if args and isinstance(target, int | float) and not isinstance(target, bool):
            return format_number(target, cs_string(args[0]))
        return cs_string(target)
    if name == "Equals" and not isinstance(target, str):
        return target == args[0]
    if name == "GetType":
        raise UnsupportedError("GetType()")
    if isinstance(target, str):
        return _string_method(target, name, args)
    if isinstance(target, JToken):
        return _json_method(target, name, args, type_args)
    if isinstance(target, dict):
        return _dict_method(target, name, args, type_args)
    if isinstance(target, datetime):
        return datetime_method(target, name, args)
    if isinstance(target, HashSet) and name in ("Add", "Contains", "Remove"):
        return getattr(target, name)(args[0])
    if isinstance(target, list | tuple):
        if isinstance(target, list) and name in _LIST_CHANGES:
            return _change_list(target, name, args)
        if name == "Join":
            raise UnsupportedError("list.Join()")
        return _linq(list(target), name, args)
    if isinstance(target, int | float) and name == "CompareTo":
        return (target > args[0]) - (target < args[0])
    raise UnsupportedError(f"{type_name(target)}.{name}()")


# ------------------------------------------------------------------ static types


def _enum(type_name: str, *members: str) -> StaticType:
    """A .NET enum: each member a property giving its EnumValue (``StringComparison.Ordinal``)."""
    return StaticType(
        type_name,
        {name: static_property(_constant(EnumValue(f"{type_name}.{name}"))) for name in members},
    )


def _constant(value: str) -> Callable[[], str]:
    def get() -> str:
        return value

    return get


class _StaticMember:
    """A static member the runtime reads or calls in its own way. Marked by its class, not by
    an attribute set on a function: a compiled function takes no attributes (native.py)."""

    __slots__ = ("fn",)
    is_property: ClassVar[bool] = False
    generic: ClassVar[bool] = False

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


class _StaticProperty(_StaticMember):
    __slots__ = ()
    is_property = True


class _GenericStatic(_StaticMember):
    __slots__ = ()
    generic = True


def static_property(fn: Callable[[], Any]) -> Callable[[], Any]:
    """Mark a static member as a property (read without parentheses)."""
    return _StaticProperty(fn)


def _array(items: Any) -> list[Any]:
    """An array argument of ``Array``'s statics: null is .NET's ArgumentNullException."""
    if items is None:
        raise CSharpError("ArgumentNullException", "Value cannot be null. (Parameter 'array')")
    return _sequence(items)


def _index_of(items: Any, value: Any, *_: Any) -> int:
    """``Array.IndexOf``: the first position holding an equal value, else -1."""
    return next((i for i, item in enumerate(_array(items)) if item == value), -1)


def _find_index(items: Any, match: Callable[[Any], Any]) -> int:
    return next((i for i, item in enumerate(_array(items)) if match(item)), -1)


# System.Array's statics (Learn allows all of them); arrays are Python lists here.
_ARRAY_STATICS: dict[str, Callable[..., Any]] = {
    "IndexOf": _index_of,
    "LastIndexOf": lambda items, value: max(
        (i for i, item in enumerate(_array(items)) if item == value), default=-1
    ),
    "Exists": lambda items, match: any(match(item) for item in _array(items)),
    "TrueForAll": lambda items, match: all(match(item) for item in _array(items)),
    "Find": lambda items, match: next((i for i in _array(items) if match(i)), None),
    "FindAll": lambda items, match: [item for item in _array(items) if match(item)],
    "FindIndex": _find_index,
}


def _generic(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a static method as taking type arguments (``DeserializeObject<T>``)."""
    return _GenericStatic(fn)


def _try_parse(parse: Callable[..., Any], failed: Any = 0) -> Callable[..., Any]:
    """``T.TryParse(text, [format, provider, styles,] out T value)``: the out argument comes
    last; ``failed`` is what it holds when the text does not parse."""

    def attempt(text: Any, *rest: Any) -> bool:
        result = rest[-1] if rest else None
        try:
            value = parse(str(text), *rest[:1]) if len(rest) > 1 else parse(str(text))
        except CSharpError:
            value, ok = failed, False
        else:
            ok = True
        if isinstance(result, OutRef):
            result.value = value
        return ok

    return attempt


def _join(separator: Any, *values: Any) -> str:
    items: Iterable[Any] = (
        values[0] if len(values) == 1 and isinstance(values[0], list | tuple | JArray) else values
    )
    return cs_string(separator).join(cs_string(v) for v in items)


def _concat(*parts: Any) -> str:
    """``string.Concat``: its arguments, or the items of one array or list, joined."""
    if len(parts) == 1 and isinstance(parts[0], list | JArray):
        parts = tuple(parts[0].items if isinstance(parts[0], JArray) else parts[0])
    return "".join(cs_string(plain(part)) for part in parts)


def format_value(value: Any, spec: str | None, width: int | None = None) -> str:
    """An item of ``string.Format`` or an interpolated string: ``{value,width:spec}``."""
    if spec is None:
        text = cs_string(value)
    elif isinstance(value, JValue):
        return format_value(value.value, spec, width)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = format_number(value, spec)
    elif isinstance(value, datetime):
        text = format_datetime(value, spec)
    else:
        raise UnsupportedError(f"the format '{spec}' for {type_name(value)}")
    return text if width is None else align(text, width)


_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?:\s*,\s*(-?\d+))?(?::([^}]*))?\}")


def _format(pattern: str, *values: Any) -> str:
    """``string.Format``: items ``{index[,width][:format]}``; ``{{`` and ``}}`` are braces."""
    if len(values) == 1 and isinstance(values[0], list):
        values = tuple(values[0])  # Format(pattern, object[] args)

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group(0)[0]
        index = int(match.group(1))
        if index >= len(values):
            raise CSharpError(
                "FormatException",
                "Index (zero based) must be greater than or equal to zero and less than the "
                "size of the argument list.",
            )
        width = int(match.group(2)) if match.group(2) else None
        return format_value(values[index], match.group(3), width)

    return _FORMAT_ITEM.sub(replace, pattern)


def _round(value: float, digits: int = 0) -> float:
    return float(round(value, digits))  # banker's rounding, as .NET's default


def _html_encode(text: Any) -> str:
    """``WebUtility.HtmlEncode``: .NET writes an apostrophe as ``&#39;``."""
    return html.escape(str(text), quote=True).replace("&#x27;", "&#39;")


def static_types(
    now: Callable[[], datetime],
    new_guid: Callable[[], str],
    draw: Callable[[], float] | None = None,
) -> dict[str, StaticType]:
    """The static types an expression may name; time, GUIDs and ``new Random()``'s numbers
    (``draw``, uniform in [0, 1)) come from the simulation."""
    from apimgen.simulate.expr.hashing import hashing_types  # they build on this module
    from apimgen.simulate.expr.objects import Random, SystemUri, Tuple, ip_address_type
    from apimgen.simulate.expr.regexes import REGEX_OPTIONS, regex_type  # as do these
    from apimgen.simulate.expr.timezones import timezone_type

    unseeded = Random(draw or random.Random(0).random)
    random_type = StaticType(
        "Random", {}, construct=lambda *seed: Random.seeded(seed[0]) if seed else unseeded
    )
    string_type = StaticType(
        "string",
        {
            "IsNullOrEmpty": lambda s: s is None or s == "",
            "IsNullOrWhiteSpace": lambda s: s is None or str(s).strip() == "",
            "Join": _join,
            "Format": _format,
            "Concat": _concat,
            "Equals": lambda a, b, *c: (a.lower() == b.lower()) if _comparison([a, *c]) else a == b,
            "Empty": static_property(lambda: ""),
        },
    )
    int_type = StaticType(
        "int",
        {
            "Parse": _parse_int,
            "TryParse": _try_parse(_parse_int),
            "MaxValue": static_property(lambda: 2**31 - 1),
            "MinValue": static_property(lambda: -(2**31)),
        },
    )
    double_type = StaticType(
        "double", {"Parse": _parse_float, "TryParse": _try_parse(_parse_float)}
    )
    bool_type = StaticType("bool", {"Parse": lambda s: _parse_bool(str(s))})
    char_type = StaticType(
        "char",
        {
            # .NET's char tests, on the one-character strings chars are here
            "IsDigit": lambda c: str(c).isdecimal(),
            "IsNumber": lambda c: str(c).isnumeric(),
            "IsLetter": lambda c: str(c).isalpha(),
            "IsLetterOrDigit": lambda c: str(c).isalpha() or str(c).isdecimal(),
            "IsWhiteSpace": lambda c: str(c).isspace(),
            "IsUpper": lambda c: str(c).isupper(),
            "IsLower": lambda c: str(c).islower(),
            "IsPunctuation": lambda c: unicodedata.category(str(c)).startswith("P"),
            "ToUpper": lambda c: str(c).upper(),
            "ToLower": lambda c: str(c).lower(),
            "ToUpperInvariant": lambda c: str(c).upper(),
            "ToLowerInvariant": lambda c: str(c).lower(),
        },
    )
    math_type = StaticType(
        "Math",
        {
            "Min": min,
            "Max": max,
            "Abs": abs,
            "Ceiling": lambda v: float(math.ceil(v)),
            "Floor": lambda v: float(math.floor(v)),
            "Round": _round,
            "Pow": lambda a, b: float(a**b),
            "Sqrt": math.sqrt,
        },
    )
    # DateTime's statics are the ones Learn allows (names.ALLOWED_MEMBERS); DateTimeOffset
    # allows all of its members, so parsing with a format or without an exception is there.
    datetime_type = StaticType(
        "DateTime",
        {
            "UtcNow": static_property(now),
            "Now": static_property(lambda: local_reading(now())),
            "Today": static_property(lambda: datetime.combine(now().date(), time(), LOCAL)),
            "Parse": lambda text, *_: parse_datetime(str(text)),
            "MinValue": static_property(lambda: DAY_ONE.replace(tzinfo=UNSPECIFIED)),
            "MaxValue": static_property(
                lambda: datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UNSPECIFIED)
            ),
            "DaysInMonth": lambda year, month: calendar.monthrange(year, month)[1],
            "IsLeapYear": calendar.isleap,
        },
    )
    timespan_type = StaticType(
        "TimeSpan",
        {
            "FromSeconds": lambda v: timedelta(seconds=v),
            "FromMinutes": lambda v: timedelta(minutes=v),
            "FromHours": lambda v: timedelta(hours=v),
            "FromMilliseconds": lambda v: timedelta(milliseconds=v),
            "Zero": static_property(lambda: timedelta(0)),
            "Parse": lambda text: parse_timespan(str(text)),
        },
    )
    json_token = {
        "Parse": lambda text: from_json(str(text)),
        "FromObject": to_token,
    }
    utf8 = StaticType(
        "Encoding.UTF8",
        {
            "GetBytes": lambda s: list(str(s).encode("utf-8")),
            "GetString": lambda b: bytes(b).decode("utf-8"),
        },
    )
    types = {
        "string": string_type,
        "String": string_type,
        "int": int_type,
        "Int32": int_type,
        "long": int_type,
        "Int64": int_type,
        "double": double_type,
        "Double": double_type,
        "bool": bool_type,
        "Boolean": bool_type,
        "Math": math_type,
        "DateTime": datetime_type,
        "Random": random_type,
        # DateTimeOffset values are DateTimes here: the simulator's clock is UTC throughout
        "DateTimeOffset": StaticType(
            "DateTimeOffset",
            {
                "UtcNow": static_property(now),
                "Now": static_property(now),
                "Parse": lambda text, *_: parse_datetime(str(text)),
                "TryParse": _try_parse(parse_datetime, DAY_ONE),
                "ParseExact": lambda text, pattern, *_: parse_exact(str(text), str(pattern)),
                "TryParseExact": _try_parse(parse_exact, DAY_ONE),
                "FromUnixTimeSeconds": lambda n: (
                    datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=n)
                ),
                "FromUnixTimeMilliseconds": lambda n: (
                    datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=n)
                ),
            },
        ),
        "char": char_type,
        "Char": char_type,
        "Enumerable": StaticType(
            "Enumerable",
            {
                "Range": lambda start, count: list(range(start, start + count)),
                "Repeat": lambda value, count: [value] * count,
                "Empty": _generic(lambda type_args=(): []),
            },
        ),
        "Array": StaticType("Array", _ARRAY_STATICS),
        "JTokenType": _enum(
            "JTokenType",
            "Object",
            "Array",
            "Property",
            "String",
            "Integer",
            "Float",
            "Boolean",
            "Null",
        ),
        "DateTimeKind": _enum("DateTimeKind", "Utc"),
        "RegexOptions": _enum("RegexOptions", *REGEX_OPTIONS),
        "TimeSpan": timespan_type,
        "TimeZoneInfo": timezone_type(),
        "JObject": StaticType("JObject", json_token),
        "JArray": StaticType("JArray", json_token),
        "JToken": StaticType("JToken", json_token),
        "JsonConvert": StaticType(
            "JsonConvert",
            {
                "SerializeObject": lambda value, *_: newtonsoft_json(to_plain(value)),
                "DeserializeObject": _generic(lambda text, type_args=(): from_json(str(text))),
            },
        ),
        "Convert": StaticType(
            "Convert",
            {
                # a double rounds half to even, as .NET's Convert does (a cast truncates)
                "ToInt32": _convert_to_integer,
                "ToInt64": _convert_to_integer,
                "ToDouble": lambda v: float(v) if not isinstance(v, str) else _parse_float(v),
                "ToBoolean": lambda v: v if isinstance(v, bool) else _parse_bool(str(v)),
                "ToString": cs_string,
                "ToBase64String": lambda b: base64.b64encode(bytes(b)).decode("ascii"),
                "FromBase64String": lambda s: list(base64.b64decode(str(s))),
            },
        ),
        "Guid": StaticType(
            "Guid",
            {
                "NewGuid": lambda: Guid(uuid.UUID(new_guid())),
                "Parse": parse_guid,
                "TryParse": _try_parse(parse_guid, None),
                "Empty": static_property(lambda: Guid(uuid.UUID(int=0))),
            },
            construct=parse_guid,
        ),
        "Encoding": StaticType("Encoding", {"UTF8": static_property(lambda: utf8)}),
        "StringComparison": _enum(
            "StringComparison",
            "Ordinal",
            "OrdinalIgnoreCase",
            "InvariantCultureIgnoreCase",
            "CurrentCultureIgnoreCase",
            "InvariantCulture",
        ),
        "StringSplitOptions": _enum("StringSplitOptions", "RemoveEmptyEntries", "None"),
        "StringComparer": _enum(
            "StringComparer",
            "Ordinal",
            "OrdinalIgnoreCase",
            "InvariantCulture",
            "InvariantCultureIgnoreCase",
            "CurrentCulture",
            "CurrentCultureIgnoreCase",
        ),
        "Formatting": _enum("Formatting", "None", "Indented"),
        "WebUtility": StaticType(
            "WebUtility",
            {
                "UrlEncode": lambda text: quote_plus(str(text), safe="-_.!*()"),
                "UrlDecode": lambda text: unquote_plus(str(text)),
                "HtmlEncode": _html_encode,
                "HtmlDecode": lambda text: html.unescape(str(text)),
            },
        ),
        "Uri": StaticType(
            "Uri",
            {
                # RFC 3986: everything but the unreserved characters is escaped
                "EscapeDataString": lambda text: quote(str(text), safe="-_.~"),
                "UnescapeDataString": lambda text: unquote(str(text)),
            },
            construct=SystemUri,
        ),
        "Regex": regex_type(),
        "Tuple": StaticType("Tuple", {"Create": Tuple}, construct=Tuple),
        "IPAddress": ip_address_type(),
        **hashing_types(),
    }
    return types


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("true", "false"):
        raise CSharpError("FormatException", f"'{text}' is not a valid Boolean")
    return lowered == "true"


def static_type(name: str, types: dict[str, StaticType]) -> StaticType:
    found = types.get(name)
    if found is None:
        raise UnsupportedError(f"the type or name '{name}'")
    return found
