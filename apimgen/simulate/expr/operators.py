"""C# operators on expression values: arithmetic with C#'s whole-number rules, comparisons,
and the bool a condition must be."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from apimgen.simulate.expr.values import (
    CSharpError,
    JValue,
    Number,
    UnsupportedError,
    cs_string,
    type_name,
)

__all__ = ["arithmetic", "compare", "number", "plain", "to_bool"]


def number(value: Any, op: str) -> Number:
    if isinstance(value, JValue):
        value = value.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnsupportedError(f"operator {op} on {type_name(value)}")
    return value


def plain(value: Any) -> Any:
    return value.value if isinstance(value, JValue) else value


def arithmetic(op: str, left: Any, right: Any) -> Any:
    if op == "+" and (isinstance(left, str) or isinstance(right, str)):
        return cs_string(plain(left)) + cs_string(plain(right))
    if isinstance(left, datetime) and isinstance(right, timedelta):
        return left + right if op == "+" else left - right
    if isinstance(left, datetime) and isinstance(right, datetime) and op == "-":
        return left - right
    if isinstance(left, timedelta) and isinstance(right, timedelta) and op in "+-":
        return left + right if op == "+" else left - right
    a, b = number(left, op), number(right, op)
    integral = isinstance(a, int) and isinstance(b, int)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if integral and b == 0 and op in "/%":
        raise CSharpError("DivideByZeroException", "attempted to divide by zero")
    if integral:  # in whole numbers: a long's ticks are past a float's 53 bits
        quotient = abs(a) // abs(b) * (-1 if (a < 0) != (b < 0) else 1)  # toward zero, as C#
        return quotient if op == "/" else a - b * quotient
    if op == "/":
        return a / b if b else math.copysign(math.inf, a)
    return math.fmod(a, b)


def _ordered(a: Any, b: Any) -> bool:
    """Whether C# orders ``a`` and ``b`` with < and >: numbers, times (a clock reading is a
    time), durations."""
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    return (
        (isinstance(a, int | float) and isinstance(b, int | float))
        or (isinstance(a, datetime) and isinstance(b, datetime))
        or (isinstance(a, timedelta) and isinstance(b, timedelta))
    )


def compare(op: str, left: Any, right: Any) -> bool:
    a, b = plain(left), plain(right)
    if op == "==":
        return bool(a == b) and (type(a) is not bool or type(b) is bool)
    if op == "!=":
        return not compare("==", left, right)
    if not _ordered(a, b):
        raise UnsupportedError(f"operator {op} between {type_name(a)} and {type_name(b)}")
    return bool({"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op])


def to_bool(value: Any, op: str) -> bool:
    value = plain(value)
    if not isinstance(value, bool):
        raise UnsupportedError(f"operator {op} on {type_name(value)} (C# needs bool)")
    return value
