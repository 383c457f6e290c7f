"""Where simulated time starts unless a scenario says otherwise (``starts_at``).

A Monday morning in UTC: a run of ordinary length stays inside one working day, week and
month, so hourly, daily and weekly quotas do not reset in the middle of it by accident.
Kept apart so the scenario format and the engine share it without importing each other."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["EPOCH", "in_utc"]

EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def in_utc(moment: datetime) -> datetime:
    """A time on the gateway's UTC clock: one without an offset is taken as UTC, one with an
    offset is converted (a scenario's start, a parsed DateTime)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
