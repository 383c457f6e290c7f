"""Read a Log Analytics export of the gateway's own logs: the calls to replay.

Two shapes of the same query result (docs/replay.md gives the query): the JSON that ``az
monitor log-analytics query`` prints (an array of objects, or one object per line) and the CSV
the portal exports (a header row; ``TimeGenerated [UTC]`` and the portal's ``12/1/2026,
9:00:00.123 AM`` time format are understood). A call logged over several rows — its messages
split over ``SequenceNumber`` — is one call. The CSV is read as a stream; every problem is a
located error naming the row and the column, raised before anything is replayed.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from apimgen.errors import ApimgenError

__all__ = ["REQUIRED_COLUMNS", "LoggedCall", "read_export"]

REQUIRED_COLUMNS = ("TimeGenerated", "CorrelationId", "ApimSubscriptionId", "ResponseCode")
_PORTAL_TIME = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{4}),?\s+(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*([AP]M)$", re.I
)


@dataclass(slots=True)
class LoggedCall:
    """One call as the gateway logged it."""

    time: datetime  # UTC
    correlation: str
    subscription: str  # "" for a call without a key
    status: int
    deployment: str = ""
    operation: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    stream: bool = False
    backend_seconds: float | None = None
    parts: list[tuple[int, list[Any]]] = field(default_factory=list)  # (SequenceNumber, messages)
    row: int = 0  # where it starts in the file (1 is the first data row)

    @property
    def prompt(self) -> str | None:
        """The user messages' text, when message logging was on, in SequenceNumber order."""
        messages = [m for _, part in sorted(self.parts, key=lambda p: p[0]) for m in part]
        texts = [
            str(m.get("content"))
            for m in messages
            if isinstance(m, dict) and m.get("role") == "user" and m.get("content")
        ]
        return "\n".join(texts) or None


class _Located:
    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, row: int, column: str, message: str, hint: str = "") -> ApimgenError:
        return ApimgenError(f"{self.path}: row {row}, column {column}: {message}", hint=hint)

    def time(self, row: int, value: Any) -> datetime:
        text = str(value or "").strip()
        if match := _PORTAL_TIME.match(text):
            month, day, year, hour, minute, second, fraction, half = match.groups()
            hours = int(hour) % 12 + (12 if half.upper() == "PM" else 0)
            micro = int((fraction or "0").ljust(6, "0")[:6])
            day_of = datetime(int(year), int(month), int(day), tzinfo=UTC)
            return day_of.replace(
                hour=hours, minute=int(minute), second=int(second), microsecond=micro
            )
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise self.error(
                row, "TimeGenerated", f"'{text}' is not a time",
                "ISO 8601 (2026-12-01T09:00:00Z) or the portal's 12/1/2026, 9:00:00.000 AM",
            ) from None  # fmt: skip
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    def whole(self, row: int, column: str, value: Any, *, required: bool = False) -> int | None:
        if value is None or value == "":
            if required:
                raise self.error(row, column, "is empty")
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self.error(row, column, f"'{value}' is not a number") from None
        if number != int(number) or number < 0:
            raise self.error(row, column, f"'{value}' is not a whole number of at least 0")
        return int(number)


def _column(name: str) -> str:
    """``TimeGenerated [UTC]`` (the portal's header) is ``TimeGenerated``."""
    return re.sub(r"\s*\[[^\]]*\]$", "", name.strip())


def _rows(path: Path, stream: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    first = stream.read(1)
    stream.seek(0)
    if path.suffix.lower() == ".csv" or first not in "[{":
        reader = csv.DictReader(stream)
        columns = {_column(name): name for name in reader.fieldnames or []}
        _check_columns(path, columns)
        for number, row in enumerate(reader, 1):
            yield number, {name: row[original] for name, original in columns.items()}
        return
    if first == "[":
        try:
            document = json.load(stream)
        except ValueError as error:
            raise ApimgenError(f"{path}: not valid JSON: {error}") from None
        rows = document if isinstance(document, list) else []
    else:
        rows = []
        for number, line in enumerate(stream, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as error:
                    raise ApimgenError(f"{path}: row {number}: not valid JSON: {error}") from None
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise ApimgenError(f"{path}: row {number}: not an object of columns")
        if number == 1:
            _check_columns(path, {_column(name): name for name in row})
        yield number, {_column(name): value for name, value in row.items()}


def _check_columns(path: Path, columns: dict[str, str]) -> None:
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise ApimgenError(
            f"{path}: missing column(s) {', '.join(missing)}",
            hint="export the query docs/replay.md gives; it names every column replay reads",
        )


def _messages(value: Any) -> list[Any]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [{"role": "user", "content": value}]
    return value if isinstance(value, list) else [value]


def read_export(path: Path) -> list[LoggedCall]:
    """Every call in the export, in the order they were made."""
    located = _Located(path)
    calls: dict[str, LoggedCall] = {}
    try:
        stream = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
    except OSError as error:
        raise ApimgenError(f"{path}: cannot read: {error.strerror}") from None
    with stream:
        for number, row in _rows(path, stream):
            correlation = str(row.get("CorrelationId") or "").strip()
            if not correlation:
                raise located.error(number, "CorrelationId", "is empty")
            sequence = located.whole(number, "SequenceNumber", row.get("SequenceNumber")) or 0
            part = (sequence, _messages(row.get("RequestMessages")))
            found = calls.get(correlation)
            if found is not None:  # another part of the same call's messages
                found.parts.append(part)
                continue
            status = located.whole(number, "ResponseCode", row.get("ResponseCode"), required=True)
            backend_ms = located.whole(number, "BackendTime", row.get("BackendTime"))
            calls[correlation] = LoggedCall(
                time=located.time(number, row.get("TimeGenerated")),
                correlation=correlation,
                subscription=str(row.get("ApimSubscriptionId") or "").strip(),
                status=status or 0,
                deployment=str(row.get("DeploymentName") or "").strip(),
                operation=str(row.get("OperationId") or "").strip(),
                prompt_tokens=located.whole(number, "PromptTokens", row.get("PromptTokens")),
                completion_tokens=located.whole(
                    number, "CompletionTokens", row.get("CompletionTokens")
                ),
                stream=str(row.get("IsStreamCompletion") or "").strip().lower() == "true",
                backend_seconds=None if backend_ms is None else backend_ms / 1000,
                parts=[part],
                row=number,
            )
    if not calls:
        raise ApimgenError(f"{path}: no calls in the export")
    return sorted(calls.values(), key=lambda call: (call.time, call.row))
