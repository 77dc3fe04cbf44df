"""Issuing order, refund, transfer and event ids (their format: `paymesh.ids`).

An id is a prefix letter plus a zero-padded decimal snowflake::

    P 000123456789012345678  (1 letter + 21 digits = 22 characters)

The snowflake packs milliseconds since 2024-01-01 UTC (42 bits, ~139 years), the
datacentre (5 bits), the worker (10 bits) and a per-millisecond sequence (12 bits). Ids are
alphanumeric, 8-32 characters (WeChat 6-32, UnionPay 8-40 without ``-``/``_``), carry
nothing secret, and sort lexically in time order because the width is fixed.

Workers never share an id: in production each process leases its worker number from etcd
(`EtcdWorkerLease`); the embedded backend uses lock files (`LocalWorkerAllocator`). A
generator whose lease is lost stops issuing ids (UNAVAILABLE) until the lease re-acquires a
worker id. Nothing ever sleeps: when the clock steps back a little (or a millisecond's
sequence is used up) ids continue from the last issued millisecond, up to
``max_backward_ms`` ahead of the clock, and are refused beyond that, so an id is never
repeated. A worker id leaves its high-water mark behind (``worker-floors/``) when it is
released or re-acquired after a loss, so the next holder, whose clock may lag, starts after
it (`floor_ms`, applied by the generator whenever the lease changes).
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

_log = logging.getLogger(__name__)


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
    to a lease kept alive in the background. The lease is valid until the last confirmed
    renewal plus its TTL (minus a margin), so the generator stops issuing ids before
    another process can claim the key. When it is lost (etcd unreachable for longer than
    the TTL, or revoked) the background task keeps trying to lease a worker id again (the
    same one when it is free), leaves the old id's high-water mark under
    ``worker-floors/`` and adopts the new id's floor; until then `is_valid()` is False.
    The floor is also raised at every renewal, so a crashed holder's successor starts after
    (nearly) everything it issued even when its clock is behind.
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
        retry_seconds: float = 1.0,
    ) -> None:
        self._client = client
        self._dir = f"{prefix.rstrip('/')}/workers/{datacenter_id}/"
        self._floor_dir = f"{prefix.rstrip('/')}/worker-floors/{datacenter_id}/"
        self.floor_ms = 0
        self.high_water_ms: Callable[[], int] = lambda: 0
        """The generator's `last_ms` (set by whoever builds the IdGenerator)."""
        self._ttl = ttl
        self._max = min(max_workers, MAX_WORKER + 1)
        self._margin = margin
        self._retry = retry_seconds
        self._lease_id = 0
        self._worker_id = -1
        self._valid_until = 0.0
        self._lost = asyncio.Event()
        self._closed = False
        self.reacquired = 0
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
        """Set while no lease is held (cleared again when a worker id is re-acquired)."""
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
        n = await self._lease_worker_id(prefer=-1)
        self._task = asyncio.create_task(self._keepalive(), name=f"worker-lease-{n}")
        return n

    async def _lease_worker_id(self, prefer: int) -> int:
        kv, lease = self._client.kv, self._client.lease
        started = time.monotonic()
        granted = await lease.grant(self._ttl)
        taken_resp = await kv.get(self._dir, _range_end(self._dir), keys_only=True)
        taken = {_tail(kv_.key, self._dir) for kv_ in taken_resp.kvs}
        value = json.dumps({"host": socket.gethostname(), "pid": os.getpid()})
        order = ([prefer] if 0 <= prefer < self._max else []) + list(range(self._max))
        for n in order:
            if n in taken:
                continue
            key = f"{self._dir}{n}"
            resp = await kv.txn(
                compare=[kv.txn_compare_create_revision(key, 0)],
                success=[kv.txn_op_put(key, value, lease=granted.ID)],
            )
            if resp.succeeded:
                floor = await kv.get(f"{self._floor_dir}{n}")
                self.floor_ms = int(floor.kvs[0].value) if floor.kvs else 0
                self._lease_id, self._worker_id = granted.ID, n
                self._valid_until = started + granted.TTL
                self._lost.clear()
                return n
        await lease.revoke(granted.ID)
        raise WorkerLeaseLost(f"all {self._max} worker ids of {self._dir} are taken")

    async def _raise_floor(self, worker_id: int, high_water_ms: int) -> None:
        """floor(worker_id) = max(floor, high_water_ms), with a compare-and-swap."""
        kv = self._client.kv
        key = f"{self._floor_dir}{worker_id}"
        for _ in range(5):
            got = await kv.get(key)
            current = int(got.kvs[0].value) if got.kvs else 0
            if current >= high_water_ms:
                return
            guard = (
                kv.txn_compare_version(key, got.kvs[0].version)
                if got.kvs
                else kv.txn_compare_create_revision(key, 0)
            )
            resp = await kv.txn(compare=[guard], success=[kv.txn_op_put(key, str(high_water_ms))])
            if resp.succeeded:
                return

    async def _renew_once(self) -> None:
        lease = self._client.lease
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

    async def _reacquire(self) -> None:
        """Lease a worker id again after a loss; retried until it works or we close."""
        old = self._worker_id
        while not self._closed:
            try:
                with contextlib.suppress(Exception):  # the old lease may be gone already
                    await self._client.lease.revoke(self._lease_id)
                await self._raise_floor(old, self.high_water_ms())
                n = await self._lease_worker_id(prefer=old)
            except Exception:
                _log.warning("worker id re-acquire failed; retrying", exc_info=True)
                await asyncio.sleep(self._retry)
                continue
            self.reacquired += 1
            _log.warning("worker id re-acquired: %s (was %s), floor %s", n, old, self.floor_ms)
            return

    async def _keepalive(self) -> None:
        while not self._closed:
            if self._lost.is_set():
                await self._reacquire()
                continue
            await asyncio.sleep(max(0.2, self._ttl / 3))
            await self._renew_once()
            if not self._lost.is_set():
                # Keep the floor close behind us, so that after a crash (no release) the
                # next holder, even one whose clock lags, starts after what we issued.
                try:
                    await self._raise_floor(self._worker_id, self.high_water_ms())
                except Exception:
                    _log.warning("worker floor update failed", exc_info=True)

    async def release(self, high_water_ms: int = 0) -> None:
        """Stop renewing and revoke the lease (the key goes with it).

        ``high_water_ms`` (the generator's `last_ms`) is kept under ``worker-floors/`` so
        the next holder of this worker id starts after it (`IdGenerator(not_before_ms=)`),
        even if its clock is behind ours.
        """
        self._closed = True
        self._lost.set()
        high_water_ms = max(high_water_ms, self.high_water_ms())
        if high_water_ms and self._worker_id >= 0:
            with contextlib.suppress(Exception):
                await self._raise_floor(self._worker_id, high_water_ms)
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
