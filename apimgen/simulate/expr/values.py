"""Runtime values of policy expressions: Newtonsoft JSON tokens, C# string conversion, and the
two errors evaluation can raise.

C# values map onto Python ones: string → str, int/long → int, double → float, bool → bool,
null → None, DateTime → datetime (UTC), TimeSpan → timedelta, arrays and lists → list,
dictionaries → dict. JSON bodies are JObject/JArray/JValue wrappers so that Newtonsoft's API
(``Value<T>``, ``SelectToken``, ``ToString()``) behaves as in APIM.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from mypy_extensions import mypyc_attr

__all__ = [
    "DAY_ONE",
    "LOCAL",
    "UNSPECIFIED",
    "CSharpError",
    "ClockReading",
    "JArray",
    "JObject",
    "JProperty",
    "JToken",
    "JValue",
    "Number",
    "OutRef",
    "UnsupportedError",
    "clone_token",
    "cs_string",
    "from_json",
    "from_ticks",
    "kind_suffix",
    "local_reading",
    "newtonsoft_json",
    "snapshot",
    "ticks",
    "to_plain",
    "to_token",
    "type_name",
]

# A C# int, long or double: a Python int or float, kept apart. Not ``int | float``: mypy reads
# that as float, and compiled (native.py) code would turn every int passed as one into a float.
Number = Any


class CSharpError(Exception):
    """A runtime exception C# would throw (APIM routes the request to on-error)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class UnsupportedError(Exception):
    """A construct the simulator does not model; never silently evaluated as null."""


@mypyc_attr(native_class=False)  # a builtin subclass (native.py)
class EnumValue(str):
    """A .NET enum member, ``JTokenType.Object`` say: equal to others of its type and name,
    and written as its bare name (``Object``), as ``ToString()`` writes it."""

    __slots__ = ()

    def __str__(self) -> str:
        return self.rsplit(".", 1)[-1]


DAY_ONE = datetime(1, 1, 1, tzinfo=UTC)

# A DateTime's Kind, where it shows: every time is on the gateway's UTC clock (offset zero),
# but Newtonsoft writes a Utc time with "Z", a Local one with the zone's "+00:00" and an
# Unspecified one with nothing, and JSON read back keeps what it said.
UNSPECIFIED = timezone(timedelta(0), "Unspecified")
LOCAL = timezone(timedelta(0), "Local")


def kind_suffix(moment: datetime) -> str:
    """The zone a round-trip format (``o``, ``K``, JSON) writes for ``moment``'s Kind."""
    kind = moment.tzname()  # by name: a copied zone is another object
    if kind == "Unspecified":
        return ""
    if kind == "Local":
        return "+00:00"
    return "Z" if moment.utcoffset() == timedelta(0) else ""


@mypyc_attr(native_class=False)  # a builtin subclass (native.py)
class ClockReading(datetime):
    """``DateTime.UtcNow`` as read from the virtual clock.

    A datetime keeps microseconds, a .NET DateTime ticks of 100 ns: the last digit of Ticks
    would always be 0, and on a virtual clock constant arrivals fall on whole seconds, so
    ``DateTime.Now.Ticks % n`` (a published way to spread calls over n backends) would pick
    one backend forever. A real clock's lowest digit is noise; here it is drawn from the
    instant (a hash, so a run stays reproducible). Times built by ``new DateTime`` or
    arithmetic are plain datetimes with exact ticks."""

    lowest_tick: int = 0

    @classmethod
    def at(cls, moment: datetime) -> ClockReading:
        reading = cls(
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
            moment.second,
            moment.microsecond,
            tzinfo=moment.tzinfo,
        )
        reading.lowest_tick = zlib.crc32(moment.isoformat().encode()) % 10
        return reading

    def as_local(self) -> ClockReading:
        """The same reading as ``DateTime.Now`` gives it: Kind Local, the same ticks."""
        reading = ClockReading(
            self.year, self.month, self.day, self.hour, self.minute, self.second,
            self.microsecond, tzinfo=LOCAL,
        )  # fmt: skip
        reading.lowest_tick = self.lowest_tick
        return reading


def local_reading(moment: datetime) -> datetime:
    """``moment`` as Kind Local, a clock reading's lowest tick kept."""
    if isinstance(moment, ClockReading):
        return moment.as_local()
    return moment.replace(tzinfo=LOCAL)


def ticks(moment: datetime) -> int:
    """``DateTime.Ticks``: 100-ns intervals since 0001-01-01, in whole numbers (a float of
    seconds times 10^7 would round them to multiples of 128)."""
    since = moment - DAY_ONE
    exact = (since.days * 86_400 + since.seconds) * 10**7 + since.microseconds * 10
    return exact + (moment.lowest_tick if isinstance(moment, ClockReading) else 0)


