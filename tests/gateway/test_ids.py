"""Snowflake ids and worker-id allocation (local lock files and real etcd)."""

from __future__ import annotations

import asyncio
import multiprocessing
import re
from pathlib import Path

import pytest
from etcd3aio import Etcd3Client

from paymesh.gateway import ids
from paymesh.testing.servers import EtcdServer

ID_RE = re.compile(r"^[A-Z][0-9]+$")


def test_hundred_thousand_unique_and_increasing() -> None:
    gen = ids.IdGenerator(3, 7)
    out = [gen.order_id() for _ in range(100_000)]
    assert len(set(out)) == len(out)
    assert out == sorted(out)
    assert all(8 <= len(i) <= 32 and ID_RE.match(i) for i in out[:1000])
    parts = ids.parse_id(out[-1])
    assert (parts.prefix, parts.datacenter_id, parts.worker_id) == ("P", 3, 7)


def test_prefixes_and_width() -> None:
    gen = ids.IdGenerator(0, 0)
    assert gen.refund_id().startswith("R")
    assert gen.transfer_id().startswith("T")
    assert len(gen.order_id()) == len(gen.event_id()) == 1 + ids.DIGITS
    with pytest.raises(ValueError, match="prefix"):
        gen.next_id("P-")


def test_distinct_workers_never_collide() -> None:
    fixed = 1_763_769_600_000

    def frozen() -> int:
        return fixed  # all generators issue within the same millisecond

    a = ids.IdGenerator(1, 1, clock_ms=frozen)
    b = ids.IdGenerator(1, 2, clock_ms=frozen)
    c = ids.IdGenerator(2, 1, clock_ms=frozen)
    seen: set[str] = set()
    for _ in range(ids.MAX_SEQUENCE):
        for g in (a, b, c):
            seen.add(g.order_id())
    assert len(seen) == 3 * ids.MAX_SEQUENCE


def test_clock_backwards_waits_or_raises() -> None:
    now = [1_763_769_600_000]
    gen = ids.IdGenerator(0, 0, clock_ms=lambda: now[0], max_backward_ms=5)
    first = gen.order_id()
    now[0] -= 100
    with pytest.raises(ids.ClockMovedBackwards):
        gen.order_id()
    now[0] += 100
    assert gen.order_id() > first


def test_sequence_exhaustion_waits_for_next_ms() -> None:
    t = [1_763_769_600_000]
    calls = [0]

    def clock() -> int:
        calls[0] += 1
        if calls[0] > ids.MAX_SEQUENCE + 5:
            t[0] += 1
        return t[0]

    gen = ids.IdGenerator(0, 0, clock_ms=clock)
    out = [gen.next_int() for _ in range(ids.MAX_SEQUENCE + 3)]
    assert len(set(out)) == len(out)
    assert out == sorted(out)


def test_invalid_worker_stops_issuing() -> None:
    class Dead:
        worker_id = 1

        def is_valid(self) -> bool:
            return False

    with pytest.raises(ids.WorkerLeaseLost):
        ids.IdGenerator(0, Dead()).order_id()


def _claim(directory: str, q: multiprocessing.Queue[int]) -> None:
    alloc = ids.LocalWorkerAllocator(directory)
    q.put(alloc.acquire())
    q.get()  # hold until the parent is done


def test_local_allocator_distinct_across_processes(tmp_path: Path) -> None:
    a = ids.LocalWorkerAllocator(tmp_path)
    b = ids.LocalWorkerAllocator(tmp_path)
    assert (a.acquire(), b.acquire()) == (0, 1)
    ctx = multiprocessing.get_context("spawn")
    q: multiprocessing.Queue[int] = ctx.Queue()
    proc = ctx.Process(target=_claim, args=(str(tmp_path), q))
    proc.start()
    try:
        assert q.get(timeout=30) == 2
    finally:
        proc.kill()
        proc.join()
    a.release()
    c = ids.LocalWorkerAllocator(tmp_path)
    assert c.acquire() == 0  # released id is reusable
    d = ids.LocalWorkerAllocator(tmp_path)
    assert d.acquire() == 2  # the killed process's lock is gone
    assert not a.is_valid()
    assert c.is_valid()
    for x in (b, c, d):
        x.release()


async def test_etcd_leases_distinct_and_reusable(etcd_server: EtcdServer, etcd_prefix: str) -> None:
    async with Etcd3Client([etcd_server.endpoint]) as client:
        one = ids.EtcdWorkerLease(client, prefix=etcd_prefix, datacenter_id=2, ttl=5)
        two = ids.EtcdWorkerLease(client, prefix=etcd_prefix, datacenter_id=2, ttl=5)
        other_dc = ids.EtcdWorkerLease(client, prefix=etcd_prefix, datacenter_id=3, ttl=5)
        assert await one.acquire() == 0
        assert await two.acquire() == 1
        assert await other_dc.acquire() == 0
        assert one.is_valid()
        assert two.is_valid()
        gen1, gen2 = ids.IdGenerator(2, one), ids.IdGenerator(2, two)
        assert gen1.order_id() != gen2.order_id()

        last = gen1.last_ms
        await one.release(high_water_ms=last + 50)
        assert not one.is_valid()
        with pytest.raises(ids.WorkerLeaseLost):
            gen1.order_id()
        three = ids.EtcdWorkerLease(client, prefix=etcd_prefix, datacenter_id=2, ttl=5)
        assert await three.acquire() == 0  # released id is reusable
        assert three.floor_ms == last + 50
        gen3 = ids.IdGenerator(2, three, not_before_ms=three.floor_ms)
        assert ids.parse_id(gen3.order_id()).unix_ms > last + 50  # waited past the floor
        for lease in (two, three, other_dc):
            await lease.release()


async def test_etcd_lease_loss_stops_ids(etcd_server: EtcdServer, etcd_prefix: str) -> None:
    async with Etcd3Client([etcd_server.endpoint]) as client:
        lease = ids.EtcdWorkerLease(client, prefix=etcd_prefix, ttl=2, margin=0.2)
        await lease.acquire()
        gen = ids.IdGenerator(0, lease)
        gen.order_id()
        # Somebody revokes our lease behind our back: keepalive sees TTL <= 0.
        assert client.lease is not None
        await client.lease.revoke(lease._lease_id)
        await asyncio.wait_for(lease.lost.wait(), 5)
        assert not lease.is_valid()
        with pytest.raises(ids.WorkerLeaseLost):
            gen.order_id()
        await lease.release()
