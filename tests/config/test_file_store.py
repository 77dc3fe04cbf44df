"""FileConfigStore specifics: the file format, atomic replace, hand edits noticed by watch."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from paymesh.config.file_store import FileConfigStore
from paymesh.config.store import WatchEvent


async def test_file_format_and_atomic_replace(tmp_path: Path) -> None:
    path = tmp_path / "dev" / "config.json"
    store = FileConfigStore(path)
    try:
        r1 = await store.put("/p/json", b'{"a": 1}')
        r2 = await store.put("/p/bin", b"\xff\x00")
        await store.put("/p/gone", b"x")
        r4 = await store.put("/p/json", b'{"a": 2}')
        assert await store.delete("/p/gone")
        doc = json.loads(path.read_text())
        assert doc["revision"] == r4 + 1
        assert doc["keys"]["/p/json"] == {"value": '{"a": 2}', "revision": r4}
        assert doc["keys"]["/p/bin"] == {"value_b64": "/wA=", "revision": r2}
        assert doc["deleted"] == {"/p/gone": r4 + 1}
        assert r1 < r2 < r4
        assert sorted(os.listdir(path.parent)) == ["config.json", "config.json.lock"]  # no temp
        assert path.stat().st_mode & 0o077 == 0
    finally:
        await store.close()
    reopened = FileConfigStore(path)
    try:
        entry = await reopened.get("/p/bin")
        assert entry is not None
        assert (entry.value, entry.revision) == (b"\xff\x00", r2)
        assert await reopened.put("/p/new", b"1") == r4 + 2
    finally:
        await reopened.close()


async def test_hand_edits_are_seen(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    store = FileConfigStore(path, poll_interval=0.05)
    got: list[WatchEvent] = []
    arrived = asyncio.Event()

    async def consume() -> None:
        async for ev in store.watch("/p/"):
            got.append(ev)
            arrived.set()

    try:
        r1 = await store.put("/p/a", b"1")
        await store.put("/p/b", b"2")
        task = asyncio.create_task(consume())
        await asyncio.sleep(0.1)

        # An editor changes a value (keeping the old revision), adds a key without a
        # revision, and removes one.
        doc = json.loads(path.read_text())
        doc["keys"]["/p/a"]["value"] = "edited"
        doc["keys"]["/p/c"] = {"value": "added"}
        del doc["keys"]["/p/b"]
        path.write_text(json.dumps(doc))

        async with asyncio.timeout(5):
            while len(got) < 3:
                arrived.clear()
                await arrived.wait()
        kinds = sorted((e.kind, e.key, e.value) for e in got)
        assert kinds == [
            ("delete", "/p/b", None),
            ("put", "/p/a", b"edited"),
            ("put", "/p/c", b"added"),
        ]
        assert len({e.revision for e in got}) == 3
        assert all(e.revision > r1 + 1 for e in got)
        a = await store.get("/p/a")
        assert a is not None
        assert a.value == b"edited"
        # The edit was normalised on disk: fresh revisions, so CAS keeps working.
        doc = json.loads(path.read_text())
        assert doc["keys"]["/p/a"]["revision"] == a.revision
        assert await store.put("/p/a", b"cas", expected_revision=a.revision) > a.revision

        # A broken file (an editor mid-save) is ignored until it parses again.
        path.write_text("{not json")
        await asyncio.sleep(0.2)
        assert (await store.get("/p/c")) is not None
        task.cancel()
    finally:
        await store.close()
