"""The transactional outbox: rows written with each state change, claimed by the relay.

`OutboxStore` (part of `Store`) writes and reads events; `OutboxClaims` is the one claimer.
Claims are leases, portable across MySQL 8, MariaDB 10.11, TiDB and SQLite (no ``SKIP
LOCKED``: TiDB lacks it, SQLite has no row locks): one conditional UPDATE stamps a batch of
unclaimed (or lease-expired) PENDING rows with a fresh ``claim_token`` and ``claimed_until``;
only rows whose UPDATE matched belong to the caller. Under InnoDB's READ COMMITTED the UPDATE
re-checks each row's latest committed version under a row lock, and SQLite runs one writer at
a time, so two relays never hold the same row at once. A relay that dies mid-batch loses its
lease after ``lease`` seconds and another relay takes the rows (the bus dedupes the
re-publish). ``attempts`` counts failed publications (`OutboxClaims.release`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paymesh.core.db.base import StoreBase
from paymesh.core.db.models import OutboxEvent, OutboxStatus
from paymesh.runtime.clock import utcnow


class OutboxStore(StoreBase):
    async def add_event(
        self,
        *,
        event_type: str,
        app_id: str,
        aggregate_id: str,
        notify_url: str,
        payload: Mapping[str, Any],
    ) -> OutboxEvent:
        """Write an event on its own (state changes write theirs in their transaction)."""

        async def tx(s: AsyncSession) -> OutboxEvent:
            return await self._emit(
                s,
                event_type=event_type,
                app_id=app_id,
                aggregate_id=aggregate_id,
                notify_url=notify_url,
                payload=lambda event_id: {**payload, "event_id": event_id},
            )

        return await self._run(tx)

    async def get_event(self, event_id: str) -> OutboxEvent | None:
        async def tx(s: AsyncSession) -> OutboxEvent | None:
            return await s.get(OutboxEvent, event_id)

        return await self._run(tx)

    async def list_events(self, aggregate_id: str) -> list[OutboxEvent]:
        """Events of one order/refund/transfer, oldest first."""

        async def tx(s: AsyncSession) -> list[OutboxEvent]:
            stmt = (
                sa.select(OutboxEvent)
                .where(OutboxEvent.aggregate_id == aggregate_id)
                .order_by(OutboxEvent.created_at, OutboxEvent.event_id)
            )
            return list((await s.execute(stmt)).scalars())

        return await self._run(tx)


@dataclass(frozen=True)
class ClaimedEvent:
    event_id: str
    event_type: str
    app_id: str
    notify_url: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int
    status: str = OutboxStatus.PENDING.value


@dataclass(frozen=True)
class Backlog:
    """What waits in the outbox: unpublished rows, the oldest one's age, quarantined rows."""

    pending: int
    oldest_age_s: float
    quarantined: int


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _unclaimed(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        OutboxEvent.status == OutboxStatus.PENDING.value,
        sa.or_(OutboxEvent.claimed_until.is_(None), OutboxEvent.claimed_until < now),
    )


