"""The live half of the config repository: a cache of the documents under one prefix that a
background watch keeps current, their validation, and the encryption of their secret fields.

`repository.ConfigRepository` builds the typed API (apps, channel accounts, notify) on it;
`documents` is how each document is encoded (secrets encrypted, clear text refused). A change that arrives through the watch and does not decode (bad JSON, fails its
schema, undecryptable) is logged and ignored while the last good document stays in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from paymesh.config import keys
from paymesh.config.apps import AppConfig, NotifyConfig
from paymesh.config.crypto import SecretCipher
from paymesh.config.documents import DocumentCodec
from paymesh.config.registry import channel_model
from paymesh.config.store import ConfigStore, Entry, WatchEvent
from paymesh.errors import ConfigInvalid, ConfigNotFound
from paymesh.runtime import metrics
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.config.repository")

M = TypeVar("M", bound=BaseModel)
ChangeListener = Callable[[WatchEvent], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class Versioned(Generic[M]):
    """A model with the store revision it was read at (pass it back as expected_revision)."""

    model: M
    revision: int


class LiveConfig:
    """The documents under `prefix` of any ConfigStore: cached, followed, validated, decrypted.

    `ConfigRepository` adds the typed documents (apps, channel accounts, notify)."""

    def __init__(
        self,
        store: ConfigStore,
        prefix: str = keys.DEFAULT_PREFIX,
        cipher: SecretCipher | None = None,
    ) -> None:
        self.store = store
        self.prefix = keys.normalize_prefix(prefix)
        self._cipher = cipher if cipher is not None else SecretCipher.from_env()
        self._watch_prefix = self.prefix + "/"
        self._codec = DocumentCodec(self._cipher, self._watch_prefix)
        self._entries: dict[str, Entry] = {}
        self._tombstones: dict[str, int] = {}
        self._models: dict[str, tuple[int, BaseModel]] = {}
        self._revision = 0
        self._changed = asyncio.Condition()
        self._listeners: list[ChangeListener] = []
        self._task: asyncio.Task[None] | None = None
        self._live = False

    # ---- lifecycle and cache ----

    async def start(self) -> None:
        """Load everything under the prefix and follow changes in the background."""
        if self._task is not None:
            return
        start = await self._resync()
        self._live = True
        self._task = asyncio.create_task(self._follow(start), name=f"config-watch {self.prefix}")

    async def close(self) -> None:
        """Stop the background watch (the store is the caller's to close)."""
        task, self._task = self._task, None
        self._live = False
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def revision(self) -> int:
        """The highest store revision the cache has applied."""
        return self._revision

    def add_listener(self, listener: ChangeListener) -> None:
        """Call `listener(event)` after each change under the prefix is applied to the cache."""
        self._listeners.append(listener)

    async def wait_for_revision(self, revision: int) -> None:
        """Wait until the cache has applied `revision` (wrap in `asyncio.timeout`)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._revision >= revision)

    async def _resync(self) -> int:
        snap = await self.store.snapshot(self._watch_prefix)
        entries: dict[str, Entry] = {}
        for e in snap.entries:
            current = self._entries.get(e.key)
            changed = current is None or current.revision != e.revision
            entries[e.key] = current if current and changed and self._rejects(e) else e
        self._entries = entries
        self._tombstones.clear()
        self._models.clear()
        await self._advance(snap.revision)
        return snap.revision + 1

    async def _follow(self, start: int) -> None:
        while True:
            try:
                async for ev in self.store.watch(self._watch_prefix, start_revision=start):
                    await self._apply(ev)
                    start = ev.revision + 1
                    await self._notify(ev)
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the store reconnects itself; this is a last resort
                log.error("config_watch_failed", prefix=self.prefix, error=repr(e))
                await asyncio.sleep(1.0)
                with contextlib.suppress(Exception):
                    start = await self._resync()

    def _model_for(self, key: str) -> tuple[type[BaseModel], str] | None:
        """The model a key under the prefix holds (None: outside the layout, or a channel
        this process has no schema for)."""
        parsed = keys.parse_key(self.prefix, key)
        if parsed is None:
            return None
        if parsed.kind == "app":
            return AppConfig, "app config"
        if parsed.kind == "notify":
            return NotifyConfig, "notify config"
        try:
            return channel_model(parsed.channel), f"{parsed.channel} account config"
        except ConfigNotFound:
            return None

    def _document(self, key: str) -> str:
        """A bounded metrics label for a key: app, notify, or the account's channel."""
        parsed = keys.parse_key(self.prefix, key)
        if parsed is None:
            return "other"
        return metrics.config_document(parsed.channel or parsed.kind)

    def _rejects(self, entry: Entry) -> bool:
        """True when a changed document must not replace the good one in the cache."""
        current = self._entries.get(entry.key)
        found = self._model_for(entry.key)
        if current is None or found is None:
            return False  # nothing good to keep: reads of the key fail loudly instead
        model, what = found
        try:
            self._decode(entry, model, what)
        except ConfigInvalid as e:
            metrics.CONFIG_REJECTED.labels(self._document(entry.key)).inc()
            log.error(
                "config_document_rejected",
                key=entry.key,
                revision=entry.revision,
                kept_revision=current.revision,
                error=str(e),
            )
            return True
        return False

    async def _apply(self, ev: WatchEvent) -> None:
        current = self._entries.get(ev.key)
        seen = max(current.revision if current else 0, self._tombstones.get(ev.key, 0))
        if ev.revision > seen:
            if (
                ev.kind == "put"
                and ev.value is not None
                and self._rejects(Entry(ev.key, ev.value, ev.revision))
            ):
                pass  # keep the last good document (and its cached model)
            elif ev.kind == "put" and ev.value is not None:
                self._entries[ev.key] = Entry(ev.key, ev.value, ev.revision)
                self._tombstones.pop(ev.key, None)
                metrics.CONFIG_RELOADS.labels(self._document(ev.key)).inc()
            else:
                self._entries.pop(ev.key, None)
                self._tombstones[ev.key] = ev.revision
                metrics.CONFIG_RELOADS.labels(self._document(ev.key)).inc()
            self._models.pop(ev.key, None)
        await self._advance(ev.revision)

    async def _advance(self, revision: int) -> None:
        async with self._changed:
            if revision > self._revision:
                self._revision = revision
            self._changed.notify_all()

    async def _notify(self, ev: WatchEvent) -> None:
        for listener in list(self._listeners):
            try:
                result = listener(ev)
                if inspect.isawaitable(result):
                    await result
            except Exception as e:
                log.error("config_listener_failed", key=ev.key, error=repr(e))

    async def _entry(self, key: str) -> Entry | None:
        if self._live:
            return self._entries.get(key)
        return await self.store.get(key)

    async def _entries_under(self, prefix: str) -> list[Entry]:
        if self._live:
            return [e for k, e in sorted(self._entries.items()) if k.startswith(prefix)]
        return await self.store.list(prefix)

    def _decode(self, entry: Entry, model: type[M], what: str, *, copy: bool = True) -> M:
        """The entry's model, parsed and validated once per revision; a deep copy unless
        ``copy`` is False (then the cached instance itself, which the caller must not change)."""
        cached = self._models.get(entry.key)
        if cached is not None and cached[0] == entry.revision and isinstance(cached[1], model):
            return cached[1].model_copy(deep=True) if copy else cached[1]
        parsed = self._codec.decode(entry, model, what)
        if self._live:
            self._models[entry.key] = (entry.revision, parsed)
            return parsed.model_copy(deep=True) if copy else parsed
        return parsed

    async def _put(self, key: str, model: BaseModel, expected_revision: int | None) -> int:
        value = self._codec.encode(key, model)
        revision = await self.store.put(key, value, expected_revision=expected_revision)
        # Read-your-writes: apply our own change now rather than when the watch echoes it.
        if self._live:
            await self._apply(WatchEvent("put", key, value, revision))
        return revision

    async def _delete(self, key: str, expected_revision: int | None) -> bool:
        deleted = await self.store.delete(key, expected_revision=expected_revision)
        current = self._entries.pop(key, None) if self._live else None
        if current is not None:  # read-your-writes; the watch brings the delete's revision
            self._tombstones[key] = max(self._tombstones.get(key, 0), current.revision)
            self._models.pop(key, None)
        return deleted

    @property
    def key_id(self) -> str:
        """Id of the master key new secrets are encrypted under."""
        return self._codec.key_id

    def decrypt_document(self, key: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """`data` with every `{"$enc": ...}` value decrypted for `key` (imports)."""
        out: dict[str, Any] = self._codec.decrypt_tree(key, dict(data))
        return out

    async def rotate_key(
        self, around: Callable[[str], AbstractAsyncContextManager[None]] | None = None
    ) -> list[str]:
        """Re-encrypt every secret not under the current master key; returns the keys
        rewritten. Each write is compare-and-swap on the revision read (a concurrent edit
        makes it raise ConfigConflict; run it again). ``around(key)`` wraps each write (the
        console's audit entry)."""
        rotated: list[str] = []
        for entry in await self.store.list(self._watch_prefix):
            value = self._codec.reencrypt(entry)
            if value is None:
                continue
            async with around(entry.key) if around else contextlib.nullcontext():
                revision = await self.store.put(entry.key, value, expected_revision=entry.revision)
            if self._live:
                await self._apply(WatchEvent("put", entry.key, value, revision))
            rotated.append(entry.key)
        return rotated


__all__ = ["ChangeListener", "LiveConfig", "Versioned"]
