"""``DateTime`` in policy expressions: its methods, .NET's date format strings for writing
times, and ``Parse``/``ParseExact`` for reading them.

Every time is on the gateway's UTC clock (values.py: a DateTime is a UTC datetime); formats
whose output depends on the gateway's culture, which Learn does not state, are refused by
name rather than written in a guessed culture.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from apimgen.simulate.clock import in_utc
from apimgen.simulate.expr.values import (
    LOCAL,
    UNSPECIFIED,
    CSharpError,
    UnsupportedError,
    cs_string,
    kind_suffix,
)

__all__ = [
    "datetime_method",
    "format_datetime",
    "parse_datetime",
    "parse_exact",
    "parse_timespan",
]


def datetime_method(moment: datetime, name: str, args: list[Any]) -> Any:
    units = {
        "AddSeconds": "seconds",
        "AddMinutes": "minutes",
        "AddHours": "hours",
        "AddDays": "days",
        "AddMilliseconds": "milliseconds",
    }
    if name in units:
        return moment + timedelta(**{units[name]: args[0]})
    if name in ("AddMonths", "AddYears"):
        months = int(args[0]) * (12 if name == "AddYears" else 1)
        return _add_months(moment, months)
    if name == "ToUnixTimeSeconds":
        return int(moment.timestamp())
    if name == "ToUnixTimeMilliseconds":
        return int(moment.timestamp() * 1000)
    if name == "Add":
        return moment + args[0]
    if name == "Subtract":
        return moment - args[0]
    if name == "AddTicks":  # a tick is 100 ns; a datetime keeps whole microseconds
        return moment + timedelta(microseconds=int(args[0]) / 10)
    if name == "IsDaylightSavingTime":
        return False  # UTC has no daylight saving
    if name in ("ToUniversalTime", "ToLocalTime"):
        # times here are UTC, and so is the gateway's local zone: only the Kind changes
        return moment.replace(tzinfo=UTC if name == "ToUniversalTime" else LOCAL)
    if name == "ToString":
        if not args:
            return cs_string(moment)
        return format_datetime(moment, str(args[0]))
    raise UnsupportedError(f"DateTime.{name}()")


def _add_months(moment: datetime, months: int) -> datetime:
    """.NET's ``AddMonths``: the same day in the month ``months`` on, or that month's last
    day when it is shorter (January 31 plus a month is February 28 or 29)."""
    import calendar

    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise CSharpError(
            "ArgumentOutOfRangeException", "the added months leave the DateTime range"
        )
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    # a plain datetime, as arithmetic gives: a clock reading's lowest tick digit stays behind
    return datetime.combine(
        moment.date().replace(year=year, month=month + 1, day=day), moment.timetz()
    )


# Standard formats whose output no culture changes; the rest (d, D, t, T, g, G, ...) depend on
# the gateway's culture, which Learn does not state, so they stay unsupported.
_STANDARD_FORMATS = {
    "o": "yyyy-MM-ddTHH:mm:ss.fffffffK",
    "O": "yyyy-MM-ddTHH:mm:ss.fffffffK",
    "s": "yyyy-MM-ddTHH:mm:ss",
    "u": "yyyy-MM-dd HH:mm:ssZ",
    "R": "ddd, dd MMM yyyy HH:mm:ss 'GMT'",
    "r": "ddd, dd MMM yyyy HH:mm:ss 'GMT'",
}
_SPECIFIERS = frozenset("dfFghHKmMstyz")


_NOT_A_TIME = "String was not recognized as a valid DateTime."


# The invariant (and en-US) culture's own form: month/day/year, then an optional time with an
# optional AM/PM; what Newtonsoft's (string) of a JSON date gives, so it parses back.
_CULTURE_DATE = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp][Mm]))?)?"
)


def parse_datetime(text: str) -> datetime:
    """``DateTime.Parse``: ISO 8601 (``2026-01-05T09:00:00Z``, ``2026-01-05 09:00``), the
    culture's ``01/05/2026 09:00:00`` and the RFC 1123 form HTTP headers carry (``Mon, 05 Jan
    2026 09:00:00 GMT``)."""
    from email.utils import parsedate_to_datetime

    stripped = text.strip()
    try:
        parsed = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        pass
    else:  # .NET: a time with a zone becomes local time (Kind Local); one without, Unspecified
        return in_utc(parsed).replace(tzinfo=LOCAL if parsed.tzinfo else UNSPECIFIED)
    found = _CULTURE_DATE.fullmatch(stripped)
    if found is not None:
        month, day, year, hour, minute, second, half = found.groups()
        hours = int(hour or 0)
        if half is not None:
            if not 1 <= hours <= 12:
                raise CSharpError("FormatException", _NOT_A_TIME)
            hours = hours % 12 + (12 if half.upper() == "PM" else 0)
        try:
            moment = datetime(
                int(year), int(month), int(day), hours, int(minute or 0), int(second or 0)
            )
        except ValueError:
            raise CSharpError("FormatException", _NOT_A_TIME) from None
        return moment.replace(tzinfo=UNSPECIFIED)
    try:
        return in_utc(parsedate_to_datetime(stripped)).replace(tzinfo=LOCAL)
    except (TypeError, ValueError, IndexError):
        raise CSharpError("FormatException", _NOT_A_TIME) from None


_TIMESPAN = re.compile(
    r"(?P<sign>-)?(?:(?P<days>\d+)\.)?(?P<hours>\d{1,2}):(?P<minutes>\d{1,2})"
    r"(?::(?P<seconds>\d{1,2})(?:\.(?P<fraction>\d{1,7}))?)?"
)


def parse_timespan(text: str) -> timedelta:
    """``TimeSpan.Parse`` in the invariant form: ``[-][d.]hh:mm[:ss[.fffffff]]``, or a whole
    number of days."""
    stripped = text.strip()
    if re.fullmatch(r"-?\d+", stripped):
        return timedelta(days=int(stripped))
    found = _TIMESPAN.fullmatch(stripped)
    if found is None:
        raise CSharpError("FormatException", "String was not recognized as a valid TimeSpan.")
    parts = found.groupdict()
    hours, minutes, seconds = int(parts["hours"]), int(parts["minutes"]), int(parts["seconds"] or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise CSharpError("OverflowException", "The TimeSpan string is out of range.")
    span = timedelta(
        days=int(parts["days"] or 0),
        hours=hours,
        minutes=minutes,
        seconds=seconds,
        microseconds=int(((parts["fraction"] or "") + "0000000")[:7]) / 10,
    )
    return -span if parts["sign"] else span


# What each custom specifier of ParseExact reads: digits, or an offset for K and zzz.
_PARSED = {
    "yyyy": r"(?P<year>\d{4})", "yy": r"(?P<year2>\d{2})", "MM": r"(?P<month>\d{2})",
    "M": r"(?P<month>\d{1,2})", "dd": r"(?P<day>\d{2})", "d": r"(?P<day>\d{1,2})",
    "HH": r"(?P<hour>\d{2})", "H": r"(?P<hour>\d{1,2})", "mm": r"(?P<minute>\d{2})",
    "m": r"(?P<minute>\d{1,2})", "ss": r"(?P<second>\d{2})", "s": r"(?P<second>\d{1,2})",
    "K": r"(?P<offset>Z|[+-]\d{2}:\d{2})?", "zzz": r"(?P<offset>[+-]\d{2}:\d{2})",
}  # fmt: skip


def parse_exact(text: str, pattern: str) -> datetime:
    """``DateTimeOffset.ParseExact`` for numeric patterns (``yyyy-MM-dd``, ``yyyyMMddHHmmss``,
    ``o``, ``s``, ``u``); names of days and months, 12-hour clocks and other specifiers are
    refused by name rather than guessed."""
    pattern = _STANDARD_FORMATS.get(pattern, pattern) if len(pattern) == 1 else pattern
    regex: list[str] = []
    for specifier, piece in _pieces(pattern):
        if not specifier:
            regex.append(re.escape(piece))
        elif piece[0] in "fF":
            digits = len(piece) if piece[0] == "f" else f"0,{len(piece)}"
            regex.append(rf"(?P<fraction>\d{{{digits}}})")
        elif piece in _PARSED:
            regex.append(_PARSED[piece])
        else:
            raise UnsupportedError(f"ParseExact with '{piece}'")
    try:
        found = re.fullmatch("".join(regex), text.strip())
    except re.error:  # a specifier written twice: .NET refuses such a format too
        raise CSharpError("FormatException", _NOT_A_TIME) from None
    if found is None:
        raise CSharpError("FormatException", _NOT_A_TIME)
    parts = {name: value for name, value in found.groupdict().items() if value}
    year = int(parts.get("year", 1))
    if "year2" in parts:  # .NET's two-digit years: 00-49 in this century, 50-99 in the last
        year = int(parts["year2"]) + (2000 if int(parts["year2"]) < 50 else 1900)
    try:
        moment = datetime(
            year,
            int(parts.get("month", 1)),
            int(parts.get("day", 1)),
            int(parts.get("hour", 0)),
            int(parts.get("minute", 0)),
            int(parts.get("second", 0)),
            int((parts.get("fraction", "") + "000000")[:6]),
        )
    except ValueError:
        raise CSharpError("FormatException", _NOT_A_TIME) from None
    offset = parts.get("offset")
    if offset and offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        moment -= sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
    return moment.replace(tzinfo=UTC)


def format_datetime(moment: datetime, pattern: str) -> str:
    """``DateTime.ToString(pattern)``: a culture-free standard format, or a custom one made of
    .NET's specifiers, quoted literals and other characters copied as they are."""
    if len(pattern) == 1:
        if pattern not in _STANDARD_FORMATS:
            raise UnsupportedError(f'DateTime.ToString("{pattern}")')
        pattern = _STANDARD_FORMATS[pattern]
    return "".join(
        _specifier(moment, piece[0], len(piece), pattern) if specifier else piece
        for specifier, piece in _pieces(pattern)
    )