def from_ticks(count: int) -> datetime:
    """``new DateTime(ticks)``, to the microsecond a datetime keeps; Kind Unspecified."""
    return (DAY_ONE + timedelta(microseconds=count // 10)).replace(tzinfo=UNSPECIFIED)


class OutRef:
    """An ``out`` argument: the callee stores its result in ``value``."""

    def __init__(self) -> None:
        self.value: Any = None


class JToken:
    """Base of Newtonsoft's JSON token types. A token knows the container holding it: adding
    one that already has a parent to another container adds a copy (Newtonsoft's JContainer),
    so a token read out of one document and put into another is two tokens, not one."""

    parent: JToken | None

    def to_json(self, indent: bool = True) -> str:
        """As Newtonsoft writes it: two-space indents, or ``Formatting.None``'s no spaces."""
        return newtonsoft_json(to_plain(self), indent=indent)

    def __str__(self) -> str:
        return self.to_json()


class JValue(JToken):
    def __init__(self, value: Any) -> None:
        self.parent = None
        self.value = value

    def __str__(self) -> str:
        return cs_string(self.value)

    def __eq__(self, other: object) -> bool:
        other_value = other.value if isinstance(other, JValue) else other
        return bool(self.value == other_value)

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"JValue({self.value!r})"


class JObject(JToken):
    def __init__(self, items: dict[str, JToken] | None = None) -> None:
        self.parent = None
        self.items: dict[str, JToken] = items if items is not None else {}
        for key, child in self.items.items():
            self.items[key] = _adopted(self, child)

    def get(self, key: str) -> JToken | None:
        return self.items.get(key)

    def put(self, key: str, value: Any) -> None:
        """``obj[key] = value``: the value (a copy when another container holds it) replaces
        the old one, which no longer has a parent."""
        old = self.items.get(key)
        token = _adopted(self, to_token(value))
        if old is not None and old is not token:
            old.parent = None
        self.items[key] = token

    def remove(self, key: str) -> bool:
        old = self.items.pop(key, None)
        if old is None:
            return False
        old.parent = None
        return True

    def __iter__(self) -> Iterator[JProperty]:
        return (JProperty(k, v) for k, v in self.items.items())

    def __repr__(self) -> str:
        return f"JObject({self.to_json(indent=False)})"


class JArray(JToken):
    def __init__(self, items: list[JToken] | None = None) -> None:
        self.parent = None
        self.items: list[JToken] = items if items is not None else []
        for index, child in enumerate(self.items):
            self.items[index] = _adopted(self, child)

    def append(self, value: Any) -> None:
        """``Add``: the value, or a copy when another container holds it."""
        self.items.append(_adopted(self, to_token(value)))

    def put(self, index: int, value: Any) -> None:
        """``array[index] = value``, as ``put`` on an object."""
        old = self.items[index]
        token = _adopted(self, to_token(value))
        if old is not token:
            old.parent = None
        self.items[index] = token

    def __iter__(self) -> Iterator[JToken]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"JArray({self.to_json(indent=False)})"


class JProperty(JToken):
    """A name and its value; the value's container is the object the property is added to
    (a property made while reading an object refers to that object's own value)."""

    def __init__(self, name: str, value: Any) -> None:
        self.parent = None
        self.name = name
        self.value = to_token(value)

    def __repr__(self) -> str:
        return f"JProperty({self.name!r}, {self.value!r})"


def _adopted(container: JToken, token: JToken) -> JToken:
    """``token`` as ``container``'s child: itself, or its copy when another container
    already holds it."""
    if token.parent is not None and token.parent is not container:
        token = clone_token(token)
    token.parent = container
    return token


def clone_token(token: JToken) -> JToken:
    """``DeepClone()``: the same JSON, sharing nothing, with no parent."""
    if isinstance(token, JObject):
        return JObject({key: clone_token(child) for key, child in token.items.items()})
    if isinstance(token, JArray):
        return JArray([clone_token(child) for child in token.items])
    if isinstance(token, JProperty):
        return JProperty(token.name, clone_token(token.value))
    if isinstance(token, JValue):
        return JValue(token.value)
    return token


def snapshot(value: Any) -> Any:
    """A value as a cache keeps it: JSON tokens and collections copied, so neither a later
    change to what was stored nor one to what a lookup returned reaches the cache."""
    if isinstance(value, JToken):
        return clone_token(value)
    if isinstance(value, list):
        return [snapshot(item) for item in value]
    if isinstance(value, dict):
        return {key: snapshot(item) for key, item in value.items()}
    return value


def to_token(value: Any) -> JToken:
    """A Python/JSON value as a JSON token (tokens pass through)."""
    if isinstance(value, JToken):
        return value
    if isinstance(value, dict):
        return JObject({str(k): to_token(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return JArray([to_token(v) for v in value])
    return JValue(value)


def to_plain(value: Any) -> Any:
    """A JSON token as plain Python data (for serialisation and comparisons)."""
    if isinstance(value, JObject):
        return {k: to_plain(v) for k, v in value.items.items()}
    if isinstance(value, JArray):
        return [to_plain(v) for v in value.items]
    if isinstance(value, JValue):
        return value.value
    if isinstance(value, JProperty):
        return {value.name: to_plain(value.value)}
    return value


def newtonsoft_json(value: Any, *, indent: bool = False) -> str:
    """Plain data as Newtonsoft serialises it: dates in ISO 8601 (``Z`` for UTC), time spans
    as ``hh:mm:ss``; anything else it cannot write is a JsonSerializationException."""
    try:
        if indent:
            return json.dumps(value, indent=2, ensure_ascii=False, default=_json_scalar)
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_scalar)
    except (TypeError, ValueError) as error:
        raise CSharpError("JsonSerializationException", str(error)) from None


def _json_scalar(value: Any) -> str:
    if isinstance(value, datetime):
        text = f"{value.year:04d}-" + value.strftime("%m-%dT%H:%M:%S")
        if value.microsecond:
            text += "." + f"{value.microsecond:06d}".rstrip("0")
        return text + kind_suffix(value)
    if isinstance(value, timedelta):
        return cs_string(value)
    if getattr(value, "csharp_name", None) == "Guid":  # Newtonsoft writes the D form
        return cs_string(value)
    raise TypeError(f"a {type_name(value)} cannot be written as JSON")


def from_json(text: str) -> JToken:
    """JSON read as Newtonsoft's default reader reads it (``JObject.Parse``, ``Body.As``):
    a string in ISO 8601 date form becomes a Date token holding a DateTime."""
    try:
        return _read_token(json.loads(text))
    except json.JSONDecodeError as error:
        raise CSharpError("JsonReaderException", f"invalid JSON: {error.msg}") from None


def _read_token(value: Any) -> JToken:
    if isinstance(value, dict):
        return JObject({str(k): _read_token(v) for k, v in value.items()})
    if isinstance(value, list):
        return JArray([_read_token(v) for v in value])
    if isinstance(value, str):
        return JValue(json_date(value) or value)
    return JValue(value)


# Newtonsoft's ISO form (DateTimeParser): yyyy-MM-ddTHH:mm:ss, up to seven fraction digits,
# then Z, an offset (+HH, +HHmm, +HH:mm) or nothing.
_ISO_DATE = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,7}))?"
    r"(?:(Z)|([+-])(\d\d)(?::?(\d\d))?)?"
)


