"""Amounts stamped with the time they happened, leaving from the front as they age: the sliding
windows of token limits, rate limits and the mock deployments' quotas."""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["Timeline"]

# Dropped entries are cut off the lists once this many have left (and they are at least half):
# often enough to keep memory flat, rarely enough to cost nothing per entry.
_COMPACT_AFTER = 1024


class Timeline:
    """Timestamped amounts in time order, and their running total.

    Two lists and the index of the first live entry, rather than a deque of tuples: compiled,
    indexing a list is native where each deque call is a Python method call, and an entry is
    no tuple to allocate."""

    __slots__ = ("_amounts", "_head", "_times", "total")

    def __init__(self) -> None:
        self._times: list[float] = []
        self._amounts: list[int] = []
        self._head = 0
        self.total = 0

    def add(self, time: float, amount: int) -> None:
        """An entry at ``time``, no earlier than the last one."""
        self._times.append(time)
        self._amounts.append(amount)
        self.total += amount

    def expire(self, cutoff: float) -> None:
        """Drop the entries at or before ``cutoff``."""
        times, head, end = self._times, self._head, len(self._times)
        if head == end or times[head] > cutoff:
            return
        amounts = self._amounts
        total = self.total
        while head < end and times[head] <= cutoff:
            total -= amounts[head]
            head += 1
        self.total = total
        if head >= _COMPACT_AFTER and head * 2 >= end:
            del times[:head]
            del amounts[:head]
            head = 0
        self._head = head

    def __len__(self) -> int:
        return len(self._times) - self._head

    def oldest(self) -> float:
        """The time of the oldest live entry (there must be one)."""
        return self._times[self._head]

    def entries(self) -> Iterator[tuple[float, int]]:
        """The live entries, oldest first."""
        times, amounts = self._times, self._amounts
        for index in range(self._head, len(times)):
            yield times[index], amounts[index]
