"""What an import read and what became of each resource: mapped to spec keys, kept as written,
or left out with the reason and what to do about it. Nothing is dropped without a line here."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["ImportSummary", "Outcome"]

Fate = Literal["mapped", "kept", "skipped"]


@dataclass(frozen=True)
class Outcome:
    path: str  # the resource's path under the service, e.g. apis/chat/policies/policy
    fate: Fate
    where: str  # the spec key or file it went to, or "" when skipped
    reason: str = ""  # why it was kept as written or left out, and what to do


@dataclass
class ImportSummary:
    service: str
    outcomes: list[Outcome] = field(default_factory=list)

    def mapped(self, path: str, where: str, note: str = "") -> None:
        self.outcomes.append(Outcome(path, "mapped", where, note))

    def kept(self, path: str, where: str, reason: str) -> None:
        self.outcomes.append(Outcome(path, "kept", where, reason))

    def skipped(self, path: str, reason: str) -> None:
        self.outcomes.append(Outcome(path, "skipped", "", reason))

    def counts(self) -> dict[str, int]:
        found = Counter(outcome.fate for outcome in self.outcomes)
        return {fate: found[fate] for fate in ("mapped", "kept", "skipped")}

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "read": len(self.outcomes),
            **self.counts(),
            "resources": [
                {"path": o.path, "fate": o.fate, "where": o.where, "reason": o.reason}
                for o in sorted(self.outcomes, key=lambda o: o.path)
            ],
        }

    def lines(self, folder: str) -> list[str]:
        counts = self.counts()
        lines = [
            f"Imported {self.service} into {folder}: {len(self.outcomes)} resources read, "
            f"{counts['mapped']} mapped to spec keys, {counts['kept']} kept as written, "
            f"{counts['skipped']} left out."
        ]
        for fate, title in (("kept", "Kept as written"), ("skipped", "Left out")):
            chosen = sorted((o for o in self.outcomes if o.fate == fate), key=lambda o: o.path)
            if chosen:
                lines.append(f"{title}:")
                for outcome in chosen:
                    target = f" → {outcome.where}" if outcome.where else ""
                    lines.append(f"  {outcome.path}{target}: {outcome.reason}")
        notes = sorted(
            (o for o in self.outcomes if o.fate == "mapped" and o.reason), key=lambda o: o.path
        )
        if notes:
            lines.append("Mapped, with a note:")
            lines.extend(f"  {o.path} → {o.where}: {o.reason}" for o in notes)
        return lines
