"""The ConfigStore contract, run against FileConfigStore and a real etcd."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from paymesh.config.store import ConfigStore, WatchEvent
from paymesh.errors import ConfigConflict


async def _collect(it: AsyncIterator[WatchEvent], n: int, wait: float = 10.0) -> list[WatchEvent]:
    out: list[WatchEvent] = []

    async def run() -> None:
        async for ev in it:
            out.append(ev)
            if len(out) == n:
                return

    await asyncio.wait_for(run(), wait)
    return out


async def test_get_put_list(store: ConfigStore, etcd_prefix: str) -> None:
    p = etcd_prefix
    assert await store.get(p + "a") is None
    r1 = await store.put(p + "b", b"2")
    r2 = await store.put(p + "a", b"\x00\xff binary")
    assert r2 > r1
    entry = await store.get(p + "a")
    assert entry is not None
    assert (entry.key, entry.value, entry.revision) == (p + "a", b"\x00\xff binary", r2)
    await store.put(p.rstrip("/") + "x/other", b"outside")  # shares the text prefix minus "/"
    listed = await store.list(p)
    assert [(e.key, e.value) for e in listed] == [(p + "a", b"\x00\xff binary"), (p + "b", b"2")]
    snap = await store.snapshot(p)
    assert snap.entries == listed
    assert snap.revision >= r2


async def test_put_overwrites_and_bumps_revision(store: ConfigStore, etcd_prefix: str) -> None:
    k = etcd_prefix + "k"
    r1 = await store.put(k, b"1")
    r2 = await store.put(k, b"2")
    assert r2 > r1
    entry = await store.get(k)
    assert entry is not None
    assert entry.value == b"2"
    assert entry.revision == r2


async def test_compare_and_swap(store: ConfigStore, etcd_prefix: str) -> None:
    k = etcd_prefix + "cas"
    r1 = await store.put(k, b"v1", expected_revision=0)  # create only if absent
    with pytest.raises(ConfigConflict):
        await store.put(k, b"again", expected_revision=0)
    r2 = await store.put(k, b"v2", expected_revision=r1)
    with pytest.raises(ConfigConflict) as info:
        await store.put(k, b"stale", expected_revision=r1)
    assert info.value.metadata["revision"] == str(r2)
    entry = await store.get(k)
    assert entry is not None
    assert entry.value == b"v2"
    with pytest.raises(ConfigConflict):
        await store.put(etcd_prefix + "absent", b"x", expected_revision=5)


async def test_concurrent_cas_has_one_winner(stores: list[ConfigStore], etcd_prefix: str) -> None:
    k = etcd_prefix + "race"
    r = await stores[0].put(k, b"0")
    results = await asyncio.gather(
        *(s.put(k, f"w{i}".encode(), expected_revision=r) for i, s in enumerate(stores * 2)),
        return_exceptions=True,
    )
    assert sum(isinstance(x, int) for x in results) == 1
    assert sum(isinstance(x, ConfigConflict) for x in results) == 3


async def test_delete(store: ConfigStore, etcd_prefix: str) -> None:
    k = etcd_prefix + "d"
    assert await store.delete(k) is False
    r = await store.put(k, b"x")
    with pytest.raises(ConfigConflict):
        await store.delete(k, expected_revision=r + 100)
    assert await store.delete(k, expected_revision=r) is True
    assert await store.get(k) is None
    await store.put(k, b"y")
    assert await store.delete(k) is True
    assert await store.list(etcd_prefix) == []


async def test_two_instances_see_each_other(stores: list[ConfigStore], etcd_prefix: str) -> None:
    a, b = stores
    r = await a.put(etcd_prefix + "shared", b"from a")
    entry = await b.get(etcd_prefix + "shared")
    assert entry is not None
    assert (entry.value, entry.revision) == (b"from a", r)
    with pytest.raises(ConfigConflict):
        await b.put(etcd_prefix + "shared", b"from b", expected_revision=r - 1)


async def test_watch_sees_put_and_delete(store: ConfigStore, etcd_prefix: str) -> None:
    events = store.watch(etcd_prefix)
    task = asyncio.create_task(_collect(events, 3))
    await asyncio.sleep(0.3)  # let the watch start
    r1 = await store.put(etcd_prefix + "w", b"1")
    await store.put("/elsewhere/" + etcd_prefix, b"ignored")
    r2 = await store.put(etcd_prefix + "w", b"2")
    assert await store.delete(etcd_prefix + "w") is True
    got = await task
    assert [(e.kind, e.key, e.value) for e in got] == [
        ("put", etcd_prefix + "w", b"1"),
        ("put", etcd_prefix + "w", b"2"),
        ("delete", etcd_prefix + "w", None),
    ]
    assert [e.revision for e in got[:2]] == [r1, r2]
    assert got[2].revision > r2


async def test_watch_sees_other_instance(stores: list[ConfigStore], etcd_prefix: str) -> None:
    """Changes made through another client arrive (the file store may coalesce changes that
    land within one poll interval into the latest state; each state that lasts is seen)."""
    watcher, writer = stores
    events = watcher.watch(etcd_prefix)
    first = asyncio.create_task(_collect(events, 1))
    await asyncio.sleep(0.3)
    r1 = await writer.put(etcd_prefix + "x", b"1")
    assert [(e.kind, e.key, e.value, e.revision) for e in await first] == [
        ("put", etcd_prefix + "x", b"1", r1)
    ]
    await writer.delete(etcd_prefix + "x")
    got = await _collect(events, 1)
    assert [(e.kind, e.key) for e in got] == [("delete", etcd_prefix + "x")]
    assert got[0].revision > r1


async def test_watch_from_revision_replays(store: ConfigStore, etcd_prefix: str) -> None:
    await store.put(etcd_prefix + "old", b"0")
    snap = await store.snapshot(etcd_prefix)
    r1 = await store.put(etcd_prefix + "new", b"1")
    await store.delete(etcd_prefix + "old")
    got = await _collect(store.watch(etcd_prefix, start_revision=snap.revision + 1), 2)
    assert [(e.kind, e.key, e.revision >= r1) for e in got] == [
        ("put", etcd_prefix + "new", True),
        ("delete", etcd_prefix + "old", True),
    ]


async def test_watch_is_cancellable(store: ConfigStore, etcd_prefix: str) -> None:
    task = asyncio.create_task(_collect(store.watch(etcd_prefix), 1, wait=60))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
