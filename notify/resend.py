"""Re-send notifications (ops console / API): publish the event again as a new round.

The new round's message id is ``<event_id>.r<n>`` so JetStream's dedupe window does not
drop it; its attempts are numbered from 1 and follow the full schedule again.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paymesh.core.db.models import OutboxStatus
from paymesh.core.db.outbox import OutboxClaims
from paymesh.errors import EventNotFound
from paymesh.notify.bus import SUBJECT_PREFIX, Bus
from paymesh.notify.envelope import RESEND_SEPARATOR, encode_event, resend_msg_id, subject_for
from paymesh.notify.store import SqlDeliveryStore
from paymesh.runtime.logging import get_logger

log = get_logger(__name__)


def next_round(round_id: str | None) -> int:
    if not round_id or RESEND_SEPARATOR not in round_id:
        return 1
    try:
        return int(round_id.rsplit(RESEND_SEPARATOR, 1)[1]) + 1
    except ValueError:
        return 1


class Resender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        *,
        subject_prefix: str = SUBJECT_PREFIX,
    ) -> None:
        self.outbox = OutboxClaims(sessions)
        self.store = SqlDeliveryStore(sessions)
        self.bus = bus
        self.subject_prefix = subject_prefix

    async def resend(self, event_id: str) -> str:
        """Publish ``event_id`` again; returns the new round's message id."""
        row = await self.outbox.get(event_id)
        if row is None:
            raise EventNotFound(f"event {event_id} not found", metadata={"event_id": event_id})
        if row.status == OutboxStatus.QUARANTINED.value:
            # Never published: back to the relay, which publishes it under its own id.
            await self.outbox.requeue(event_id)
            log.info("notify_requeue_quarantined", event_id=event_id)
            return event_id
        state = await self.store.get(event_id)
        msg_id = resend_msg_id(event_id, next_round(state.round_id if state else None))
        await self.store.reopen(event_id, row.app_id, row.event_type, msg_id)
        data = encode_event(
            event_id=row.event_id,
            event_type=row.event_type,
            app_id=row.app_id,
            notify_url=row.notify_url,
            payload=row.payload,
            created_at=row.created_at,
        )
        await self.bus.publish(subject_for(row.event_type, self.subject_prefix), data, msg_id)
        log.info("notify_resend", event_id=event_id, msg_id=msg_id)
        return msg_id

    async def resend_failed(self, app_id: str, limit: int = 1000) -> list[str]:
        """Re-send every FAILED event of ``app_id``; returns their event ids."""
        ids = await self.store.failed_events(app_id, limit)
        for event_id in ids:
            await self.resend(event_id)
        return ids
