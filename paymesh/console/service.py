"""The one write path for config, shared by the console and `paymesh config`.

Every write validates with the config models (through ConfigRepository), is a
compare-and-swap on the revision the operator saw (a concurrent edit is a ConfigConflict,
never a silent overwrite), and is recorded in the audit log with the names of the fields it
changed. Secret values never leave this module except encrypted into the store.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, SecretStr

from paymesh.config import keys
from paymesh.config.apps import AppConfig, NotifyConfig
from paymesh.config.models import ChannelAccountBase
from paymesh.config.registry import channel_model
from paymesh.config.repository import ConfigRepository, Versioned, public_view
from paymesh.console.audit import PENDING, AuditLog
from paymesh.errors import AppNotFound, ConfigConflict, ConfigInvalid, ConfigNotFound

Kind = Literal["app", "channel_account", "notify"]


@dataclass(frozen=True, slots=True)
class Ref:
    """Which document: an app, a channel account, or the notify defaults."""

    kind: Kind
    ident: str = ""
    channel: str = ""

    def key(self, prefix: str) -> str:
        if self.kind == "app":
            return keys.app_key(prefix, self.ident)
        if self.kind == "channel_account":
            return keys.channel_account_key(prefix, self.channel, self.ident)
        return keys.notify_key(prefix)

    def short(self) -> str:
        if self.kind == "app":
            return f"apps/{self.ident}"
        if self.kind == "channel_account":
            return f"channels/{self.channel}/{self.ident}"
        return "notify"

    @classmethod
    def parse(cls, prefix: str, key: str) -> Ref:
        """`apps/x`, `channels/wechat/y`, `notify`, or the full store key."""
        full = key if key.startswith(keys.normalize_prefix(prefix) + "/") else None
        parsed = keys.parse_key(prefix, full or f"{keys.normalize_prefix(prefix)}/{key.strip('/')}")
        if parsed is None:
            raise ConfigNotFound(
                f"{key!r} is not a config key (apps/<app_id>, channels/<channel>/<account_id>, "
                "notify)",
                metadata={"key": key},
            )
        if parsed.kind == "app":
            return cls("app", parsed.app_id)
        if parsed.kind == "channel_account":
            return cls("channel_account", parsed.account_id, parsed.channel)
        return cls("notify")


def _comparable(model: BaseModel, name: str) -> Any:
    value = getattr(model, name)
    if isinstance(value, SecretStr):
        return ("secret", value.get_secret_value())
    if isinstance(value, BaseModel | list | dict):
        return json.dumps(
            model.model_dump(mode="json", include={name}), sort_keys=True, default=str
        )
    return value


def changed_fields(old: BaseModel | None, new: BaseModel) -> list[str]:
    """Names of the top-level fields whose value differs (every set field for a new one)."""
    names = list(type(new).model_fields)
    if old is None:
        return [n for n in names if getattr(new, n) not in (None, "", [], {})]
    return [n for n in names if _comparable(old, n) != _comparable(new, n)]


class ConfigService:
    def __init__(self, repo: ConfigRepository, audit: AuditLog, *, source: str) -> None:
        self.repo = repo
        self.audit = audit
        self.source = source

    @property
    def prefix(self) -> str:
        return self.repo.prefix

    # ---- reads ----

    async def read(self, ref: Ref) -> Versioned[Any]:
        if ref.kind == "app":
            return await self.repo.get_app_versioned(ref.ident)
        if ref.kind == "channel_account":
            return await self.repo.get_channel_account_versioned(ref.channel, ref.ident)
        return await self.repo.get_notify_config_versioned()

    async def _read_or_none(self, ref: Ref) -> Versioned[Any] | None:
        try:
            current = await self.read(ref)
        except (AppNotFound, ConfigNotFound):
            return None
        return current if current.revision else None

    async def view(self, ref: Ref) -> tuple[dict[str, Any], int]:
        """The document with secrets masked, and its revision."""
        current = await self.read(ref)
        return public_view(current.model), current.revision

    # ---- writes ----

    async def save(
        self,
        ref: Ref,
        data: Mapping[str, Any],
        *,
        expected_revision: int | None,
        actor: str,
        remote: str = "",
    ) -> int:
        """Create or update from form/CLI data (secrets left out keep their stored value).

        `expected_revision`: the revision the operator started from (0: must not exist yet);
        None: the revision read here (CLI). Raises ConfigInvalid / ConfigConflict.
        """
        data = dict(data)
        id_field = {"app": "app_id", "channel_account": "account_id"}.get(ref.kind)
        if id_field:
            given = str(data.get(id_field) or ref.ident)
            if ref.ident and given != ref.ident:
                raise ConfigInvalid(
                    f"{id_field} cannot change ({ref.ident!r} -> {given!r})",
                    field_errors={id_field: "cannot change; create a new one instead"},
                )
            data[id_field] = given
            ref = Ref(ref.kind, given, ref.channel)
        old = await self._read_or_none(ref) if ref.ident or ref.kind == "notify" else None
        expected = expected_revision
        if expected is None:
            expected = old.revision if old else 0
        async with self._change(ref, "update" if old else "create", actor, remote) as change:
            revision = await self._put(ref, data, expected)
            new = await self.read(ref)
            change.done(revision, changed_fields(old.model if old else None, new.model))
        return revision

    async def _put(self, ref: Ref, data: Mapping[str, Any] | BaseModel, expected: int) -> int:
        if ref.kind == "app":
            return await self.repo.put_app(
                data if isinstance(data, AppConfig) else dict(data), expected_revision=expected
            )
        if ref.kind == "channel_account":
            if isinstance(data, ChannelAccountBase):
                return await self.repo.put_channel_account(data, expected_revision=expected)
            channel_model(ref.channel)  # ConfigNotFound for an unknown channel
            return await self.repo.put_channel_account(
                dict(data), channel=ref.channel, expected_revision=expected
            )
        return await self.repo.put_notify_config(
            data if isinstance(data, NotifyConfig) else dict(data), expected_revision=expected
        )

    async def set_enabled(
        self, ref: Ref, enabled: bool, *, expected_revision: int, actor: str, remote: str = ""
    ) -> int:
        async with self._change(ref, "enable" if enabled else "disable", actor, remote) as change:
            current = await self.read(ref)
            if current.revision != expected_revision:
                raise ConfigConflict(
                    f"{ref.short()} changed: expected revision {expected_revision}, "
                    f"found {current.revision}",
                    metadata={"key": ref.short(), "revision": str(current.revision)},
                )
            model = current.model.model_copy(update={"enabled": enabled})
            revision = await self._put(ref, model, expected_revision)
            change.done(revision, ["enabled"] if current.model.enabled != enabled else [])
        return revision

    async def delete(
        self, ref: Ref, *, expected_revision: int | None, actor: str, remote: str = ""
    ) -> bool:
        key = ref.key(self.prefix)
        async with self._change(ref, "delete", actor, remote) as change:
            if ref.kind == "app":
                done = await self.repo.delete_app(ref.ident, expected_revision=expected_revision)
            elif ref.kind == "channel_account":
                done = await self.repo.delete_channel_account(
                    ref.channel, ref.ident, expected_revision=expected_revision
                )
            else:
                done = await self.repo.store.delete(key, expected_revision=expected_revision)
            change.done(None, [], outcome="ok" if done else "unchanged")
        return done

    async def rotate_key(self, *, actor: str) -> list[str]:
        detail = f"re-encrypted under key id {self.repo.key_id}"

        @contextlib.asynccontextmanager
        async def audited(key: str) -> AsyncIterator[None]:
            async with self._change(key, "rotate_key", actor, "", detail):
                yield

        return await self.repo.rotate_key(around=audited)

    # ---- bulk (CLI) ----

    async def export(self) -> dict[str, Any]:
        """Every document under the prefix as stored: secrets stay encrypted."""
        out: dict[str, Any] = {}
        base = self.prefix + "/"
        for entry in await self.repo.store.list(base):
            with contextlib.suppress(ValueError):
                out[entry.key.removeprefix(base)] = json.loads(entry.value)
        return {"prefix": self.prefix, "key_id": self.repo.key_id, "documents": out}

    async def import_documents(
        self, documents: Mapping[str, Any], *, actor: str
    ) -> list[tuple[str, int]]:
        """Write each document through `save` (validated, CAS, audited). Secrets may be
        plain strings (encrypted here) or `{"$enc": ...}` values of an export."""
        done: list[tuple[str, int]] = []
        for rel, doc in documents.items():
            if not isinstance(doc, dict):
                raise ConfigInvalid(f"{rel}: a document must be a JSON object")
            ref = Ref.parse(self.prefix, rel)
            plain = self.repo.decrypt_document(ref.key(self.prefix), doc)
            done.append(
                (ref.short(), await self.save(ref, plain, expected_revision=None, actor=actor))
            )
        return done

    @contextlib.asynccontextmanager
    async def _change(
        self, ref: Ref | str, action: str, actor: str, remote: str, detail: str = ""
    ) -> AsyncIterator[_Change]:
        """The audit entry around one write: written (pending) before it, so a write the
        audit log cannot take is not made; settled after it: ok, conflict, invalid or
        failed."""
        entry_id = await self.audit.record(
            actor=actor, source=self.source, action=action,
            key=ref if isinstance(ref, str) else ref.short(),
            outcome=PENDING, remote=remote, detail=detail,
        )  # fmt: skip
        change = _Change()
        try:
            yield change
        except BaseException as e:
            outcome = (
                "conflict" if isinstance(e, ConfigConflict)
                else "invalid" if isinstance(e, ConfigInvalid)
                else "not_found" if isinstance(e, AppNotFound | ConfigNotFound)
                else "failed"
            )  # fmt: skip
            with contextlib.suppress(Exception):  # the write's own error is what to report
                await self.audit.settle(entry_id, outcome=outcome)
            raise
        await self.audit.settle(
            entry_id, outcome=change.outcome, revision=change.revision, fields=change.fields
        )


@dataclass
class _Change:
    outcome: str = "ok"
    revision: int | None = None
    fields: list[str] = field(default_factory=list)

    def done(self, revision: int | None, fields: list[str], *, outcome: str = "ok") -> None:
        self.revision, self.fields, self.outcome = revision, fields, outcome


__all__ = ["ConfigService", "Ref", "changed_fields"]
