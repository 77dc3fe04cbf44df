"""Delivery bookkeeping: every attempt recorded, the event's state (pending, delivered, failed)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from paymesh.core.db.notify_models import (
    EXCERPT_CHARS,
    DeliveryStatus,
    NotifyAttempt,
    NotifyDelivery,
)
from paymesh.runtime.clock import utcnow

ERROR_CHARS = 512


@dataclass(frozen=True)
class AttemptRecord:
    event_id: str
    round_id: str
    attempt: int
    url: str
    attempted_at: datetime
    http_status: int | None
    latency_ms: int | None
    body_excerpt: str
    error: str
    delivered: bool


@dataclass(frozen=True)
class DeliveryState:
    event_id: str
    app_id: str
    event_type: str
    status: DeliveryStatus
    round_id: str
    attempts: int
    last_error: str
    next_attempt: int = 1  # the number of this round's next attempt


class DeliveryStore(Protocol):
    async def begin_round(
        self, event_id: str, app_id: str, event_type: str, round_id: str
    ) -> DeliveryState: ...

    async def next_attempt(self, round_id: str) -> int: ...

    async def record_attempt(self, record: AttemptRecord) -> None: ...

    async def mark_delivered(self, event_id: str, round_id: str) -> None: ...

    async def mark_failed(self, event_id: str, round_id: str, error: str) -> None: ...

    async def reopen(self, event_id: str, app_id: str, event_type: str, round_id: str) -> None: ...

    async def failed_events(self, app_id: str, limit: int = 1000) -> list[str]: ...


def _state(row: NotifyDelivery) -> DeliveryState:
    return DeliveryState(
        event_id=row.event_id,
        app_id=row.app_id,
        event_type=row.event_type,
        status=DeliveryStatus(row.status),
        round_id=row.round_id,
        attempts=row.attempts,
        last_error=row.last_error,
    )


DELIVERIES: sa.Table = NotifyDelivery.__table__  # type: ignore[assignment]
ATTEMPTS: sa.Table = NotifyAttempt.__table__  # type: ignore[assignment]
_DELIVERY = sa.select(DELIVERIES).where(DELIVERIES.c.event_id == sa.bindparam("event_id"))
_INSERT_DELIVERY = DELIVERIES.insert()
_INSERT_ATTEMPT = ATTEMPTS.insert()
_LAST_ATTEMPT = sa.select(sa.func.max(ATTEMPTS.c.attempt)).where(
    ATTEMPTS.c.round_id == sa.bindparam("round_id")
)


def _delivered(now: datetime) -> dict[str, object]:
    return {"status": DeliveryStatus.DELIVERED.value, "delivered_at": now, "last_error": ""}


def _settle_stmt(event_id: str, round_id: str, values: dict[str, object]) -> sa.Update:
    return (
        DELIVERIES.update()
        .where(DELIVERIES.c.event_id == event_id, DELIVERIES.c.round_id == round_id)
        .values({**values, "updated_at": utcnow()})
    )


class SqlDeliveryStore:
    """`notify_deliveries` + `notify_attempts` over SQLAlchemy async (MySQL or SQLite); the
    per-message bookkeeping in Core statements (no unit of work), two transactions per
    delivered notification."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        engine = sessions.kw["bind"]
        self.engine: AsyncEngine = engine

    async def get(self, event_id: str) -> DeliveryState | None:
        async with self.sessions() as s:
            row = await s.get(NotifyDelivery, event_id)
            return None if row is None else _state(row)

    async def begin_round(
        self, event_id: str, app_id: str, event_type: str, round_id: str
    ) -> DeliveryState:
        """The event's state, created PENDING on first sight. A message of another round
        adopts the event unless it is already delivered (then it is a stale duplicate)."""
        for _ in range(2):
            try:
                return await self._begin_round(event_id, app_id, event_type, round_id)
            except IntegrityError:  # a concurrent worker created it first: read it again
                continue
        raise RuntimeError(f"could not create the delivery row of {event_id}")

    async def _begin_round(
        self, event_id: str, app_id: str, event_type: str, round_id: str
    ) -> DeliveryState:
        async with self.engine.begin() as conn:
            row = (await conn.execute(_DELIVERY, {"event_id": event_id})).first()
            now = utcnow()
            if row is None:
                values = {
                    "event_id": event_id,
                    "app_id": app_id,
                    "event_type": event_type,
                    "status": DeliveryStatus.PENDING.value,
                    "round_id": round_id,
                    "attempts": 0,
                    "last_error": "",
                    "created_at": now,
                    "updated_at": now,
                }
                await conn.execute(_INSERT_DELIVERY, values)
                return DeliveryState(
                    event_id, app_id, event_type, DeliveryStatus.PENDING, round_id, 0, ""
                )
            state = DeliveryState(
                row.event_id,
                row.app_id,
                row.event_type,
                DeliveryStatus(row.status),
                row.round_id,
                row.attempts,
                row.last_error,
            )
            if row.round_id != round_id and row.status != DeliveryStatus.DELIVERED.value:
                await conn.execute(
                    DELIVERIES.update()
                    .where(DELIVERIES.c.event_id == event_id)
                    .values(round_id=round_id, status=DeliveryStatus.PENDING.value, updated_at=now)
                )
                state = replace(state, round_id=round_id, status=DeliveryStatus.PENDING)
            last = await conn.scalar(_LAST_ATTEMPT, {"round_id": state.round_id})
            return replace(state, next_attempt=int(last or 0) + 1)

    async def next_attempt(self, round_id: str) -> int:
        async with self.engine.connect() as conn:
            last = await conn.scalar(_LAST_ATTEMPT, {"round_id": round_id})
            return int(last or 0) + 1

    async def record_attempt(self, record: AttemptRecord) -> None:
        """The attempt, the event's attempt count, and for a delivered attempt the event
        DELIVERED (`mark_delivered`), in one transaction."""
        now = utcnow()
        async with self.engine.begin() as conn:
            await conn.execute(
                _INSERT_ATTEMPT,
                {
                    "round_id": record.round_id,
                    "attempt": record.attempt,
                    "event_id": record.event_id,
                    "url": record.url[:512],
                    "attempted_at": record.attempted_at,
                    "http_status": record.http_status,
                    "latency_ms": record.latency_ms,
                    "body_excerpt": record.body_excerpt[:EXCERPT_CHARS],
                    "error": record.error[:ERROR_CHARS],
                    "delivered": record.delivered,
                },
            )
            values: dict[str, object] = {
                "attempts": DELIVERIES.c.attempts + 1,
                "last_error": record.error[:ERROR_CHARS],
                "updated_at": now,
            }
            await conn.execute(
                DELIVERIES.update().where(DELIVERIES.c.event_id == record.event_id).values(values)
            )
            if record.delivered:
                await conn.execute(_settle_stmt(record.event_id, record.round_id, _delivered(now)))

    async def _settle(self, event_id: str, round_id: str, values: dict[str, object]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(_settle_stmt(event_id, round_id, values))

    async def mark_delivered(self, event_id: str, round_id: str) -> None:
        await self._settle(event_id, round_id, _delivered(utcnow()))

    async def mark_failed(self, event_id: str, round_id: str, error: str) -> None:
        await self._settle(
            event_id,
            round_id,
            {
                "status": DeliveryStatus.FAILED.value,
                "failed_at": utcnow(),
                "last_error": error[:ERROR_CHARS],
            },
        )

    async def reopen(self, event_id: str, app_id: str, event_type: str, round_id: str) -> None:
        """A re-send starts a new round: PENDING under ``round_id`` (created if missing)."""
        async with self.sessions.begin() as s:
            row = await s.get(NotifyDelivery, event_id, populate_existing=True)
            now = utcnow()
            if row is None:
                s.add(
                    NotifyDelivery(
                        event_id=event_id,
                        app_id=app_id,
                        event_type=event_type,
                        status=DeliveryStatus.PENDING.value,
                        round_id=round_id,
                        attempts=0,
                        last_error="",
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                row.round_id = round_id
                row.status = DeliveryStatus.PENDING.value
                row.failed_at = None
                row.updated_at = now

    async def failed_events(self, app_id: str, limit: int = 1000) -> list[str]:
        async with self.sessions() as s:
            ids = await s.scalars(
                sa.select(NotifyDelivery.event_id)
                .where(
                    NotifyDelivery.app_id == app_id,
                    NotifyDelivery.status == DeliveryStatus.FAILED.value,
                )
                .order_by(NotifyDelivery.created_at)
                .limit(limit)
            )
            return list(ids.all())

    async def attempts(self, event_id: str) -> list[AttemptRecord]:
        async with self.sessions() as s:
            rows = await s.scalars(
                sa.select(NotifyAttempt)
                .where(NotifyAttempt.event_id == event_id)
                .order_by(NotifyAttempt.attempted_at, NotifyAttempt.attempt)
            )
            return [
                AttemptRecord(
                    event_id=r.event_id,
                    round_id=r.round_id,
                    attempt=r.attempt,
                    url=r.url,
                    attempted_at=r.attempted_at,
                    http_status=r.http_status,
                    latency_ms=r.latency_ms,
                    body_excerpt=r.body_excerpt,
                    error=r.error,
                    delivered=r.delivered,
                )
                for r in rows.all()
            ]


__all__ = ["AttemptRecord", "DeliveryState", "DeliveryStore", "SqlDeliveryStore"]
