"""The live half of the config repository: a cache of the documents under one prefix that a
background watch keeps current, their validation, and the encryption of their secret fields.

`repository.ConfigRepository` builds the typed API (apps, channel accounts, notify) on it.
Hardening: a secret field found in clear text in the store is refused (ConfigInvalid), never
used. A change that arrives through the watch and does not decode (bad JSON, fails its
schema, undecryptable) is logged and ignored while the last good document stays in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from paymesh.config import keys
from paymesh.config.apps import AppConfig, NotifyConfig
from paymesh.config.crypto import SecretCipher, is_encrypted
from paymesh.config.models import secret_field_names
from paymesh.config.registry import channel_model
from paymesh.config.store import ConfigStore, Entry, WatchEvent
from paymesh.errors import ConfigInvalid, ConfigNotFound
from paymesh.runtime import metrics
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.config.repository")

M = TypeVar("M", bound=BaseModel)
ChangeListener = Callable[[WatchEvent], Awaitable[None] | None]

MASK = "****"


@dataclass(frozen=True, slots=True)
class Versioned(Generic[M]):
    """A model with the store revision it was read at (pass it back as expected_revision)."""

    model: M
    revision: int


def mask_secret(value: str) -> str:
    """`****` plus the last four characters when the secret is long enough to spare them."""
    return MASK + value[-4:] if len(value) >= 12 else MASK


def _map_secrets(py: Any, js: Any, path: str, fn: Callable[[str, str], Any]) -> Any:
    """Walk a model's python-mode and JSON-mode dumps together; where the python value is a
    SecretStr (at any depth), put `fn(path, secret)` into the JSON value."""
    if isinstance(py, SecretStr):
        return fn(path, py.get_secret_value())
    if isinstance(py, dict) and isinstance(js, dict):
        return {
            k: _map_secrets(py.get(k), v, f"{path}.{k}" if path else str(k), fn)
            for k, v in js.items()
        }
    if isinstance(py, list | tuple) and isinstance(js, list) and len(py) == len(js):
        return [
            _map_secrets(p, j, f"{path}.{i}", fn)
            for i, (p, j) in enumerate(zip(py, js, strict=True))
        ]
    return js


def public_view(model: BaseModel) -> dict[str, Any]:
    """The model as JSON-ready data with every secret masked (never the secret itself).

    A secret becomes `mask_secret(value)`; an unset optional secret stays None.
    """
    view: dict[str, Any] = _map_secrets(
        model.model_dump(), model.model_dump(mode="json"), "", lambda _p, v: mask_secret(v)
    )
    return view


def config_invalid(what: str, err: ValidationError) -> ConfigInvalid:
    """ConfigInvalid naming the failing fields (never echoing the submitted values)."""
    problems: list[str] = []
    fields: list[str] = []
    by_field: dict[str, str] = {}
    for e in err.errors(include_url=False, include_input=False, include_context=False):
        loc = ".".join(str(p) for p in e["loc"])
        if loc and loc not in fields:
            fields.append(loc)
        problems.append(f"{loc}: {e['msg']}" if loc else str(e["msg"]))
        by_field[loc] = f"{by_field[loc]}; {e['msg']}" if loc in by_field else str(e["msg"])
    return ConfigInvalid(
        f"invalid {what}: " + "; ".join(problems),
        metadata={"fields": ",".join(fields)},
        field_errors=by_field,
    )


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

    # ---- encoding ----

    def _context(self, key: str, field: str) -> str:
        return f"{key.removeprefix(self._watch_prefix)}#{field}"

    def _decode(self, entry: Entry, model: type[M], what: str, *, copy: bool = True) -> M:
        """The entry's model, parsed and validated once per revision; a deep copy unless
        ``copy`` is False (then the cached instance itself, which the caller must not change)."""
        cached = self._models.get(entry.key)
        if cached is not None and cached[0] == entry.revision and isinstance(cached[1], model):
            return cached[1].model_copy(deep=True) if copy else cached[1]
        try:
            data = json.loads(entry.value)
        except (UnicodeDecodeError, ValueError) as e:
            raise ConfigInvalid(f"{what} at {entry.key} is not JSON") from e
        if not isinstance(data, dict):
            raise ConfigInvalid(f"{what} at {entry.key} is not a JSON object")
        for name in secret_field_names(model):
            if isinstance(data.get(name), str):
                raise ConfigInvalid(
                    f"{what} at {entry.key}: secret field {name} is stored in clear text "
                    "(refused: write it through the console or `paymesh config set`, "
                    "which encrypt it)",
                    metadata={"key": entry.key, "field": name},
                )
        data = self._decrypt_tree(entry.key, data, "")
        try:
            parsed = model.model_validate(data)
        except ValidationError as e:
            raise config_invalid(f"{what} stored at {entry.key}", e) from e
        if self._live:
            self._models[entry.key] = (entry.revision, parsed)
            return parsed.model_copy(deep=True) if copy else parsed
        return parsed

    def _encode(self, key: str, model: BaseModel) -> bytes:
        """JSON with every SecretStr (at any depth) replaced by its encrypted form."""
        data = _map_secrets(
            model.model_dump(),
            model.model_dump(mode="json"),
            "",
            lambda path, v: self._cipher.encrypt(v, context=self._context(key, path)),
        )
        return json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")

    def _decrypt_tree(self, key: str, value: Any, path: str) -> Any:
        if is_encrypted(value):
            return self._cipher.decrypt(value, context=self._context(key, path))
        if isinstance(value, dict):
            return {
                k: self._decrypt_tree(key, v, f"{path}.{k}" if path else str(k))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._decrypt_tree(key, v, f"{path}.{i}") for i, v in enumerate(value)]
        return value

    def _validate(
        self, model: type[M], data: M | Mapping[str, Any], what: str, existing: M | None
    ) -> M:
        """Validate a model or a form's data; secrets the form left out (or sent back
        masked) keep their stored value."""
        if isinstance(data, BaseModel):
            raw: dict[str, Any] = data.model_dump()
        else:
            raw = dict(data)
            for name in secret_field_names(model):
                value = raw.get(name)
                keep = name not in raw or (isinstance(value, str) and value.startswith(MASK))
                if keep and existing is not None:
                    raw[name] = getattr(existing, name)
        try:
            return model.model_validate(raw)
        except ValidationError as e:
            raise config_invalid(what, e) from e

    async def _put(self, key: str, model: BaseModel, expected_revision: int | None) -> int:
        value = self._encode(key, model)
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
        return self._cipher.key_id

    def decrypt_document(self, key: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """`data` with every `{"$enc": ...}` value decrypted for `key` (imports)."""
        out: dict[str, Any] = self._decrypt_tree(key, dict(data), "")
        return out

    # ---- key rotation ----

    def _reencrypt_tree(self, key: str, value: Any, path: str) -> tuple[Any, bool]:
        if is_encrypted(value):
            if self._cipher.is_current(value):
                return value, False
            context = self._context(key, path)
            plain = self._cipher.decrypt(value, context=context)
            return self._cipher.encrypt(plain, context=context), True
        if isinstance(value, dict):
            changed = False
            out: dict[str, Any] = {}
            for k, v in value.items():
                out[k], c = self._reencrypt_tree(key, v, f"{path}.{k}" if path else str(k))
                changed = changed or c
            return out, changed
        if isinstance(value, list):
            items = [self._reencrypt_tree(key, v, f"{path}.{i}") for i, v in enumerate(value)]
            return [v for v, _ in items], any(c for _, c in items)
        return value, False

    async def rotate_key(self) -> list[str]:
        """Re-encrypt every secret not under the current master key; returns the keys
        rewritten. Each write is compare-and-swap on the revision read (a concurrent edit
        makes it raise ConfigConflict; run it again)."""
        rotated: list[str] = []
        for entry in await self.store.list(self._watch_prefix):
            try:
                data = json.loads(entry.value)
            except (UnicodeDecodeError, ValueError) as e:
                raise ConfigInvalid(f"{entry.key} is not JSON", metadata={"key": entry.key}) from e
            new, changed = self._reencrypt_tree(entry.key, data, "")
            if not changed:
                continue
            value = json.dumps(new, ensure_ascii=False, sort_keys=True).encode("utf-8")
            revision = await self.store.put(entry.key, value, expected_revision=entry.revision)
            if self._live:
                await self._apply(WatchEvent("put", entry.key, value, revision))
            rotated.append(entry.key)
        return rotated


__all__ = [
    "MASK",
    "ChangeListener",
    "LiveConfig",
    "Versioned",
    "config_invalid",
    "mask_secret",
    "public_view",
]
