"""Small .NET objects an expression may create and change: ``StringBuilder``."""

from __future__ import annotations

from typing import Any

from apimgen.simulate.expr.members import CSharpObject
from apimgen.simulate.expr.values import cs_string

__all__ = ["StringBuilder"]


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
