"""The transactional outbox: rows written with each state change, claimed by the relay.

Claiming is portable (MySQL 8, MariaDB 10.11, TiDB, SQLite): no ``SKIP LOCKED`` (TiDB does
not support it, SQLite has no row locks). A relay selects candidate rows, then takes them
with one conditional UPDATE that sets a fresh claim token and a claim deadline only where
the row is still unclaimed (or its claim expired). Row locks serialise racing relays on
each row, so an event is handed to one relay at a time; a relay that dies loses its
claims when they expire. Publishing is at-least-once (the bus dedupes on the event id).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from paymesh.core.db.base import StoreBase, rowcount
from paymesh.core.db.models import OutboxEvent, OutboxStatus


@dataclass(frozen=True)
class Claim:
    token: str
    events: list[OutboxEvent]


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

    async def claim_events(self, limit: int = 100, lease_seconds: float = 60.0) -> Claim:
        """Claim up to ``limit`` unpublished events, oldest first, for ``lease_seconds``."""
        token = uuid.uuid4().hex
        now = self.clock()
        until = now + timedelta(seconds=lease_seconds)
        free = sa.or_(OutboxEvent.claimed_until.is_(None), OutboxEvent.claimed_until < now)
        pending = OutboxEvent.status == OutboxStatus.PENDING.value
        order = (OutboxEvent.created_at, OutboxEvent.event_id)

        async def tx(s: AsyncSession) -> list[OutboxEvent]:
            candidates = sa.select(OutboxEvent.event_id).where(pending, free)
            ids = list((await s.execute(candidates.order_by(*order).limit(limit))).scalars())
            if not ids:
                return []
            await s.execute(
                sa.update(OutboxEvent)
                .where(OutboxEvent.event_id.in_(ids), pending, free)
                .values(claim_token=token, claimed_until=until, attempts=OutboxEvent.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            mine = sa.select(OutboxEvent).where(
                OutboxEvent.event_id.in_(ids), OutboxEvent.claim_token == token
            )
            result = await s.execute(
                mine.order_by(*order).execution_options(populate_existing=True)
            )
            return list(result.scalars())

        return Claim(token, await self._run(tx))

    async def mark_published(self, event_ids: Sequence[str], token: str | None = None) -> int:
        """Mark events published (only those still held by ``token`` when it is given)."""
        if not event_ids:
            return 0
        now = self.clock()

        async def tx(s: AsyncSession) -> int:
            stmt = sa.update(OutboxEvent).where(
                OutboxEvent.event_id.in_(list(event_ids)),
                OutboxEvent.status == OutboxStatus.PENDING.value,
            )
            if token is not None:
                stmt = stmt.where(OutboxEvent.claim_token == token)
            stmt = stmt.values(status=OutboxStatus.PUBLISHED.value, published_at=now)
            return rowcount(await s.execute(stmt.execution_options(synchronize_session=False)))

        return await self._run(tx)

    async def release_events(self, event_ids: Sequence[str], token: str) -> int:
        """Give claimed events back at once (publishing failed) instead of at expiry."""
        if not event_ids:
            return 0

        async def tx(s: AsyncSession) -> int:
            stmt = (
                sa.update(OutboxEvent)
                .where(
                    OutboxEvent.event_id.in_(list(event_ids)),
                    OutboxEvent.status == OutboxStatus.PENDING.value,
                    OutboxEvent.claim_token == token,
                )
                .values(claim_token=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
            return rowcount(await s.execute(stmt))

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
