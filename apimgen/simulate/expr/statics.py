"""The static types an expression may name (``int.Parse``, ``DateTime.UtcNow``,
``JsonConvert``, ``Regex``, ...), their members, and ``string.Format``'s formatting.
Time, GUIDs and random numbers come from the simulation, so runs repeat."""

from __future__ import annotations

import base64
import calendar
import html
import math
import random
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from apimgen.simulate.expr.dates import format_datetime, parse_datetime, parse_exact, parse_timespan
from apimgen.simulate.expr.hashing import hashing_types
from apimgen.simulate.expr.members import asks_ignore_case
from apimgen.simulate.expr.numbers import align, format_number
from apimgen.simulate.expr.objects import Random, SystemUri, Tuple, ip_address_type
from apimgen.simulate.expr.operators import plain
from apimgen.simulate.expr.regexes import REGEX_OPTIONS, regex_type
from apimgen.simulate.expr.timezones import timezone_type
from apimgen.simulate.expr.typesystem import (
    Guid,
    StaticType,
    convert,
    generic_static,
    parse_float,
    parse_guid,
    parse_int,
    sequence,
    static_property,
)
from apimgen.simulate.expr.values import (
    DAY_ONE,
    LOCAL,
    UNSPECIFIED,
    CSharpError,
    EnumValue,
    JArray,
    JValue,
    OutRef,
    UnsupportedError,
    cs_string,
    from_json,
    local_reading,
    newtonsoft_json,
    to_plain,
    to_token,
    type_name,
)

__all__ = ["format_value", "static_type", "static_types"]


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


def _array(items: Any) -> list[Any]:
    """An array argument of ``Array``'s statics: null is .NET's ArgumentNullException."""
    if items is None:
        raise CSharpError("ArgumentNullException", "Value cannot be null. (Parameter 'array')")
    return sequence(items)


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


def _convert_to_integer(value: Any) -> int:
    """``Convert.ToInt32``/``ToInt64``: a double rounds half to even, as .NET's Convert does
    (a cast truncates), and a string is parsed (a cast refuses it)."""
    if isinstance(value, float):
        return round(value)
    if isinstance(value, str):
        return parse_int(value)
    return int(convert(value, "long"))


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
            "Equals": lambda a, b, *c: (
                (a.lower() == b.lower()) if asks_ignore_case([a, *c]) else a == b
            ),
            "Empty": static_property(lambda: ""),
        },
    )
    int_type = StaticType(
        "int",
        {
            "Parse": parse_int,
            "TryParse": _try_parse(parse_int),
            "MaxValue": static_property(lambda: 2**31 - 1),
            "MinValue": static_property(lambda: -(2**31)),
        },
    )
    double_type = StaticType("double", {"Parse": parse_float, "TryParse": _try_parse(parse_float)})
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
                "Empty": generic_static(lambda type_args=(): []),
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
                "DeserializeObject": generic_static(
                    lambda text, type_args=(): from_json(str(text))
                ),
            },
        ),
        "Convert": StaticType(
            "Convert",
            {
                # a double rounds half to even, as .NET's Convert does (a cast truncates)
                "ToInt32": _convert_to_integer,
                "ToInt64": _convert_to_integer,
                "ToDouble": lambda v: float(v) if not isinstance(v, str) else parse_float(v),
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
