"""Order, refund, transfer and event ids (DESIGN §4, §6).

An id is a prefix letter plus a zero-padded decimal snowflake::

    P 000123456789012345678  (1 letter + 21 digits = 22 characters)

The snowflake packs milliseconds since 2024-01-01 UTC (42 bits, ~139 years), the
datacentre (5 bits), the worker (10 bits) and a per-millisecond sequence (12 bits). Ids are
alphanumeric, 8-32 characters (WeChat 6-32, UnionPay 8-40 without ``-``/``_``), carry
nothing secret, and sort lexically in time order because the width is fixed.

Workers never share an id: in production each process leases its worker number from etcd
(`EtcdWorkerLease`); the embedded backend uses lock files (`LocalWorkerAllocator`). A
generator whose lease is lost stops issuing ids; a clock that moves backwards is waited
out when the step is small and refused otherwise, so an id is never repeated. A gracefully
released etcd worker id leaves its high-water mark behind (``worker-floors/``) so the next
holder, whose clock may lag, starts after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from paymesh.errors import Internal

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
TIMESTAMP_BITS = 42
DATACENTER_BITS = 5
WORKER_BITS = 10
SEQUENCE_BITS = 12
MAX_DATACENTER = (1 << DATACENTER_BITS) - 1
MAX_WORKER = (1 << WORKER_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
DIGITS = len(str((1 << (TIMESTAMP_BITS + DATACENTER_BITS + WORKER_BITS + SEQUENCE_BITS)) - 1))

ORDER_PREFIX = "P"
REFUND_PREFIX = "R"
TRANSFER_PREFIX = "T"
EVENT_PREFIX = "E"

_log = logging.getLogger(__name__)


class ClockMovedBackwards(Internal):
    retryable = True


class WorkerLeaseLost(Internal):
    retryable = True


class WorkerLease(Protocol):
    """A worker number this process holds exclusively while `is_valid()`."""

    @property
    def worker_id(self) -> int: ...

    def is_valid(self) -> bool: ...


@dataclass(frozen=True)
class StaticWorker:
    """A fixed worker id (tests, or a deployment that assigns ids itself)."""

    worker_id: int

    def is_valid(self) -> bool:
        return True


@dataclass(frozen=True)
class IdParts:
    prefix: str
    unix_ms: int
    datacenter_id: int
    worker_id: int
    sequence: int


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

    def _tick(self) -> int:
        now = self._clock() - EPOCH_MS
        if now < self._last_ms:
            behind = self._last_ms - now
            if behind > self._max_backward_ms:
                raise ClockMovedBackwards(f"clock moved backwards by {behind} ms")
            time.sleep(behind / 1000)
            now = self._clock() - EPOCH_MS
            if now < self._last_ms:
                raise ClockMovedBackwards("clock still behind the last issued id")
        return now

    def next_int(self) -> int:
        with self._lock:
            if not self._worker.is_valid():
                raise WorkerLeaseLost("worker id lease is not valid; not issuing ids")
            now = self._tick()
            if now == self._last_ms:
                self._sequence = (self._sequence + 1) & MAX_SEQUENCE
                if self._sequence == 0:  # this millisecond is used up
                    while now <= self._last_ms:
                        time.sleep(0)
                        now = self._tick()
            else:
                self._sequence = 0
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


def parse_id(value: str) -> IdParts:
    """Split an id back into its parts (debugging, tests)."""
    prefix = value.rstrip("0123456789")
    number = int(value[len(prefix) :])
    seq = number & MAX_SEQUENCE
    worker = (number >> SEQUENCE_BITS) & MAX_WORKER
    dc = (number >> (SEQUENCE_BITS + WORKER_BITS)) & MAX_DATACENTER
    ms = number >> (SEQUENCE_BITS + WORKER_BITS + DATACENTER_BITS)
    return IdParts(prefix, ms + EPOCH_MS, dc, worker, seq)


# ---------------------------------------------------------------------------- embedded backend


class LocalWorkerAllocator:
    """Worker ids for processes on one host: one `flock`ed file per worker id.

    The kernel drops the lock when the process dies, so a crashed process frees its id.
    """

    def __init__(self, directory: str | os.PathLike[str], max_workers: int = MAX_WORKER + 1):
        self._dir = Path(directory)
        self._max = min(max_workers, MAX_WORKER + 1)
        self._fd: int | None = None
        self._worker_id = -1

    @property
    def worker_id(self) -> int:
        if self._fd is None:
            raise WorkerLeaseLost("no worker id acquired")
        return self._worker_id

    def is_valid(self) -> bool:
        return self._fd is not None

    def acquire(self) -> int:
        if self._fd is not None:
            return self._worker_id
        self._dir.mkdir(parents=True, exist_ok=True)
        for n in range(self._max):
            fd = os.open(self._dir / f"worker-{n}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd, self._worker_id = fd, n
            return n
        raise WorkerLeaseLost(f"all {self._max} local worker ids are taken")

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


# ---------------------------------------------------------------------------- etcd


class EtcdWorkerLease:
    """Lease the lowest free worker id `{prefix}/workers/{dc}/{n}` from etcd.

    The key is created only if absent (transaction on create_revision == 0) and is bound
    to a lease kept alive in the background. The lease is considered valid until the last
    confirmed renewal plus its TTL (minus a margin); once lost it never becomes valid
    again, so the generator stops issuing ids before another process can claim the key.
    """

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "/paymesh",
        datacenter_id: int = 0,
        ttl: int = 10,
        max_workers: int = MAX_WORKER + 1,
        margin: float = 0.5,
    ) -> None:
        self._client = client
        self._dir = f"{prefix.rstrip('/')}/workers/{datacenter_id}/"
        self._floor_dir = f"{prefix.rstrip('/')}/worker-floors/{datacenter_id}/"
        self.floor_ms = 0
        self._ttl = ttl
        self._max = min(max_workers, MAX_WORKER + 1)
        self._margin = margin
        self._lease_id = 0
        self._worker_id = -1
        self._valid_until = 0.0
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def worker_id(self) -> int:
        if self._worker_id < 0:
            raise WorkerLeaseLost("no worker id acquired")
        return self._worker_id

    @property
    def key(self) -> str:
        return f"{self._dir}{self.worker_id}"

    @property
    def lost(self) -> asyncio.Event:
        """Set when the lease is gone (service should stop taking writes)."""
        return self._lost

    def is_valid(self) -> bool:
        return (
            self._worker_id >= 0
            and not self._lost.is_set()
            and time.monotonic() < self._valid_until - self._margin
        )

    async def acquire(self) -> int:
        if self._worker_id >= 0:
            return self._worker_id
        kv, lease = self._client.kv, self._client.lease
        started = time.monotonic()
        granted = await lease.grant(self._ttl)
        self._lease_id = granted.ID
        self._valid_until = started + granted.TTL
        taken_resp = await kv.get(self._dir, _range_end(self._dir), keys_only=True)
        taken = {_tail(kv_.key, self._dir) for kv_ in taken_resp.kvs}
        value = json.dumps({"host": socket.gethostname(), "pid": os.getpid()})
        for n in range(self._max):
            if n in taken:
                continue
            key = f"{self._dir}{n}"
            resp = await kv.txn(
                compare=[kv.txn_compare_create_revision(key, 0)],
                success=[kv.txn_op_put(key, value, lease=self._lease_id)],
            )
            if resp.succeeded:
                self._worker_id = n
                floor = await kv.get(f"{self._floor_dir}{n}")
                self.floor_ms = int(floor.kvs[0].value) if floor.kvs else 0
                self._task = asyncio.create_task(self._keepalive(), name=f"worker-lease-{n}")
                return n
        await lease.revoke(self._lease_id)
        raise WorkerLeaseLost(f"all {self._max} worker ids of {self._dir} are taken")

    async def _keepalive(self) -> None:
        lease = self._client.lease
        while not self._lost.is_set():
            await asyncio.sleep(max(0.2, self._ttl / 3))
            sent = time.monotonic()
            call = lease.keep_alive(self._lease_id)
            try:
                async for resp in call:
                    if resp.TTL <= 0:
                        _log.error("worker lease %s expired", self._lease_id)
                        self._lost.set()
                    else:
                        self._valid_until = sent + resp.TTL
                    break
            except Exception:  # keep trying until the lease would have expired
                _log.warning("worker lease keepalive failed", exc_info=True)
            finally:
                call.cancel()
            if time.monotonic() >= self._valid_until - self._margin:
                _log.error("worker lease %s not renewed in time", self._lease_id)
                self._lost.set()

    async def release(self, high_water_ms: int = 0) -> None:
        """Stop renewing and revoke the lease (the key goes with it).

        ``high_water_ms`` (the generator's `last_ms`) is kept under ``worker-floors/`` so
        the next holder of this worker id starts after it (`IdGenerator(not_before_ms=)`),
        even if its clock is behind ours.
        """
        self._lost.set()
        if high_water_ms and self._worker_id >= 0:
            with contextlib.suppress(Exception):
                await self._client.kv.put(f"{self._floor_dir}{self._worker_id}", str(high_water_ms))
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._lease_id:
            with contextlib.suppress(Exception):
                await self._client.lease.revoke(self._lease_id)
            self._lease_id = 0


def _range_end(prefix: str) -> bytes:
    raw = bytearray(prefix.encode())
    raw[-1] += 1
    return bytes(raw)


def _tail(key: bytes, prefix: str) -> int:
    try:
        return int(key.decode()[len(prefix) :])
    except ValueError:
        return -1


__all__ = [
    "ClockMovedBackwards",
    "EtcdWorkerLease",
    "IdGenerator",
    "IdParts",
    "LocalWorkerAllocator",
    "StaticWorker",
    "WorkerLease",
    "WorkerLeaseLost",
    "parse_id",
]
