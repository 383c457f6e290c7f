"""``apimgen simulate --requests FILE``: every request the gateway saw, one record each, for
looking at calls afterwards (a spreadsheet, jq, pandas) rather than only at totals.

Records are written as requests finish, so a run of any length holds none of them in memory.
They go to a hidden file next to the target, renamed into place when the command succeeds:
a failed or interrupted run leaves no half-written file behind. ``.csv`` writes the same
fields as CSV (headers as one JSON column); anything else writes JSON lines.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from apimgen.errors import ApimgenError
from apimgen.simulate.state import RequestState

__all__ = ["FIELDS", "RequestLog"]

FIELDS = (
    "run",
    "request",
    "time",
    "arrived_s",
    "answered_s",
    "latency_s",
    "consumer",
    "operation",
    "status",
    "backend",
    "tokens",
    "prompt_tokens",
    "completion_tokens",
    "cache",
    "refused_by",
    "reason",
    "message",
    "headers",
)


class RequestLog:
    """One file of request records, written as the requests finish."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(f".{path.name}.partial")
        self.as_csv = path.suffix.lower() == ".csv"
        self.run = ""
        self.epoch = datetime(1970, 1, 1)
        self.written = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[str] = open(self.partial, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as error:
            raise ApimgenError(f"{path}: cannot write: {error.strerror}") from None
        self._csv = csv.writer(self._file) if self.as_csv else None
        if self._csv is not None:
            self._csv.writerow(FIELDS)

    def start_run(self, name: str, epoch: datetime) -> None:
        """The records that follow belong to the run ``name`` (with --compare, several)."""
        self.run = name
        self.epoch = epoch

    def write(self, state: RequestState) -> None:
        record = self._record(state)
        if self._csv is not None:
            row = [record[name] for name in FIELDS]
            row[FIELDS.index("headers")] = json.dumps(record["headers"], ensure_ascii=False)
            self._csv.writerow(["" if value is None else value for value in row])
        else:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.written += 1

    def _record(self, state: RequestState) -> dict[str, Any]:
        context = state.context
        response = context.Response
        arrived = context.arrival_seconds
        answered = state.services.now
        usage = state.usage or {}
        error = context.LastError if state.error is not None else None
        headers = {
            pair.Key: ", ".join(str(value) for value in pair.Value) for pair in response.Headers
        }
        when = self.epoch + timedelta(seconds=arrived)
        return {
            "run": self.run,
            "request": context.request_label,  # a client's retries: "alice-3-retry1"
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "arrived_s": round(arrived, 6),
            "answered_s": round(answered, 6),
            "latency_s": round(answered - arrived, 6),
            "consumer": state.consumer_name,
            "operation": context.Operation.Id if context.Operation is not None else None,
            "status": response.StatusCode,
            "backend": state.backend_used,
            "tokens": usage.get("total_tokens", 0),
            "prompt_tokens": usage.get("prompt_tokens", 0),
            "completion_tokens": usage.get("completion_tokens", 0),
            "cache": state.cache_outcome,
            "refused_by": error.Source if error is not None else None,
            "reason": error.Reason if error is not None else None,
            "message": error.Message if error is not None else None,
            "headers": headers,
        }

    def close(self, *, keep: bool) -> None:
        """Finish the file: into place when ``keep``, else removed."""
        self._file.close()
        if keep:
            os.replace(self.partial, self.path)
        else:
            self.partial.unlink(missing_ok=True)
