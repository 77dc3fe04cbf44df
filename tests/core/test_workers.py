"""Worker-id leases: local lock files across processes, and real etcd (loss, outage, floors)."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

import pytest
from etcd3aio import Etcd3Client

from paymesh.core import ids, workers
from paymesh.testing.servers import EtcdServer


def _claim(directory: str, q: multiprocessing.Queue[int]) -> None:
    alloc = workers.LocalWorkerAllocator(directory)
    q.put(alloc.acquire())
    q.get()  # hold until the parent is done


def test_local_allocator_distinct_across_processes(tmp_path: Path) -> None:
    a = workers.LocalWorkerAllocator(tmp_path)
    b = workers.LocalWorkerAllocator(tmp_path)
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
    c = workers.LocalWorkerAllocator(tmp_path)
    assert c.acquire() == 0  # released id is reusable
    d = workers.LocalWorkerAllocator(tmp_path)
    assert d.acquire() == 2  # the killed process's lock is gone
    assert not a.is_valid()
    assert c.is_valid()
    for x in (b, c, d):
        x.release()


async def test_etcd_leases_distinct_and_reusable(etcd_server: EtcdServer, etcd_prefix: str) -> None:
    async with Etcd3Client([etcd_server.endpoint]) as client:
        one = workers.EtcdWorkerLease(client, prefix=etcd_prefix, datacenter_id=2, ttl=5)
        two = workers.EtcdWorkerLease(client, prefix=etcd_prefix, datacenter_id=2, ttl=5)
        other_dc = workers.EtcdWorkerLease(client, prefix=etcd_prefix, datacenter_id=3, ttl=5)
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
        three = workers.EtcdWorkerLease(client, prefix=etcd_prefix, datacenter_id=2, ttl=5)
        assert await three.acquire() == 0  # released id is reusable
        assert three.floor_ms == last + 50
        gen3 = ids.IdGenerator(2, three)
        assert ids.parse_id(gen3.order_id()).unix_ms > last + 50  # started past the floor
        for lease in (two, three, other_dc):
            await lease.release()


async def test_a_lost_lease_stops_ids_and_is_reacquired(
    etcd_server: EtcdServer, etcd_prefix: str
) -> None:
    async with Etcd3Client([etcd_server.endpoint]) as client:
        lease = workers.EtcdWorkerLease(
            client, prefix=etcd_prefix, ttl=2, margin=0.2, retry_seconds=0.2
        )
        await lease.acquire()
        gen = ids.IdGenerator(0, lease)
        lease.high_water_ms = lambda: gen.last_ms
        before = gen.next_int()
        # Somebody revokes our lease behind our back: keepalive sees TTL <= 0.
        assert client.lease is not None
        await client.lease.revoke(lease._lease_id)
        await asyncio.wait_for(lease.lost.wait(), 5)
        for _ in range(100):
            if lease.reacquired:
                break
            with pytest.raises(ids.WorkerLeaseLost):
                gen.order_id()
            await asyncio.sleep(0.05)
        assert lease.reacquired == 1
        assert lease.is_valid()
        assert lease.worker_id == 0  # the same id, free again
        after = gen.next_int()
        assert after > before
        assert client.kv is not None
        floor = await client.kv.get(f"{lease._floor_dir}0")
        assert int(floor.kvs[0].value) >= ids.parse_id(f"P{before}").unix_ms
        await lease.release()


async def test_an_etcd_outage_longer_than_the_ttl_then_ids_again(
    etcd_server: EtcdServer, etcd_prefix: str
) -> None:
    async with Etcd3Client([etcd_server.endpoint]) as client:
        lease = workers.EtcdWorkerLease(
            client, prefix=etcd_prefix, ttl=2, margin=0.2, retry_seconds=0.3
        )
        await lease.acquire()
        gen = ids.IdGenerator(0, lease)
        lease.high_water_ms = lambda: gen.last_ms
        issued = {gen.next_int() for _ in range(10)}
        await asyncio.to_thread(etcd_server.stop)
        try:
            await asyncio.wait_for(lease.lost.wait(), 10)
            with pytest.raises(ids.WorkerLeaseLost):
                gen.order_id()
        finally:
            await asyncio.to_thread(etcd_server.start)
        for _ in range(200):
            if lease.is_valid():
                break
            await asyncio.sleep(0.1)
        assert lease.is_valid(), "the lease was not re-acquired after etcd came back"
        more = {gen.next_int() for _ in range(10)}
        assert not more & issued
        assert min(more) > max(issued)
        await lease.release()


async def test_the_floor_follows_the_high_water_mark_while_held(
    etcd_server: EtcdServer, etcd_prefix: str
) -> None:
    async with Etcd3Client([etcd_server.endpoint]) as client:
        lease = workers.EtcdWorkerLease(client, prefix=etcd_prefix, datacenter_id=4, ttl=1)
        await lease.acquire()
        gen = ids.IdGenerator(4, lease)
        lease.high_water_ms = lambda: gen.last_ms
        first = gen.next_int()
        assert client.kv is not None

        async def floor() -> int:
            got = await client.kv.get(f"{lease._floor_dir}{lease.worker_id}")  # type: ignore[union-attr]
            return int(got.kvs[0].value) if got.kvs else 0

        for _ in range(50):
            if await floor() >= gen.last_ms:
                break
            await asyncio.sleep(0.1)
        assert await floor() >= gen.last_ms  # written without a release: a crash is covered
        # The holder crashes (no release; its lease expires) and a successor whose clock is
        # 1 s behind takes the id: it starts after what the crashed holder issued.
        assert lease._task is not None
        lease._task.cancel()
        assert client.lease is not None
        await client.lease.revoke(lease._lease_id)
        successor = workers.EtcdWorkerLease(client, prefix=etcd_prefix, datacenter_id=4, ttl=1)
        assert await successor.acquire() == lease.worker_id
        gen2 = ids.IdGenerator(
            4, successor, clock_ms=lambda: ids._now_ms() - 1000, max_backward_ms=5000
        )
        assert ids.parse_id(f"P{gen2.next_int()}").unix_ms > ids.parse_id(f"P{first}").unix_ms
        await successor.release()
        await lease.release()
