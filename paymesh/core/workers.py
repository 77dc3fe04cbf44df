"""Leasing the worker number an `IdGenerator` puts in its ids (`paymesh.core.ids`).

Two backends of the `WorkerLease` protocol: `LocalWorkerAllocator` (one `flock`ed file per
worker id, for processes on one host: the embedded backend) and `EtcdWorkerLease` (a key
per worker id bound to an etcd lease, for production). Both guarantee that no two live
processes hold the same worker id; the etcd lease also leaves a worker id's high-water mark
behind (``worker-floors/``) so that the next holder starts after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from paymesh.core.ids import WorkerLeaseLost
from paymesh.ids import MAX_WORKER

_log = logging.getLogger(__name__)


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
        # Renew four times per TTL, and retry a failed renewal quickly: a busy machine or
        # one dropped keepalive must not cost the lease while etcd still holds it.
        self._period = max(0.2, ttl / 4)
        self._quick_retry = min(self._period, 0.25)
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

    async def _renew_once(self) -> bool:
        """One keepalive round trip, bounded in time; True when the lease was renewed."""
        lease = self._client.lease
        sent = time.monotonic()
        call = lease.keep_alive(self._lease_id)
        renewed = False

        async def first_answer() -> None:
            nonlocal renewed
            async for resp in call:
                if resp.TTL <= 0:
                    _log.error("worker lease %s expired", self._lease_id)
                    self._lost.set()
                else:
                    self._valid_until = sent + resp.TTL
                    renewed = True
                break

        try:
            # A hung stream must not use up the lease: give up after one renewal period
            # and try again on a fresh call.
            await asyncio.wait_for(first_answer(), self._period)
        except Exception:  # keep trying until the lease would have expired
            _log.warning("worker lease keepalive failed", exc_info=True)
        finally:
            call.cancel()
        if time.monotonic() >= self._valid_until - self._margin:
            _log.error("worker lease %s not renewed in time", self._lease_id)
            self._lost.set()
        return renewed

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
        renewed = True
        while not self._closed:
            if self._lost.is_set():
                await self._reacquire()
                continue
            await asyncio.sleep(self._period if renewed else self._quick_retry)
            renewed = await self._renew_once()
            if renewed:
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


__all__ = ["EtcdWorkerLease", "LocalWorkerAllocator"]
