"""How far a replay agrees with the log: each replayed call's simulated status beside the
status the gateway logged for it, by status and by consumer, and the first disagreements.

Replayed through the policies that were live when the log was written, the two should agree;
what the log cannot carry (a backend that refused for its own reasons, a limit counter that
already held tokens when the export starts) is where they may not (docs/replay.md).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from apimgen.simulate.replay.export import LoggedCall
from apimgen.simulate.request_log import RequestLog

if TYPE_CHECKING:
    from apimgen.simulate.state import RequestState

__all__ = ["Agreement", "AgreementTally"]

SHOWN_DISAGREEMENTS = 10


@dataclass
class Agreement:
    calls: int = 0
    agreed: int = 0
    by_status: Counter[tuple[int, int]] = field(default_factory=Counter)  # (logged, simulated)
    by_consumer: dict[str, list[int]] = field(default_factory=dict)  # name → [calls, agreed]
    disagreements: list[dict[str, Any]] = field(default_factory=list)

    def keep_first(self) -> None:
        """Only the earliest disagreements are shown (requests finish out of order)."""
        self.disagreements.sort(key=lambda entry: (entry["time"], entry["row"]))
        del self.disagreements[SHOWN_DISAGREEMENTS:]

    @property
    def share(self) -> float:
        return self.agreed / self.calls if self.calls else 1.0

    def to_json(self) -> dict[str, Any]:
        self.keep_first()
        return {
            "calls": self.calls,
            "agreed": self.agreed,
            "agreement": round(self.share, 6),
            "by_status": [
                {"logged": logged, "simulated": simulated, "calls": count}
                for (logged, simulated), count in sorted(self.by_status.items())
            ],
            "by_consumer": {
                name: {"calls": calls, "agreed": agreed}
                for name, (calls, agreed) in sorted(self.by_consumer.items())
            },
            "disagreements": self.disagreements,
        }

    def lines(self) -> list[str]:
        self.keep_first()
        lines = [
            f"Replay: {self.agreed} of {self.calls} calls ({self.share:.1%}) got the status the "
            "gateway logged."
        ]
        for (logged, simulated), count in sorted(self.by_status.items()):
            mark = "" if logged == simulated else "  ← differs"
            lines.append(f"  logged {logged} → simulated {simulated}: {count}{mark}")
        for entry in self.disagreements:
            lines.append(
                f"  {entry['time']} {entry['consumer']} (row {entry['row']}, "
                f"{entry['correlation']}): logged {entry['logged']}, simulated "
                f"{entry['simulated']}"
            )
        return lines


class AgreementTally(RequestLog):
    """Receives the replay's requests as they finish and compares each first attempt with
    the call it replays; with --requests, passes every request on to that file too."""

    def __init__(self, calls: dict[str, LoggedCall], requests: RequestLog | None = None) -> None:
        self.calls = calls  # no file of its own: the tally writes nothing
        self.requests = requests
        self.result = Agreement()
        self.written = 0

    def start_run(self, name: str, epoch: datetime) -> None:
        self.result = Agreement()
        if self.requests is not None:
            self.requests.start_run(name, epoch)

    def write(self, state: RequestState) -> None:
        if self.requests is not None:
            self.requests.write(state)
        label = state.context.request_label
        logged = self.calls.get(label)
        if logged is None:  # a client's retry: the log holds it as a call of its own
            return
        simulated = state.context.Response.StatusCode
        result = self.result
        result.calls += 1
        counts = result.by_consumer.setdefault(state.consumer_name, [0, 0])
        counts[0] += 1
        result.by_status[(logged.status, simulated)] += 1
        if simulated == logged.status:
            result.agreed += 1
            counts[1] += 1
        else:
            result.disagreements.append(
                {
                    "time": logged.time.isoformat().replace("+00:00", "Z"),
                    "correlation": logged.correlation,
                    "row": logged.row,
                    "consumer": state.consumer_name,
                    "logged": logged.status,
                    "simulated": simulated,
                }
            )
            if len(result.disagreements) > 2 * SHOWN_DISAGREEMENTS:
                result.keep_first()
        self.written += 1

    def close(self, *, keep: bool) -> None:
        return None  # --requests' file is closed by the command, once for every run
