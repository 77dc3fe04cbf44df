"""The embedded bus forgets on restart; the outbox does not.

With ``memory://`` the bus lives in the process, so a notification that was published and
is waiting for its next retry (or was in flight) is gone when the process restarts. At
start, before the relay and the notifier run, `republish_undelivered` puts every event the
outbox marked PUBLISHED whose delivery is not settled (no delivery row yet, or one still
PENDING) back on the bus under its current round's message id: the outbox stays the queue
until the merchant acknowledged. The notifier continues the event's attempt count.
JetStream keeps its messages, so this is only run for the embedded bus.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paymesh.core.db.models import OutboxEvent, OutboxStatus
from paymesh.core.db.notify_models import DeliveryStatus, NotifyDelivery
from paymesh.notify.bus import SUBJECT_PREFIX, Bus
from paymesh.notify.envelope import encode_event, subject_for
from paymesh.runtime.logging import get_logger

log = get_logger(__name__)


async def republish_undelivered(
    sessions: async_sessionmaker[AsyncSession],
    bus: Bus,
    *,
    subject_prefix: str = SUBJECT_PREFIX,
    batch: int = 500,
) -> int:
    """Publish again what the outbox published but the merchant has not acknowledged."""
    count = 0
    after = ""
    while True:
        async with sessions() as s:
            rows = (
                await s.execute(
                    sa.select(OutboxEvent, NotifyDelivery.round_id)
                    .outerjoin(NotifyDelivery, NotifyDelivery.event_id == OutboxEvent.event_id)
                    .where(
                        OutboxEvent.status == OutboxStatus.PUBLISHED.value,
                        OutboxEvent.event_id > after,
                        sa.or_(
                            NotifyDelivery.event_id.is_(None),
                            NotifyDelivery.status == DeliveryStatus.PENDING.value,
                        ),
                    )
                    .order_by(OutboxEvent.event_id)
                    .limit(batch)
                )
            ).all()
        for row, round_id in rows:
            data = encode_event(
                event_id=row.event_id,
                event_type=row.event_type,
                app_id=row.app_id,
                notify_url=row.notify_url or "",
                payload=dict(row.payload or {}),
                created_at=row.created_at,
            )
            await bus.publish(
                subject_for(row.event_type, subject_prefix), data, round_id or row.event_id
            )
            count += 1
            after = row.event_id
        if len(rows) < batch:
            break
    if count:
        log.info("notify_republished_undelivered", count=count)
    return count


__all__ = ["republish_undelivered"]
