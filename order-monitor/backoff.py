"""Per-record exponential backoff for the monitor, in memory.

Each record the monitor could not settle gets a ``next_check_at``; the delay doubles with
every inconclusive check, from ``base`` up to ``cap``. A settled record is forgotten. The
state is per process on purpose: a restarted monitor simply asks once more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class _Entry:
    next_check_at: datetime
    delay: float


class Backoff:
    def __init__(self, base: float, cap: float) -> None:
        if base < 0 or cap < base:
            raise ValueError("backoff needs 0 <= base <= cap")
        self.base = base
        self.cap = cap
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def due(self, key: str, now: datetime) -> bool:
        entry = self._entries.get(key)
        return entry is None or entry.next_check_at <= now

    def next_check_at(self, key: str) -> datetime | None:
        entry = self._entries.get(key)
        return None if entry is None else entry.next_check_at

    def retry_later(self, key: str, now: datetime) -> datetime:
        """The record is still open: wait base, then twice as long each time, up to cap."""
        entry = self._entries.get(key)
        delay = self.base if entry is None else min(self.cap, max(entry.delay * 2, self.base))
        at = now + timedelta(seconds=delay)
        self._entries[key] = _Entry(at, delay)
        return at

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def prune(self, now: datetime) -> None:
        """Drop records not seen for a while (settled elsewhere, e.g. by a callback)."""
        horizon = now - timedelta(seconds=self.cap * 2)
        for key in [k for k, e in self._entries.items() if e.next_check_at < horizon]:
            del self._entries[key]
