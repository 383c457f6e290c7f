"""``TimeZoneInfo``: policies that route by the hour somewhere (a PTU reserved for office
hours in Europe) convert the gateway's UTC clock to a zone's wall clock.

Zones come from the tz database: Windows ids ("W. Europe Standard Time", what .NET on Windows
knows and what published policies use) through CLDR's Windows-to-IANA table, and IANA ids
("Europe/Berlin"). A converted time keeps the zone's wall-clock ticks, as a .NET DateTime
does, so its Hour, DayOfWeek and TimeOfDay are the zone's and comparing it with another time
compares ticks; its Kind is not kept, so a time is always taken as UTC where .NET would ask
its Kind (``GetUtcOffset``, the two-argument ``ConvertTime``). The gateway's local zone is UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache
from typing import Any

from apimgen.simulate.expr.typesystem import CSharpObject, StaticType, static_property
from apimgen.simulate.expr.values import CSharpError

__all__ = ["TimeZone", "find_zone", "timezone_type"]


class TimeZone(CSharpObject):
    """A ``TimeZoneInfo``: its id as the policy named it, and the tz database's rules."""

    csharp_name = "TimeZoneInfo"
    __slots__ = ("Id", "_zone")

    def __init__(self, zone_id: str, zone: tzinfo) -> None:
        self.Id = zone_id
        self._zone = zone

    @property
    def BaseUtcOffset(self) -> timedelta:
        """The standard (winter) offset: a January date's offset less its daylight saving,
        which is the standard offset in either hemisphere."""
        january = datetime(2026, 1, 1, tzinfo=UTC).astimezone(self._zone)
        return (january.utcoffset() or timedelta(0)) - (january.dst() or timedelta(0))

    @property
    def SupportsDaylightSavingTime(self) -> bool:
        return any(
            datetime(2026, month, 1, tzinfo=UTC).astimezone(self._zone).dst() for month in (1, 7)
        )

    def GetUtcOffset(self, moment: datetime) -> timedelta:
        return moment.astimezone(self._zone).utcoffset() or timedelta(0)

    def IsDaylightSavingTime(self, moment: datetime) -> bool:
        return bool(moment.astimezone(self._zone).dst())

    def from_utc(self, moment: datetime) -> datetime:
        """The wall-clock time here at the UTC instant ``moment``, as ticks (see above)."""
        return moment.astimezone(self._zone).replace(tzinfo=UTC)

    def to_utc(self, moment: datetime) -> datetime:
        """The UTC instant at which the wall clock here shows ``moment``'s ticks."""
        return moment.replace(tzinfo=self._zone).astimezone(UTC)


UTC_ZONE = TimeZone("UTC", UTC)


@cache
def _windows_ids() -> dict[str, str]:
    """Windows zone id (lower-cased) → IANA id, from CLDR's table as tzlocal ships it."""
    from tzlocal.windows_tz import win_tz

    return {windows.lower(): iana for windows, iana in win_tz.items()}


def find_zone(zone_id: Any) -> TimeZone:
    """``TimeZoneInfo.FindSystemTimeZoneById``: a Windows or an IANA id."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(zone_id, str):
        raise CSharpError("ArgumentNullException", "a time zone id is required")
    iana = _windows_ids().get(zone_id.lower(), zone_id)
    try:
        return TimeZone(zone_id, ZoneInfo(iana))
    except (ZoneInfoNotFoundError, ValueError):
        raise CSharpError(
            "TimeZoneNotFoundException",
            f"The time zone ID '{zone_id}' was not found on the local computer.",
        ) from None


def _zone(value: Any) -> TimeZone:
    if not isinstance(value, TimeZone):
        raise CSharpError("ArgumentNullException", "a TimeZoneInfo is required")
    return value


def _convert(moment: datetime, *zones: Any) -> datetime:
    """``ConvertTime(time, destination)`` or ``ConvertTime(time, source, destination)``."""
    if len(zones) == 1:
        return _zone(zones[0]).from_utc(moment)
    return _zone(zones[1]).from_utc(_zone(zones[0]).to_utc(moment))


def _convert_by_id(moment: datetime, *zone_ids: Any) -> datetime:
    return _convert(moment, *(find_zone(zone_id) for zone_id in zone_ids))


def timezone_type() -> StaticType:
    return StaticType(
        "TimeZoneInfo",
        {
            "FindSystemTimeZoneById": find_zone,
            "ConvertTimeFromUtc": lambda moment, zone: _zone(zone).from_utc(moment),
            "ConvertTimeToUtc": lambda moment, zone=UTC_ZONE: _zone(zone).to_utc(moment),
            "ConvertTime": _convert,
            "ConvertTimeBySystemTimeZoneId": _convert_by_id,
            "Utc": static_property(lambda: UTC_ZONE),
            "Local": static_property(lambda: UTC_ZONE),  # the gateway's clock is UTC
        },
    )