class OutboxClaims:
    """The relay's view of the outbox: claim a batch, mark published, back off on failure."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def claim(
        self, batch: int, lease: float, now: datetime | None = None
    ) -> tuple[str, list[ClaimedEvent]]:
        """Lease up to ``batch`` publishable rows (oldest first); returns (token, rows)."""
        now = now or utcnow()
        token = secrets.token_hex(16)
        # Replicas that select the same candidates race on the UPDATE and one wins; the
        # losers look again (the winners' claims are committed by then) a few times.
        claimed = 0
        for _ in range(3):
            async with self.sessions.begin() as s:
                ids = list(
                    (
                        await s.scalars(
                            sa.select(OutboxEvent.event_id)
                            .where(_unclaimed(now))
                            .order_by(OutboxEvent.created_at, OutboxEvent.event_id)
                            .limit(batch - claimed)
                        )
                    ).all()
                )
                if not ids:
                    break
                result = await s.execute(
                    sa.update(OutboxEvent)
                    .where(OutboxEvent.event_id.in_(ids), _unclaimed(now))
                    .values(claim_token=token, claimed_until=now + timedelta(seconds=lease))
                    .execution_options(synchronize_session=False)
                )
                claimed += int(getattr(result, "rowcount", 0))
            if claimed >= batch:
                break
        if claimed == 0:
            return token, []
        async with self.sessions() as s:
            rows = (
                await s.scalars(
                    sa.select(OutboxEvent)
                    .where(OutboxEvent.claim_token == token)
                    .order_by(OutboxEvent.created_at, OutboxEvent.event_id)
                )
            ).all()
            return token, [
                ClaimedEvent(
                    event_id=r.event_id,
                    event_type=r.event_type,
                    app_id=r.app_id,
                    notify_url=r.notify_url or "",
                    payload=dict(r.payload or {}),
                    created_at=r.created_at,
                    attempts=r.attempts,
                )
                for r in rows
            ]

    async def mark_published(
        self, token: str, event_ids: Sequence[str], now: datetime | None = None
    ) -> int:
        if not event_ids:
            return 0
        async with self.sessions.begin() as s:
            result = await s.execute(
                sa.update(OutboxEvent)
                .where(
                    OutboxEvent.event_id.in_(list(event_ids)),
                    OutboxEvent.claim_token == token,
                    OutboxEvent.status == OutboxStatus.PENDING.value,
                )
                .values(
                    status=OutboxStatus.PUBLISHED.value,
                    published_at=now or utcnow(),
                    claim_token=None,
                    claimed_until=None,
                )
                .execution_options(synchronize_session=False)
            )
            return int(getattr(result, "rowcount", 0))

    async def release(
        self, token: str, event_ids: Sequence[str], retry_in: float, now: datetime | None = None
    ) -> None:
        """Publishing failed: count the attempt, keep the rows back for ``retry_in`` seconds."""
        if not event_ids:
            return
        now = now or utcnow()
        async with self.sessions.begin() as s:
            await s.execute(
                sa.update(OutboxEvent)
                .where(OutboxEvent.event_id.in_(list(event_ids)), OutboxEvent.claim_token == token)
                .values(
                    attempts=OutboxEvent.attempts + 1,
                    claim_token=None,
                    claimed_until=now + timedelta(seconds=retry_in),
                )
                .execution_options(synchronize_session=False)
            )

    async def get(self, event_id: str) -> ClaimedEvent | None:
        """One outbox row by id, whatever its state (re-sends)."""
        async with self.sessions() as s:
            r = await s.get(OutboxEvent, event_id)
            if r is None:
                return None
            return ClaimedEvent(
                event_id=r.event_id,
                event_type=r.event_type,
                app_id=r.app_id,
                notify_url=r.notify_url or "",
                payload=dict(r.payload or {}),
                created_at=r.created_at,
                attempts=r.attempts,
                status=r.status,
            )

    async def quarantine(
        self, token: str, event_id: str, reason: str, now: datetime | None = None
    ) -> bool:
        """Set a row that can never be published aside (QUARANTINED, with its reason)."""
        async with self.sessions.begin() as s:
            result = await s.execute(
                sa.update(OutboxEvent)
                .where(
                    OutboxEvent.event_id == event_id,
                    OutboxEvent.claim_token == token,
                    OutboxEvent.status == OutboxStatus.PENDING.value,
                )
                .values(
                    status=OutboxStatus.QUARANTINED.value,
                    quarantine_reason=reason[:256],
                    attempts=OutboxEvent.attempts + 1,
                    claim_token=None,
                    claimed_until=None,
                )
                .execution_options(synchronize_session=False)
            )
            return int(getattr(result, "rowcount", 0)) == 1

    async def requeue(self, event_id: str) -> bool:
        """An operator fixed a quarantined row: the relay publishes it again."""
        async with self.sessions.begin() as s:
            result = await s.execute(
                sa.update(OutboxEvent)
                .where(
                    OutboxEvent.event_id == event_id,
                    OutboxEvent.status == OutboxStatus.QUARANTINED.value,
                )
                .values(
                    status=OutboxStatus.PENDING.value,
                    quarantine_reason="",
                    claim_token=None,
                    claimed_until=None,
                )
                .execution_options(synchronize_session=False)
            )
            return int(getattr(result, "rowcount", 0)) == 1

    async def backlog(self, now: datetime | None = None) -> Backlog:
        """One grouped count over the (status, created_at) index."""
        now = now or utcnow()
        wanted = (OutboxStatus.PENDING.value, OutboxStatus.QUARANTINED.value)
        async with self.sessions() as s:
            rows = await s.execute(
                sa.select(OutboxEvent.status, sa.func.count(), sa.func.min(OutboxEvent.created_at))
                .where(OutboxEvent.status.in_(wanted))
                .group_by(OutboxEvent.status)
            )
            found = {r[0]: (int(r[1]), r[2]) for r in rows}
        pending, oldest = found.get(OutboxStatus.PENDING.value, (0, None))
        age = max(0.0, (now - _aware(oldest)).total_seconds()) if oldest is not None else 0.0
        return Backlog(pending, age, found.get(OutboxStatus.QUARANTINED.value, (0, None))[0])

    async def quarantined(self, limit: int = 100) -> list[tuple[str, str]]:
        """(event_id, reason) of quarantined rows, oldest first (operators, alerts)."""
        async with self.sessions() as s:
            rows = await s.execute(
                sa.select(OutboxEvent.event_id, OutboxEvent.quarantine_reason)
                .where(OutboxEvent.status == OutboxStatus.QUARANTINED.value)
                .order_by(OutboxEvent.created_at)
                .limit(limit)
            )
            return [(r[0], r[1]) for r in rows]


__all__ = ["Backlog", "ClaimedEvent", "OutboxClaims", "OutboxStore"]
