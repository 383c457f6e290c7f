"""Members and methods of the .NET types policy expressions may use (the APIM whitelist,
apim-genai-policies.md §9.3), implemented over the Python values of ``values.py``: property
reads, indexing and instance method calls. The static types (``int.Parse``,
``DateTime.UtcNow``) are in ``statics.py``.

A member or method that is not listed here raises UnsupportedError naming it: an expression the
simulator cannot evaluate faithfully must fail loudly, never evaluate to null.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, MutableMapping
from datetime import datetime, timedelta
from typing import Any

from apimgen.simulate.expr.collections import HashSet
from apimgen.simulate.expr.dates import datetime_method
from apimgen.simulate.expr.jwt import parse_basic, parse_jwt
from apimgen.simulate.expr.linq import (
    LINQ_METHODS,
    LIST_CHANGES,
    Grouping,
    change_list,
    element_at,
    linq_method,
)
from apimgen.simulate.expr.numbers import format_number
from apimgen.simulate.expr.typesystem import (
    DAYS_OF_WEEK,
    CSharpObject,
    Guid,
    StaticType,
    convert,
    sequence,
)
from apimgen.simulate.expr.values import (
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
    ticks,
    to_plain,
    type_name,
)

__all__ = ["asks_ignore_case", "call_method", "get_index", "get_member"]


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
        return element_at(target.items if isinstance(target, JArray) else target, key)
    if isinstance(target, dict):
        return _dict_item(target, key)
    if isinstance(target, CSharpObject) and hasattr(target, "__getitem__"):
        return target[key]
    raise UnsupportedError(f"indexing a {type_name(target)}")


def asks_ignore_case(args: list[Any]) -> bool:
    """True when a StringComparison argument asks to ignore case."""
    return any(isinstance(a, str) and a.endswith("IgnoreCase") for a in args[1:])


def _string_hash(text: str) -> int:
    """``string.GetHashCode()``: .NET randomises it per process, so no policy may rely on its
    value; here it is stable (CRC-32 of the UTF-16 text as a signed int), so runs repeat."""
    value = zlib.crc32(text.encode("utf-16-le"))
    return value - 2**32 if value >= 2**31 else value


def _string_method(text: str, name: str, args: list[Any]) -> Any:
    ignore = asks_ignore_case(args)
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
        "AsJwt": lambda: parse_jwt(text),
        "TryParseJwt": lambda: parse_jwt(text),
        "AsBasic": lambda: parse_basic(text),
        "TryParseBasic": lambda: parse_basic(text),
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
    if name in LINQ_METHODS:
        return linq_method(list(text), name, args)
    raise UnsupportedError(f"string.{name}()")


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
        if name in LINQ_METHODS:
            return linq_method(token.items, name, args)
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
    if name in LINQ_METHODS:
        return linq_method(sequence(mapping), name, args)
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
            if name in LINQ_METHODS and hasattr(target, "__iter__"):
                return linq_method(sequence(target), name, args)
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
        if isinstance(target, list) and name in LIST_CHANGES:
            return change_list(target, name, args)
        if name == "Join":
            raise UnsupportedError("list.Join()")
        return linq_method(list(target), name, args)
    if isinstance(target, int | float) and name == "CompareTo":
        return (target > args[0]) - (target < args[0])
    raise UnsupportedError(f"{type_name(target)}.{name}()")
