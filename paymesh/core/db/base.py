"""Shared plumbing of the store: transactions with retry, conditional UPDATEs, outbox rows."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from paymesh.core.db.models import Base, OutboxEvent, OutboxStatus
from paymesh.core.ids import IdGenerator
from paymesh.errors import DatabaseUnavailable, PaymeshError
from paymesh.runtime.clock import utcnow
from paymesh.runtime.tracing import TRACEPARENT, traceparent

T = TypeVar("T")
M = TypeVar("M", bound=Base)
X = TypeVar("X")

# MySQL/MariaDB/TiDB: deadlock, lock wait timeout, TiDB write conflict; SQLite: locked.
_RETRY_CODES = {1213, 1205, 9007, 8002, 8022}
MAX_ATTEMPTS = 6
OUTBOX: sa.Table = OutboxEvent.__table__  # type: ignore[assignment]
_INSERT_OUTBOX = OUTBOX.insert()
TX_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Created(Generic[T]):
    """An idempotent insert: the row, and whether this call created it."""

    row: T
    created: bool


@dataclass(frozen=True)
class Transition(Generic[T]):
    """A conditional state change: the row as it is now, and whether this call changed it."""

    row: T
    changed: bool


def is_retryable(err: DBAPIError) -> bool:
    args = getattr(err.orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _RETRY_CODES:
        return True
    return "database is locked" in str(err.orig)


def rowcount(result: Any) -> int:
    return int(result.rowcount)


def rfc3339(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def compact(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Drop empty values (the same rule as the signature's canonical string)."""
    return {k: v for k, v in payload.items() if v not in ("", None, 0, {}, [])}


def traced(payload: Mapping[str, Any]) -> dict[str, Any]:
    """An outbox payload with the current trace context (the notifier continues the trace;
    the merchant's notification never carries it: it is not a Notification field)."""
    out = dict(payload)
    if tp := traceparent():
        out[TRACEPARENT] = tp
    return out


class StoreBase:
    """Engine, sessions, id generator and clock shared by the store's parts."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        ids: IdGenerator,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.sessions = sessions
        self.ids = ids
        self.clock = clock

    async def _run(self, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``fn`` in one ORM session transaction; deadlocks and lock timeouts are retried."""
        return await self._retrying(self.sessions.begin, fn)

    async def _run_core(self, fn: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``fn`` in one Core transaction (no ORM unit of work: the hot paths' single-row
        INSERTs, conditional UPDATEs and reads); retried as `_run`."""
        return await self._retrying(self.engine.begin, fn)

    async def _retrying(
        self, begin: Callable[[], AbstractAsyncContextManager[X]], fn: Callable[[X], Awaitable[T]]
    ) -> T:
        bounded = self.engine.dialect.name != "sqlite"  # SQLite writers queue on its lock
        for attempt in range(MAX_ATTEMPTS):
            try:
                if not bounded:
                    async with begin() as tx:
                        return await fn(tx)
                # A server that stopped answering mid-transaction is an outage, answered
                # well inside the edge's route timeout (an unknown commit is safe to retry:
                # inserts are idempotent and transitions conditional).
                try:
                    async with asyncio.timeout(TX_TIMEOUT_S):
                        async with begin() as tx:
                            return await fn(tx)
                except TimeoutError as e:
                    raise DatabaseUnavailable("the database did not answer in time") from e
            except DBAPIError as err:
                if attempt == MAX_ATTEMPTS - 1 or not is_retryable(err):
                    raise
                await asyncio.sleep(random.uniform(0.005, 0.02) * 2**attempt)
        raise AssertionError("unreachable")

    async def _insert_idempotent(
        self,
        build: Callable[[], M],
        find_existing: Callable[[], Awaitable[M | None]],
        same: Callable[[M], bool],
        duplicate: Callable[[M], PaymeshError],
    ) -> Created[M]:
        """Insert a new row, or return the row a retried request already created.

        A unique-key violation means the merchant's number exists: the same request gets the
        existing row (`created=False`), different values get `duplicate(existing)`. `build`
        runs inside the transaction, so a retried transaction inserts a fresh object.
        """

        async def tx(s: AsyncSession) -> M:
            row = build()
            s.add(row)
            await s.flush()
            return row

        try:
            return Created(await self._run(tx), True)
        except IntegrityError:
            existing = await find_existing()
            if existing is None:
                raise
        if same(existing):
            return Created(existing, False)
        raise duplicate(existing)

    @staticmethod
    async def _load(session: AsyncSession, model: type[M], key: str) -> M | None:
        """The row as committed now (bypassing the session's identity map)."""
        return await session.get(model, key, populate_existing=True)

    @staticmethod
    async def _update(
        session: AsyncSession,
        model: type[Base],
        where: list[sa.ColumnElement[bool]],
        values: Mapping[str, Any],
    ) -> bool:
        """One conditional UPDATE; True when exactly one row matched the guard."""
        stmt = (
            sa.update(model)
            .where(*where)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return rowcount(await session.execute(stmt)) == 1

    async def _emit_core(
        self,
        conn: AsyncConnection,
        *,
        event_type: str,
        app_id: str,
        aggregate_id: str,
        notify_url: str,
        payload: Callable[[str], Mapping[str, Any]],
    ) -> str:
        """`_emit` for a Core transaction: one INSERT of the outbox row; returns its id."""
        event_id = self.ids.event_id()
        await conn.execute(
            _INSERT_OUTBOX,
            {
                "event_id": event_id,
                "event_type": event_type,
                "app_id": app_id,
                "aggregate_id": aggregate_id,
                "notify_url": notify_url,
                "payload": traced(payload(event_id)),
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "created_at": self.clock(),
            },
        )
        return event_id

    async def _emit(
        self,
        session: AsyncSession,
        *,
        event_type: str,
        app_id: str,
        aggregate_id: str,
        notify_url: str,
        payload: Callable[[str], Mapping[str, Any]],
    ) -> OutboxEvent:
        """Add an outbox row in the caller's transaction. ``payload(event_id)`` builds it."""
        event_id = self.ids.event_id()
        row = OutboxEvent(
            event_id=event_id,
            event_type=event_type,
            app_id=app_id,
            aggregate_id=aggregate_id,
            notify_url=notify_url,
            payload=traced(payload(event_id)),
            status=OutboxStatus.PENDING.value,
            attempts=0,
            created_at=self.clock(),
        )
        session.add(row)
        await session.flush()
        return row
