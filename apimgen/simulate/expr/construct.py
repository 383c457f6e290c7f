"""``new T(...)`` in expressions: the .NET types a policy may create, with their initializers,
and which exception types it may name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apimgen.simulate.expr.collections import CaseInsensitiveDictionary, HashSet, ignores_case
from apimgen.simulate.expr.names import QUALIFIED_NAMES
from apimgen.simulate.expr.objects import CSharpException, StringBuilder
from apimgen.simulate.expr.typesystem import KeyValue, StaticType
from apimgen.simulate.expr.values import (
    UNSPECIFIED,
    CSharpError,
    JArray,
    JObject,
    JProperty,
    JValue,
    UnsupportedError,
    cs_string,
    from_ticks,
    to_token,
)

__all__ = ["EXCEPTION_TYPES", "new_object"]


# Types `new` may name with their namespace: the static types', and those only ever created.
_QUALIFIED_CONSTRUCTORS = {
    **QUALIFIED_NAMES,
    "System.Text.StringBuilder": "StringBuilder", "System.Collections.Generic.List": "List",
    "System.Collections.Generic.HashSet": "HashSet",
    "System.Collections.Generic.Dictionary": "Dictionary",
    "Newtonsoft.Json.Linq.JProperty": "JProperty", "Newtonsoft.Json.Linq.JValue": "JValue",
}  # fmt: skip


def new_object(
    type_name_: str,
    args: list[Any],
    items: list[Any],
    members: dict[str, Any],
    statics: dict[str, StaticType],
) -> Any:
    type_name_ = _QUALIFIED_CONSTRUCTORS.get(type_name_, type_name_)
    static = statics.get(type_name_)
    if static is not None and static.construct is not None:
        return static.construct(*args)
    if type_name_ == "<anonymous>":
        return dict(members)
    if type_name_ == "<pair>":  # an initializer's { key, value }
        return KeyValue(args[0], args[1])
    if type_name_ == "JObject":
        obj = JObject()
        for arg in [*args, *items]:
            for prop in arg if isinstance(arg, list) else [arg]:
                if isinstance(prop, KeyValue):
                    obj.put(cs_string(prop.Key), prop.Value)
                elif isinstance(prop, JProperty):
                    obj.put(prop.name, prop.value)
                else:
                    raise UnsupportedError("new JObject() with something other than JProperty")
        return obj
    if type_name_ == "JProperty":
        return JProperty(str(args[0]), args[1] if len(args) > 1 else None)
    if type_name_ == "JArray":
        values = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        return JArray([to_token(v) for v in [*values, *items]])
    if type_name_ == "JValue":
        return JValue(args[0])
    if type_name_ in ("List", "HashSet", "Dictionary"):
        return _collection(type_name_, args, items)
    if type_name_ == "TimeSpan":
        return _new_timespan(args)
    if type_name_ == "DateTime":
        return _new_datetime(args)
    if type_name_ in ("string", "String"):  # new string(chars) or new string(c, count)
        if len(args) == 2 and isinstance(args[1], int):
            return cs_string(args[0]) * args[1]
        if len(args) == 1 and isinstance(args[0], list):
            return "".join(cs_string(c) for c in args[0])
        raise UnsupportedError(f"new string() with {len(args)} arguments")
    if type_name_ == "StringBuilder":
        return StringBuilder(*args[:1])
    if type_name_ in EXCEPTION_TYPES:
        message = cs_string(args[0]) if args else "Exception of type 'System.Exception' was thrown."
        return CSharpException("Exception", message)
    raise UnsupportedError(f"new {type_name_}()")


def _new_timespan(args: list[Any]) -> timedelta:
    """``new TimeSpan(ticks)``, ``(h, m, s)``, ``(d, h, m, s)`` or ``(d, h, m, s, ms)``."""
    if len(args) == 1:
        return timedelta(microseconds=args[0] / 10)
    names = {3: ("hours", "minutes", "seconds"), 4: ("days", "hours", "minutes", "seconds")}
    names[5] = (*names[4], "milliseconds")
    if len(args) not in names:
        raise UnsupportedError(f"new TimeSpan() with {len(args)} arguments")
    return timedelta(**dict(zip(names[len(args)], args, strict=True)))


_MAX_TICKS = 3_155_378_975_999_999_999  # DateTime.MaxValue.Ticks


def _new_datetime(args: list[Any]) -> datetime:
    """``new DateTime(y, M, d)``, with ``h, m, s`` and ``ms``, and a ``DateTimeKind.Utc``:
    every time in the simulator is on the UTC clock; without the Kind it is Unspecified."""
    kinds = [a for a in args if isinstance(a, str) and a.startswith("DateTimeKind.")]
    numbers = [a for a in args if a not in kinds]
    kind = UTC if kinds else UNSPECIFIED  # Learn allows DateTimeKind.Utc only
    if len(numbers) == 1 and isinstance(numbers[0], int):  # new DateTime(ticks)
        if not 0 <= numbers[0] <= _MAX_TICKS:
            raise CSharpError("ArgumentOutOfRangeException", "ticks out of range")
        return from_ticks(numbers[0])
    if len(numbers) not in (3, 6, 7):
        raise UnsupportedError(f"new DateTime() with {len(args)} arguments")
    try:
        moment = datetime(*numbers[:6], tzinfo=kind)  # type: ignore[misc]
    except (TypeError, ValueError) as error:
        raise CSharpError("ArgumentOutOfRangeException", str(error)) from None
    return moment + timedelta(milliseconds=numbers[6]) if len(numbers) == 7 else moment


# Of the exception types, Learn's list of types allowed in expressions has System.Exception
# only: APIM refuses a policy naming FormatException, so the simulator does too.
EXCEPTION_TYPES = ("Exception", "System.Exception")


def _collection(type_name_: str, args: list[Any], items: list[Any]) -> Any:
    """``new List<T>(...)``, ``new HashSet<T>(...)``, ``new Dictionary<K, V>(...)``: from a
    sequence or dictionary, a capacity (ignored), a ``StringComparer``, and an initializer."""
    comparers = [ignores_case(a) for a in args if ignores_case(a) is not None]
    ignore_case = bool(comparers and comparers[0])
    given = [a for a in args if ignores_case(a) is None and not isinstance(a, int)]
    if type_name_ == "Dictionary":
        if any(not isinstance(item, KeyValue) for item in items):
            raise UnsupportedError("a Dictionary initializer other than { key, value } pairs")
        copied = given[0] if given else {}
        if not isinstance(copied, dict):
            raise UnsupportedError("new Dictionary() from something other than a dictionary")
        made: dict[Any, Any] = CaseInsensitiveDictionary() if ignore_case else {}
        for key, value in copied.items():
            made[key] = value
        for item in items:
            if item.Key in made:  # an initializer's { key, value } calls Add
                raise CSharpError(
                    "ArgumentException", "An item with the same key has already been added."
                )
            made[item.Key] = item.Value
        return made
    sequence = [*(list(given[0]) if given else []), *items]
    if type_name_ == "HashSet":
        return HashSet(sequence, ignore_case=ignore_case)
    return sequence  # new List<T>(capacity) starts empty
