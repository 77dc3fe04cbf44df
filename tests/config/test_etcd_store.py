"""EtcdConfigStore specifics: the watch survives an etcd restart; errors when etcd is down."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from paymesh.config.etcd_store import EtcdConfigStore
from paymesh.config.store import ConfigStoreUnavailable, WatchEvent
from paymesh.testing.servers import EtcdServer


@pytest.fixture
def own_etcd(tmp_path: Path) -> Iterator[EtcdServer]:
    """A private etcd this test may stop and start (the session one is shared)."""
    server = EtcdServer(root=tmp_path / "etcd")
    server.start()
    try:
        yield server
    finally:
        server.close()


async def test_watch_survives_etcd_restart(own_etcd: EtcdServer) -> None:
    watcher = EtcdConfigStore([own_etcd.endpoint], timeout=2.0)
    writer = EtcdConfigStore([own_etcd.endpoint], timeout=2.0)
    seen: list[WatchEvent] = []
    arrived = asyncio.Event()
    three = asyncio.Event()

    async def consume() -> None:
        async for ev in watcher.watch("/r/"):
            seen.append(ev)
            arrived.set()
            if len(seen) >= 3:
                three.set()

    task = asyncio.create_task(consume())
    try:
        await asyncio.sleep(0.3)
        r1 = await writer.put("/r/a", b"1")
        await asyncio.wait_for(arrived.wait(), 10)

        await asyncio.to_thread(own_etcd.stop, kill=True)  # a crash, not a clean shutdown
        with pytest.raises(ConfigStoreUnavailable):
            await writer.get("/r/a")
        await asyncio.sleep(1.0)
        await asyncio.to_thread(own_etcd.start)

        # Written right after the restart, possibly before the watcher has reconnected:
        # it must resume from its last revision and still deliver these, once each.
        r2 = await writer.put("/r/b", b"2")
        await writer.delete("/r/a")
        await asyncio.wait_for(three.wait(), 20)
        await asyncio.sleep(0.3)
        assert [(e.kind, e.key, e.value) for e in seen] == [
            ("put", "/r/a", b"1"),
            ("put", "/r/b", b"2"),
            ("delete", "/r/a", None),
        ]
        assert [e.revision for e in seen[:2]] == [r1, r2]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await watcher.close()
        await writer.close()


async def test_unreachable_etcd_raises_unavailable(tmp_path: Path) -> None:
    from paymesh.testing.servers import free_port

    store = EtcdConfigStore([f"127.0.0.1:{free_port()}"], timeout=1.0)
    try:
        with pytest.raises(ConfigStoreUnavailable) as info:
            await store.put("/x", b"1")
        assert info.value.retryable
    finally:
        await store.close()


async def test_watch_after_compaction_relists(etcd_server: EtcdServer, etcd_prefix: str) -> None:
    store = EtcdConfigStore([etcd_server.endpoint])
    try:
        await store.put(etcd_prefix + "gone", b"0")
        start = await store.put(etcd_prefix + "a", b"1")
        await store.delete(etcd_prefix + "gone")
        r = await store.put(etcd_prefix + "a", b"2")
        kv = await store._kv()
        await kv.compact(r, physical=True)
        events = store.watch(etcd_prefix, start_revision=start)
        got: list[WatchEvent] = []
        async with asyncio.timeout(10):
            async for ev in events:
                got.append(ev)
                if ev.key == etcd_prefix + "a":
                    break
        assert got[-1] == WatchEvent("put", etcd_prefix + "a", b"2", r)
    finally:
        await store.close()


async def test_repository_cache_survives_etcd_restart(own_etcd: EtcdServer) -> None:
    from paymesh.config.apps import AppConfig
    from paymesh.config.crypto import SecretCipher
    from paymesh.config.repository import ConfigRepository

    cipher = SecretCipher.dev()
    reader_store = EtcdConfigStore([own_etcd.endpoint], timeout=2.0)
    writer_store = EtcdConfigStore([own_etcd.endpoint], timeout=2.0)
    reader = ConfigRepository(reader_store, "/paymesh/config", cipher)
    writer = ConfigRepository(writer_store, "/paymesh/config", cipher)
    app = AppConfig(app_id="a1", name="v1", sign_type="MD5", secret=SecretStr("0123456789ab" * 3))
    try:
        await writer.put_app(app)
        await reader.start()
        assert (await reader.get_app("a1")).name == "v1"
        await asyncio.to_thread(own_etcd.stop, kill=True)
        assert (await reader.get_app("a1")).name == "v1"  # served from the cache while down
        await asyncio.to_thread(own_etcd.start)
        rev = await writer.put_app(app.model_copy(update={"name": "v2"}))
        async with asyncio.timeout(20):
            await reader.wait_for_revision(rev)
        assert (await reader.get_app("a1")).name == "v2"
    finally:
        await reader.close()
        await reader_store.close()
        await writer_store.close()
