"""``ToString(format)`` on numbers, and the ``{0:format}`` items of ``string.Format`` and
interpolated strings: .NET's standard and custom numeric format strings.

Formats are written as the invariant culture writes them ("," between thousands, "." before
decimals). Those whose text depends on the gateway's culture, which Learn does not state
(currency "C", percent "P"), and custom patterns beyond digits, grouping and a decimal point,
are refused with their name rather than written in a guessed culture.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from apimgen.simulate.expr.values import CSharpError, Number, UnsupportedError, cs_string

__all__ = ["align", "format_number"]

_STANDARD = re.compile(r"([A-Za-z])(\d{0,2})")
_CUSTOM = re.compile(
    r"(?P<prefix>[^0#.,]*)(?P<digits>[0#,]*)(?:\.(?P<decimals>[0#]*))?(?P<suffix>.*)"
)


def format_number(value: Number, spec: str) -> str:
    """``value.ToString(spec)``."""
    if spec == "":
        return cs_string(value)
    standard = _STANDARD.fullmatch(spec)
    if standard:
        return _standard(value, standard.group(1), standard.group(2))
    return _custom(value, spec)


def align(text: str, width: int) -> str:
    """``{0,width}``: right-aligned in ``width`` characters, left-aligned when negative."""
    return text.rjust(width) if width >= 0 else text.ljust(-width)


def _standard(value: Number, letter: str, digits: str) -> str:
    kind = letter.upper()
    precision = int(digits) if digits else None
    integral = isinstance(value, int)
    if kind == "D":
        if not integral:
            raise CSharpError("FormatException", "Format specifier was invalid.")
        text = str(abs(value)).rjust(precision or 0, "0")
        return f"-{text}" if value < 0 else text
    if kind == "X":
        if not isinstance(value, int):
            raise CSharpError("FormatException", "Format specifier was invalid.")
        text = format(value if value >= 0 else value & 0xFFFFFFFF, "X" if letter == "X" else "x")
        return text.rjust(precision or 0, "0")
    if kind == "F":
        return _fixed(value, 2 if precision is None else precision)
    if kind == "N":
        return _grouped(_fixed(value, 2 if precision is None else precision))
    if kind == "E":
        text = format(value, f".{6 if precision is None else precision}{letter}")
        mantissa, exponent = text.split(letter)
        sign, number = exponent[0], exponent[1:]
        return f"{mantissa}{letter}{sign}{number.rjust(3, '0')}"
    if kind in ("G", "R") and precision is None:
        return cs_string(value)
    if kind == "G":
        text = format(value, f".{precision}{letter}")
        return text
    if kind in ("C", "P"):
        raise UnsupportedError(f"the culture-dependent number format '{letter}{digits}'")
    raise CSharpError("FormatException", f"Format specifier '{letter}{digits}' was invalid.")


def _fixed(value: Number, decimals: int) -> str:
    """Fixed point: the double's exact value rounded half away from zero, as .NET (Core 3.0
    and later) writes it: 0.5 gives "1", and 2.675, stored as 2.67499..., gives "2.67"."""
    quantum = Decimal(1).scaleb(-decimals)
    # A negative value that rounds to zero keeps its sign ("-0.00"), as .NET Core 3.0 and
    # later write it (IEEE 754); only a three-section custom format drops it there.
    return format(Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP), "f")


def _grouped(text: str) -> str:
    sign = "-" if text.startswith("-") else ""
    whole, _, fraction = text.lstrip("-").partition(".")
    grouped = f"{int(whole):,}"
    return f"{sign}{grouped}.{fraction}" if fraction else f"{sign}{grouped}"


def _custom(value: Number, spec: str) -> str:
    """Custom patterns of digits: ``0`` (a digit, zero when none), ``#`` (a digit when there
    is one), ``,`` between them (thousands), one ``.``; text before and after is kept."""
    pattern = _CUSTOM.fullmatch(spec)
    if pattern is None or not (pattern["digits"] or pattern["decimals"] is not None):
        raise UnsupportedError(f"the number format '{spec}'")
    prefix, digits, suffix = pattern["prefix"], pattern["digits"], pattern["suffix"]
    decimals = pattern["decimals"] or ""
    if re.search(r"[0#.,%‰Ee;\\'\"]", prefix + suffix):
        raise UnsupportedError(f"the number format '{spec}'")
    required, optional = decimals.count("0"), len(decimals)
    text = _fixed(value, optional)
    sign = "-" if text.startswith("-") else ""
    whole, _, fraction = text.lstrip("-").partition(".")
    fraction = fraction.rstrip("0").ljust(required, "0")
    minimum_whole = len(digits.replace(",", "").lstrip("#"))
    whole = whole.lstrip("0").rjust(minimum_whole, "0")
    if "," in digits and whole:
        whole = f"{int(whole):,}"
    body = whole + (f".{fraction}" if fraction else "")  # "" for 0 with "#.##", as in .NET
    return f"{prefix}{sign}{body}{suffix}"
