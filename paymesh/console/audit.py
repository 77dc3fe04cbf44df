"""The audit log: every config change and every login, durable in the database.

An entry names who (operator or CLI actor), when, what (`action`), which config key, which
fields changed (names only: a secret's value never reaches this table), the new revision and
the outcome. `paymesh config audit` exports it; the console shows it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from paymesh.core.db.console_models import AuditEntry

SOURCES = ("console", "cli")
# A change's entry is written before the change (outcome "pending") and settled after it:
# a config write the audit log cannot take is not made, and a process that dies between the
# two leaves "pending" behind, never a change without its entry.
PENDING = "pending"


def new_audit_id() -> str:
    """Time-ordered, unique across processes: A + 16 hex of ns time + 14 random hex."""
    return f"A{time.time_ns():016x}{secrets.token_hex(7)}"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: str
    at: datetime
    actor: str
    source: str
    action: str
    key: str
    fields: tuple[str, ...]
    revision: int | None
    outcome: str
    detail: str
    remote: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.astimezone(UTC).isoformat(timespec="milliseconds"),
            "actor": self.actor,
            "source": self.source,
            "action": self.action,
            "key": self.key,
            "fields": list(self.fields),
            "revision": self.revision,
            "outcome": self.outcome,
            "detail": self.detail,
            "remote": self.remote,
        }


def _record(row: Any) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        at=row.at,
        actor=row.actor,
        source=row.source,
        action=row.action,
        key=row.key,
        fields=tuple(f for f in row.fields.split(",") if f),
        revision=row.revision,
        outcome=row.outcome,
        detail=row.detail,
        remote=row.remote,
    )


class AuditLog:
    """Append and read audit entries."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._table = cast(sa.Table, AuditEntry.__table__)

    async def record(
        self,
        *,
        actor: str,
        source: str,
        action: str,
        key: str = "",
        fields: Iterable[str] = (),
        revision: int | None = None,
        outcome: str = "ok",
        detail: str = "",
        remote: str = "",
    ) -> str:
        entry_id = new_audit_id()
        values = {
            "id": entry_id,
            "at": datetime.now(UTC),
            "actor": actor[:64],
            "source": source[:16],
            "action": action[:32],
            "key": key[:255],
            "fields": ",".join(sorted(set(fields)))[:2048],
            "revision": revision,
            "outcome": outcome[:16],
            "detail": detail[:512],
            "remote": remote[:64],
        }
        async with self._engine.begin() as conn:
            await conn.execute(sa.insert(self._table).values(**values))
        return entry_id

    async def settle(
        self,
        entry_id: str,
        *,
        outcome: str,
        revision: int | None = None,
        fields: Iterable[str] | None = None,
    ) -> bool:
        """Give a pending entry its outcome (once: a settled entry stays as it is)."""
        values: dict[str, Any] = {"outcome": outcome[:16]}
        if revision is not None:
            values["revision"] = revision
        if fields is not None:
            values["fields"] = ",".join(sorted(set(fields)))[:2048]
        t = self._table
        async with self._engine.begin() as conn:
            result = await conn.execute(
                sa.update(t).where(t.c.id == entry_id, t.c.outcome == PENDING).values(**values)
            )
        return int(result.rowcount) == 1

    async def entries(
        self,
        *,
        limit: int = 100,
        before: str | None = None,
        key: str | None = None,
        actor: str | None = None,
        actions: Sequence[str] = (),
    ) -> list[AuditRecord]:
        """Newest first; `before` an entry id to page back from."""
        t = self._table
        q = sa.select(t).order_by(t.c.id.desc()).limit(max(1, min(limit, 10_000)))
        if before:
            q = q.where(t.c.id < before)
        if key:
            q = q.where(t.c["key"] == key)
        if actor:
            q = q.where(t.c.actor == actor)
        if actions:
            q = q.where(t.c.action.in_(list(actions)))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(q)).all()
        return [_record(r) for r in rows]

    async def count_since(
        self, *, action: str, window: timedelta, actor: str | None = None, remote: str | None = None
    ) -> int:
        """Entries of ``action`` within ``window`` by ``actor`` and/or from ``remote``."""
        t = self._table
        since = datetime.now(UTC) - window
        q = sa.select(sa.func.count()).select_from(t).where(t.c.action == action, t.c.at >= since)
        if actor is not None:
            q = q.where(t.c.actor == actor)
        if remote is not None:
            q = q.where(t.c.remote == remote[:64])
        async with self._engine.connect() as conn:
            return int((await conn.execute(q)).scalar_one())


__all__ = ["PENDING", "SOURCES", "AuditLog", "AuditRecord", "new_audit_id"]