def json_date(text: str) -> datetime | None:
    """The DateTime Newtonsoft's reader (DateParseHandling.DateTime, its default) makes of a
    JSON string, or None when it stays a string. Kind as RoundtripKind gives it: Z → Utc, no
    zone → Unspecified, an offset → the instant in the gateway's local zone (UTC)."""
    if not 19 <= len(text) <= 40 or text[10:11] != "T" or not text[0].isdigit():
        return None  # the reader's own quick test, before it parses
    found = _ISO_DATE.fullmatch(text)
    if found is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, zone_h, zone_m = found.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second),
            int(((fraction or "") + "000000")[:6]),
        )  # fmt: skip
    except ValueError:
        return None
    if zulu:
        return moment.replace(tzinfo=UTC)
    if sign is None:
        return moment.replace(tzinfo=UNSPECIFIED)
    offset = timedelta(hours=int(zone_h), minutes=int(zone_m or 0))
    return (moment - offset if sign == "+" else moment + offset).replace(tzinfo=LOCAL)


def cs_string(value: Any) -> str:
    """What C#'s ``ToString()`` or string concatenation produces for ``value``."""
    if type(value) is str:  # most values are strings already
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return _double_text(value)
    if isinstance(value, datetime):
        return value.strftime("%-m/%-d/%Y %-I:%M:%S %p")
    if isinstance(value, timedelta):
        total = int(value.total_seconds())
        hours, rest = divmod(total, 3600)
        return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    if isinstance(value, list):
        return "System.Collections.Generic.List`1[System.Object]"
    to_string = getattr(value, "ToString", None)
    if callable(to_string):  # a context object with its own ToString (Url, StringBuilder)
        return str(to_string())
    csharp_name = getattr(value, "csharp_name", None)
    if csharp_name is not None:  # .NET writes an object without one as its type's name
        return str(csharp_name)
    return str(value)


def _double_text(value: float) -> str:
    """A double as .NET (Core 3.0 and later) writes it: the shortest text that reads back the
    same, in E-notation from 1E+15 up and from 1E-05 down (``1E+21``, ``1E-05``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == 0:
        return "0" if math.copysign(1, value) > 0 else "-0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    scientific = len(digits) - 1 + exponent  # the power of ten of the first digit
    minus = "-" if sign else ""
    if -4 <= scientific < 15:
        return minus + format(Decimal(f"{text}E{exponent}"), "f")
    mantissa = text[0] + (f".{text[1:]}" if len(text) > 1 else "")
    return f"{minus}{mantissa}E{'+' if scientific >= 0 else '-'}{abs(scientific):02d}"


def type_name(value: Any) -> str:
    """The C# type name of a runtime value, for error messages and ``is`` tests."""
    names = {
        bool: "bool",
        int: "int",
        float: "double",
        str: "string",
        datetime: "DateTime",
        timedelta: "TimeSpan",
        list: "List",
        dict: "Dictionary",
    }
    if value is None:
        return "null"
    if isinstance(value, datetime):  # a ClockReading too
        return "DateTime"
    for python_type, name in names.items():
        if type(value) is python_type:
            return name
    return type(value).__name__
