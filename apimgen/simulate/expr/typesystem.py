"""The .NET type system as policy expressions meet it: the base of the simulator's objects,
static types and their members, and the casts and type tests between them.

Everything else in the expression runtime builds on this module (the members and methods,
LINQ, the static types, the objects a policy may make); it imports none of them, so the
arrows run one way.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar

from apimgen.simulate.expr.dates import parse_datetime
from apimgen.simulate.expr.values import (
    CSharpError,
    EnumValue,
    JArray,
    JObject,
    JToken,
    JValue,
    UnsupportedError,
    cs_string,
    type_name,
)

__all__ = [
    "DAYS_OF_WEEK",
    "ENUM_NUMBERS",
    "CSharpObject",
    "Guid",
    "KeyValue",
    "StaticType",
    "convert",
    "default_of",
    "generic_static",
    "is_instance",
    "parse_float",
    "parse_guid",
    "parse_int",
    "sequence",
    "static_property",
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


def sequence(value: Any) -> list[Any]:
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


def generic_static(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a static method as taking type arguments (``DeserializeObject<T>``)."""
    return _GenericStatic(fn)


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
            return parse_int(value)
    if target in _REAL:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and from_token:
            return parse_float(value)
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


def parse_int(text: str) -> int:
    if text is None:
        raise CSharpError("ArgumentNullException", "the string to parse is null")
    try:
        return int(text.strip())
    except ValueError:
        raise CSharpError(
            "FormatException", f"the input string '{text}' was not in a correct format"
        ) from None


def parse_float(text: str) -> float:
    if text is None:
        raise CSharpError("ArgumentNullException", "the string to parse is null")
    try:
        return float(text.strip())
    except ValueError:
        raise CSharpError(
            "FormatException", f"the input string '{text}' was not in a correct format"
        ) from None
