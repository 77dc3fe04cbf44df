"""FileConfigStore: the `paymesh dev` backend. One JSON file, same semantics as etcd.

File layout (hand-editable)::

    {"revision": 7,
     "keys": {"/paymesh/config/notify": {"value": "{...}", "revision": 7},
              "/some/binary": {"value_b64": "AAEC", "revision": 3}},
     "deleted": {"/paymesh/config/apps/old": 5}}

`revision` is the global counter; each key keeps the revision of its last write; `deleted`
remembers recent deletions so a watch can replay them. Writes take an exclusive `flock` on
`<file>.lock`, re-read the file, compare, and replace it atomically (temp file + `os.replace`),
so several processes may share one file. Edits made by hand are noticed by polling the file's
mtime: changed values get fresh revisions and are delivered to watchers.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import contextlib
import fcntl
import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paymesh.config.store import ConfigStore, Entry, Snapshot, WatchEvent
from paymesh.errors import ConfigConflict, ConfigInvalid
from paymesh.runtime.logging import get_logger

log = get_logger(__name__)

_MAX_TOMBSTONES = 1000


@dataclass
class _State:
    revision: int = 0
    keys: dict[str, Entry] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)


def _encode_value(value: bytes) -> dict[str, Any]:
    try:
        return {"value": value.decode("utf-8")}
    except UnicodeDecodeError:
        return {"value_b64": base64.b64encode(value).decode("ascii")}


def _decode_value(rec: Any) -> bytes:
    if isinstance(rec, dict):
        if isinstance(rec.get("value"), str):
            return str(rec["value"]).encode("utf-8")
        if isinstance(rec.get("value_b64"), str):
            return base64.b64decode(rec["value_b64"], validate=True)
        if "value" in rec:  # a JSON document typed in by hand
            return json.dumps(rec["value"], ensure_ascii=False).encode("utf-8")
    raise ValueError("each key needs a string 'value' or 'value_b64'")


def _conflict(key: str, expected: int, actual: int) -> ConfigConflict:
    return ConfigConflict(
        f"{key} changed: expected revision {expected}, found {actual}",
        metadata={"key": key, "expected_revision": str(expected), "revision": str(actual)},
    )


class FileConfigStore(ConfigStore):
    """A ConfigStore in one JSON file (see module doc). Not for production."""

    def __init__(self, path: str | os.PathLike[str], *, poll_interval: float = 0.5) -> None:
        self._path = Path(path)
        self._poll_interval = poll_interval
        self._state = _State()
        self._signature: tuple[int, int, int] | None = None
        self._subscribers: set[asyncio.Queue[WatchEvent | None]] = set()
        self._lock_fd: int | None = None
        self._closed = False

    @property
    def path(self) -> Path:
        return self._path

    # ---- file I/O (synchronous: a small local file, done under an exclusive flock) ----

    @contextlib.contextmanager
    def _flock(self) -> Iterator[None]:
        if self._closed:
            raise RuntimeError("FileConfigStore is closed")
        if self._lock_fd is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(f"{self._path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self._path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _read_file(self) -> _State:
        try:
            raw = json.loads(self._path.read_text("utf-8") or "{}")
        except FileNotFoundError:
            return _State()
        if not isinstance(raw, dict):
            raise ValueError("top level must be an object")
        keys: dict[str, Entry] = {}
        max_rev = int(raw.get("revision") or 0)
        for key, rec in dict(raw.get("keys") or {}).items():
            rev = rec.get("revision") if isinstance(rec, dict) else None
            rev = rev if isinstance(rev, int) and rev > 0 else 0
            keys[str(key)] = Entry(str(key), _decode_value(rec), rev)
            max_rev = max(max_rev, rev)
        deleted = {str(k): int(v) for k, v in dict(raw.get("deleted") or {}).items()}
        max_rev = max([max_rev, *deleted.values()])
        return _State(max_rev, keys, deleted)

    def _write_file(self, state: _State) -> None:
        if len(state.deleted) > _MAX_TOMBSTONES:
            keep = sorted(state.deleted.items(), key=lambda kv: kv[1])[-_MAX_TOMBSTONES:]
            state.deleted = dict(keep)
        doc = {
            "revision": state.revision,
            "keys": {
                k: {**_encode_value(e.value), "revision": e.revision}
                for k, e in sorted(state.keys.items())
            },
            "deleted": dict(sorted(state.deleted.items())),
        }
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(f".{self._path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path)
        self._signature = self._stat()

    def _reload_locked(self) -> builtins.list[WatchEvent]:
        """Bring the in-memory state up to the file (caller holds the flock).

        Records whose revision is missing, or unchanged while the value changed (a hand
        edit), get a fresh revision and the file is rewritten. Returns the changes seen.
        """
        sig = self._stat()
        if sig == self._signature:
            return []
        try:
            disk = self._read_file()
        except (ValueError, TypeError, AttributeError) as e:
            log.warning("config_file_unreadable", path=str(self._path), error=str(e))
            self._signature = sig
            return []
        old = self._state
        dirty = False

        def bump() -> int:
            nonlocal dirty
            dirty = True
            disk.revision += 1
            return disk.revision

        events: builtins.list[WatchEvent] = []
        for key, entry in sorted(disk.keys.items()):
            known = old.keys.get(key)
            rev = entry.revision
            if rev == 0 or (
                known is not None and known.revision == rev and known.value != entry.value
            ):
                rev = bump()
                disk.keys[key] = Entry(key, entry.value, rev)
                disk.deleted.pop(key, None)
            if known is None or known.revision != rev or known.value != entry.value:
                events.append(WatchEvent("put", key, entry.value, rev))
        for key in sorted(set(old.keys) - set(disk.keys)):
            rev = disk.deleted.get(key, 0)
            if rev <= old.keys[key].revision:
                rev = bump()
                disk.deleted[key] = rev
            events.append(WatchEvent("delete", key, None, rev))
        self._state = disk
        if dirty:
            self._write_file(disk)
        else:
            self._signature = sig
        events.sort(key=lambda ev: ev.revision)
        return events

    def _refresh(self) -> None:
        with self._flock():
            events = self._reload_locked()
        self._publish(events)

    def _publish(self, events: builtins.list[WatchEvent]) -> None:
        for ev in events:
            for q in self._subscribers:
                q.put_nowait(ev)

    def _write(self, key: str, value: bytes | None, expected: int | None) -> tuple[int, bool]:
        """Put (value) or delete (None) under the flock. Returns (revision, existed)."""
        with self._flock():
            events = self._reload_locked()
            state = self._state
            current = state.keys.get(key)
            actual = current.revision if current is not None else 0
            if expected is not None and expected != actual:
                self._publish(events)
                raise _conflict(key, expected, actual)
            if value is None and current is None:
                self._publish(events)
                return state.revision, False
            state.revision += 1
            rev = state.revision
            if value is None:
                del state.keys[key]
                state.deleted[key] = rev
                events.append(WatchEvent("delete", key, None, rev))
            else:
                state.keys[key] = Entry(key, value, rev)
                state.deleted.pop(key, None)
                events.append(WatchEvent("put", key, value, rev))
            self._write_file(state)
        self._publish(events)
        return rev, current is not None

    # ---- ConfigStore ----

    async def get(self, key: str) -> Entry | None:
        self._refresh()
        return self._state.keys.get(key)

    async def list(self, prefix: str) -> builtins.list[Entry]:
        return (await self.snapshot(prefix)).entries

    async def snapshot(self, prefix: str) -> Snapshot:
        self._refresh()
        entries = [e for k, e in sorted(self._state.keys.items()) if k.startswith(prefix)]
        return Snapshot(entries, self._state.revision)

    async def put(self, key: str, value: bytes, *, expected_revision: int | None = None) -> int:
        if not key:
            raise ConfigInvalid("empty key")
        rev, _ = self._write(key, bytes(value), expected_revision)
        return rev

    async def delete(self, key: str, *, expected_revision: int | None = None) -> bool:
        _, existed = self._write(key, None, expected_revision)
        return existed

    async def watch(self, prefix: str, *, start_revision: int = 0) -> AsyncIterator[WatchEvent]:
        queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue()
        self._refresh()
        self._subscribers.add(queue)
        try:
            if start_revision > 0:
                state = self._state
                replay = [e for e in state.keys.values() if e.revision >= start_revision]
                backlog = [WatchEvent("put", e.key, e.value, e.revision) for e in replay]
                backlog += [
                    WatchEvent("delete", k, None, r)
                    for k, r in state.deleted.items()
                    if r >= start_revision
                ]
                for old in sorted(backlog, key=lambda e: e.revision):
                    queue.put_nowait(old)
            while not self._closed:
                try:
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a
                    # cancellation that races with the queue, and the watch never ends.
                    async with asyncio.timeout(self._poll_interval):
                        ev = await queue.get()
                except TimeoutError:
                    if not self._closed:
                        self._refresh()
                    continue
                if ev is None:
                    break
                if ev.key.startswith(prefix):
                    yield ev
        finally:
            self._subscribers.discard(queue)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for q in self._subscribers:
            q.put_nowait(None)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


__all__ = ["FileConfigStore"]
