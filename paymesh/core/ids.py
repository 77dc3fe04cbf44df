"""Issuing order, refund, transfer and event ids (their format: `paymesh.ids`).

An id is a prefix letter plus a zero-padded decimal snowflake::

    P 000123456789012345678  (1 letter + 21 digits = 22 characters)

The snowflake packs milliseconds since 2024-01-01 UTC (42 bits, ~139 years), the
datacentre (5 bits), the worker (10 bits) and a per-millisecond sequence (12 bits). Ids are
alphanumeric, 8-32 characters (WeChat 6-32, UnionPay 8-40 without ``-``/``_``), carry
nothing secret, and sort lexically in time order because the width is fixed.

Workers never share an id: in production each process leases its worker number from etcd,
the embedded backend uses lock files (both in `paymesh.core.workers`). A
generator whose lease is lost stops issuing ids (UNAVAILABLE) until the lease re-acquires a
worker id. Nothing ever sleeps: when the clock steps back a little (or a millisecond's
sequence is used up) ids continue from the last issued millisecond, up to
``max_backward_ms`` ahead of the clock, and are refused beyond that, so an id is never
repeated. A worker id leaves its high-water mark behind (``worker-floors/``) when it is
released or re-acquired after a loss, so the next holder, whose clock may lag, starts after
it (`floor_ms`, applied by the generator whenever the lease changes).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from paymesh.errors import Internal, WorkerIdUnavailable
from paymesh.ids import (
    DATACENTER_BITS,
    DIGITS,
    EPOCH_MS,
    EVENT_PREFIX,
    MAX_DATACENTER,
    MAX_SEQUENCE,
    MAX_WORKER,
    ORDER_PREFIX,
    REFUND_PREFIX,
    SEQUENCE_BITS,
    TIMESTAMP_BITS,
    TRANSFER_PREFIX,
    WORKER_BITS,
    IdParts,
    parse_id,
)


class ClockMovedBackwards(WorkerIdUnavailable):
    """The clock is further behind the last issued id than ``max_backward_ms``."""


class WorkerLeaseLost(WorkerIdUnavailable):
    """No worker id is held right now (the etcd lease is being re-acquired)."""


class WorkerLease(Protocol):
    """A worker number this process holds exclusively while `is_valid()`."""

    @property
    def worker_id(self) -> int: ...

    def is_valid(self) -> bool: ...


def _floor_of(worker: WorkerLease) -> int:
    """Unix ms before which the worker id's previous holders may have issued ids."""
    return int(getattr(worker, "floor_ms", 0))


@dataclass(frozen=True)
class StaticWorker:
    """A fixed worker id (tests, or a deployment that assigns ids itself)."""

    worker_id: int

    def is_valid(self) -> bool:
        return True


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class IdGenerator:
    """Thread-safe snowflake generator for one (datacentre, worker)."""

    def __init__(
        self,
        datacenter_id: int,
        worker: WorkerLease | int,
        *,
        clock_ms: Callable[[], int] = _now_ms,
        max_backward_ms: int = 2000,
        not_before_ms: int = 0,
    ) -> None:
        if not 0 <= datacenter_id <= MAX_DATACENTER:
            raise ValueError(f"datacenter_id must be 0..{MAX_DATACENTER}")
        self._worker: WorkerLease = StaticWorker(worker) if isinstance(worker, int) else worker
        if not 0 <= self._worker.worker_id <= MAX_WORKER:
            raise ValueError(f"worker_id must be 0..{MAX_WORKER}")
        self.datacenter_id = datacenter_id
        self._clock = clock_ms
        self._max_backward_ms = max_backward_ms
        # Ids start strictly after ``not_before_ms`` (a previous holder's high-water mark):
        # a full sequence makes the first id in that millisecond wait for the next one.
        self._last_ms = max(not_before_ms - EPOCH_MS, -1)
        self._sequence = MAX_SEQUENCE
        self._lock = threading.Lock()

    @property
    def worker_id(self) -> int:
        return self._worker.worker_id

    @property
    def last_ms(self) -> int:
        """Unix ms of the newest id issued (for persisting a floor across restarts)."""
        return self._last_ms + EPOCH_MS

    def next_int(self) -> int:
        with self._lock:
            if not self._worker.is_valid():
                raise WorkerLeaseLost("worker id lease is not valid; not issuing ids")
            floor = _floor_of(self._worker) - EPOCH_MS
            if floor > self._last_ms:  # a (re-)acquired worker id: start after its floor
                self._last_ms, self._sequence = floor, MAX_SEQUENCE
            now = self._clock() - EPOCH_MS
            if now > self._last_ms:
                self._sequence = 0
            else:
                # The clock is at or behind the last id (same millisecond, a small step
                # back, or a floor ahead of it): continue from the last id, never sleep.
                now = self._last_ms
                self._sequence = (self._sequence + 1) & MAX_SEQUENCE
                if self._sequence == 0:  # this millisecond is used up: take the next one
                    now += 1
                ahead = now - (self._clock() - EPOCH_MS)
                if ahead > self._max_backward_ms:
                    self._sequence = MAX_SEQUENCE  # nothing issued: stay used up
                    raise ClockMovedBackwards(f"clock is {ahead} ms behind the last issued id")
            if now >> TIMESTAMP_BITS:
                raise Internal("id timestamp overflow")
            self._last_ms = now
            return (
                (now << (DATACENTER_BITS + WORKER_BITS + SEQUENCE_BITS))
                | (self.datacenter_id << (WORKER_BITS + SEQUENCE_BITS))
                | (self._worker.worker_id << SEQUENCE_BITS)
                | self._sequence
            )

    def next_id(self, prefix: str = ORDER_PREFIX) -> str:
        if not (prefix.isascii() and prefix.isalpha() and 1 <= len(prefix) <= 4):
            raise ValueError("prefix must be 1-4 ASCII letters")
        return f"{prefix}{self.next_int():0{DIGITS}d}"

    def order_id(self) -> str:
        return self.next_id(ORDER_PREFIX)

    def refund_id(self) -> str:
        return self.next_id(REFUND_PREFIX)

    def transfer_id(self) -> str:
        return self.next_id(TRANSFER_PREFIX)

    def event_id(self) -> str:
        return self.next_id(EVENT_PREFIX)


__all__ = [
    "ClockMovedBackwards",
    "IdGenerator",
    "IdParts",
    "StaticWorker",
    "WorkerLease",
    "WorkerLeaseLost",
    "parse_id",
]