def _pieces(pattern: str) -> Iterator[tuple[bool, str]]:
    """A custom date pattern in pieces, as writing and parsing both read it: (True, "yyyy")
    for a run of one specifier character, (False, text) for quoted text, a backslash-escaped
    character or other characters, which stand for themselves; ``%`` before a lone specifier
    only keeps it from being read as a standard format."""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char in "'\"":
            end = pattern.find(char, index + 1)
            end = len(pattern) if end < 0 else end
            yield False, pattern[index + 1 : end]
            index = end + 1
        elif char == "\\" and index + 1 < len(pattern):
            yield False, pattern[index + 1]
            index += 2
        elif char == "%":
            index += 1
        else:
            run = 1
            while index + run < len(pattern) and pattern[index + run] == char:
                run += 1
            yield char in _SPECIFIERS, pattern[index : index + run]
            index += run


def _specifier(moment: datetime, char: str, run: int, pattern: str) -> str:
    """One run of a .NET custom date specifier (``yyyy``, ``MM``, ``fff``...)."""
    hour12 = moment.hour % 12 or 12
    numbers = {"M": moment.month, "d": moment.day, "H": moment.hour, "h": hour12,
               "m": moment.minute, "s": moment.second}  # fmt: skip
    if char in numbers and run <= 2:
        return f"{numbers[char]:0{run}d}"
    if char == "y":
        return f"{moment.year % 100:0{run}d}" if run <= 2 else f"{moment.year:0{run}d}"
    if char == "M" and run in (3, 4):
        return moment.strftime("%b" if run == 3 else "%B")
    if char == "d" and run in (3, 4):
        return moment.strftime("%a" if run == 3 else "%A")
    if char in "fF" and run <= 7:
        digits = f"{moment.microsecond:06d}0"[:run]
        return digits if char == "f" else digits.rstrip("0")
    if char == "t" and run <= 2:
        return ("AM" if moment.hour < 12 else "PM")[:run]
    if char == "K" and run == 1:
        return kind_suffix(moment)  # the simulator's clock is UTC; the Kind decides the text
    raise UnsupportedError(f'DateTime.ToString("{pattern}")')
