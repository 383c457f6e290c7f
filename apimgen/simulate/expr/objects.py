"""Small .NET objects an expression may create and change: ``StringBuilder``, ``Random``, and
the exceptions a ``catch`` receives or a ``throw`` raises."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from typing import Any

from apimgen.simulate.expr.typesystem import CSharpObject, StaticType
from apimgen.simulate.expr.values import CSharpError, OutRef, cs_string

__all__ = [
    "CSharpException",
    "IPAddress",
    "Random",
    "StringBuilder",
    "SystemUri",
    "Tuple",
    "ip_address_type",
]


class StringBuilder(CSharpObject):
    """``System.Text.StringBuilder``: appends return the builder, so calls chain."""

    csharp_name = "StringBuilder"

    def __init__(self, initial: Any = None) -> None:
        self._parts: list[str] = [cs_string(initial)] if isinstance(initial, str) else []

    def Append(self, value: Any) -> StringBuilder:
        self._parts.append(cs_string(value))
        return self

    def AppendLine(self, value: Any = "") -> StringBuilder:
        self._parts.append(cs_string(value) + "\r\n")  # Environment.NewLine on the gateway
        return self

    def Clear(self) -> StringBuilder:
        self._parts.clear()
        return self

    @property
    def Length(self) -> int:
        return sum(len(part) for part in self._parts)

    def ToString(self) -> str:
        return "".join(self._parts)


class Random(CSharpObject):
    """``System.Random``. Unseeded, it draws from the run's own random stream, so a policy
    that picks a backend at random (``new Random().Next(0, n)``) gives the same picks for the
    same seed; seeded, from a stream of its own. The numbers are not .NET's for a seed: no
    policy should depend on those."""

    csharp_name = "Random"

    def __init__(self, draw: Callable[[], float]) -> None:
        self._draw = draw

    @classmethod
    def seeded(cls, seed: int) -> Random:
        return cls(random.Random(seed).random)

    def Next(self, *bounds: int) -> int:
        low, high = (0, 2**31 - 1) if not bounds else (0, bounds[0]) if len(bounds) == 1 else bounds
        if high < low or (len(bounds) == 1 and high < 0):
            raise CSharpError("ArgumentOutOfRangeException", f"Next({', '.join(map(str, bounds))})")
        return low + int(self._draw() * (high - low))

    def NextDouble(self) -> float:
        return self._draw()


class CSharpException(CSharpObject):
    """An exception as a ``catch (Exception e)`` sees it: its type and ``Message``."""

    csharp_name = "Exception"

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        self.Message = message
        self.InnerException = None

    def ToString(self) -> str:
        return f"System.{self.kind}: {self.Message}"


class Tuple(CSharpObject):
    """``System.Tuple``: ``Tuple.Create(a, b)`` or ``new Tuple<A, B>(a, b)``, read through
    ``Item1`` to ``Item7``, written ``(a, b)``."""

    csharp_name = "Tuple"

    def __init__(self, *items: Any) -> None:
        if not 1 <= len(items) <= 7:
            raise CSharpError("ArgumentException", "a Tuple holds one to seven items")
        self._items = items

    def __getattr__(self, name: str) -> Any:
        if (
            name.startswith("Item")
            and name[4:].isdigit()
            and 1 <= int(name[4:]) <= len(self._items)
        ):
            return self._items[int(name[4:]) - 1]
        raise AttributeError(name)

    def Equals(self, other: Any) -> bool:
        """Item by item; ``==`` compares references, as for any .NET class."""
        return isinstance(other, Tuple) and self._items == other._items

    def ToString(self) -> str:
        return "(" + ", ".join(cs_string(item) for item in self._items) + ")"


class IPAddress(CSharpObject):
    """``System.Net.IPAddress`` (Learn allows all its members): policies parse the caller's
    ``IpAddress`` to compare it or read its bytes."""

    csharp_name = "IPAddress"

    def __init__(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
        self._address = address

    def GetAddressBytes(self) -> list[int]:
        return list(self._address.packed)

    def Equals(self, other: Any) -> bool:
        return isinstance(other, IPAddress) and self._address == other._address

    @property
    def IsIPv4MappedToIPv6(self) -> bool:
        return isinstance(self._address, ipaddress.IPv6Address) and (
            self._address.ipv4_mapped is not None
        )

    def MapToIPv4(self) -> IPAddress:
        mapped = getattr(self._address, "ipv4_mapped", None)
        return IPAddress(mapped) if mapped is not None else self

    def ToString(self) -> str:
        return str(self._address)


def _parse_ip(text: Any) -> IPAddress:
    if text is None:
        raise CSharpError("ArgumentNullException", "Value cannot be null. (Parameter 'ipString')")
    try:
        return IPAddress(ipaddress.ip_address(str(text).strip()))
    except ValueError:
        raise CSharpError("FormatException", "An invalid IP address was specified.") from None


def _try_parse_ip(text: Any, result: Any = None) -> bool:
    try:
        parsed: IPAddress | None = _parse_ip(text)
    except CSharpError:
        parsed = None
    if isinstance(result, OutRef):
        result.value = parsed
    return parsed is not None


def ip_address_type() -> StaticType:
    """``IPAddress``'s statics."""
    return StaticType(
        "IPAddress",
        {
            "Parse": _parse_ip,
            "TryParse": _try_parse_ip,
            "IsLoopback": lambda address: address._address.is_loopback,
        },
    )


class SystemUri(CSharpObject):
    """``System.Uri``, as ``context.Request.Url.ToUri()`` and ``new Uri(text)`` give it: the
    parts policies read (host, path, query, segments), worked out once."""

    csharp_name = "Uri"

    def __init__(self, text: Any) -> None:
        from urllib.parse import urlsplit

        if not isinstance(text, str):
            raise CSharpError("ArgumentNullException", "a URI string is required")
        try:
            parts = urlsplit(text.strip())
            port = parts.port
        except ValueError:
            parts, port = None, None
        if parts is None or not parts.scheme or not parts.netloc:
            raise CSharpError(
                "UriFormatException", "Invalid URI: The format of the URI could not be determined."
            )
        self.OriginalString = text
        self.Scheme = parts.scheme.lower()
        self.Host = (parts.hostname or "").lower()
        default_port = {"https": 443, "http": 80}.get(self.Scheme, -1)
        self.Port = port if port is not None else default_port
        self.IsDefaultPort = self.Port == default_port
        self.Authority = self.Host if self.IsDefaultPort else f"{self.Host}:{self.Port}"
        self.AbsolutePath = parts.path or "/"
        self.Query = f"?{parts.query}" if parts.query else ""
        self.Fragment = f"#{parts.fragment}" if parts.fragment else ""
        self.PathAndQuery = self.AbsolutePath + self.Query
        self.AbsoluteUri = f"{self.Scheme}://{self.Authority}{self.PathAndQuery}{self.Fragment}"
        # "/openai/deployments/x" → ["/", "openai/", "deployments/", "x"], as .NET splits it
        pieces = self.AbsolutePath.split("/")
        self.Segments = (
            ["/"] + [f"{p}/" for p in pieces[1:-1]] + ([pieces[-1]] if pieces[-1] else [])
        )

    def ToString(self) -> str:
        return self.AbsoluteUri
