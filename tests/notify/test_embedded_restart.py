"""`paymesh serve notify` on the embedded bus (memory://): a notification waiting for its
next retry survives a restart of the process and is delivered after it."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from paymesh.config.apps import AppConfig
from paymesh.config.file_store import FileConfigStore
from paymesh.config.repository import ConfigRepository
from paymesh.core import resources
from paymesh.core.db.models import OutboxEvent, OutboxStatus
from paymesh.core.db.notify_models import DeliveryStatus, NotifyDelivery
from paymesh.core.db.store import Store
from paymesh.runtime.server import start_server
from paymesh.runtime.settings import Settings
from tests.notify.conftest import Merchant, eventually, make_app, outbox_row


async def _delivery(store: Store, event_id: str) -> tuple[str, int] | None:
    async with store.engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(NotifyDelivery.status, NotifyDelivery.attempts).where(
                    NotifyDelivery.event_id == event_id
                )
            )
        ).first()
    return (row[0], row[1]) if row else None


async def test_a_notification_between_retries_is_delivered_after_a_restart(
    tmp_path: Path, merchant: Merchant
) -> None:
    config_file = tmp_path / "config.json"
    repo = ConfigRepository(FileConfigStore(config_file), "/paymesh/config")
    app: AppConfig = make_app(delays=[600.0])  # the next retry would be 10 minutes away
    await repo.put_app(app)
    await repo.close()
    settings = Settings(
        listen="127.0.0.1:0",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'paymesh.db'}",
        config_backend="file",
        config_file=str(config_file),
        nats_url="memory://",
        drain_seconds=0.5,
    )
    merchant.replies = [(500, "busy")]  # the first attempt fails

    first = await start_server(["notify"], settings)
    try:
        store = await resources.store(first.context)
        (row,) = [outbox_row(1, notify_url=merchant.url)]
        event_id = row.event_id
        async with store.sessions.begin() as s:
            s.add(row)
        await merchant.wait_for(1)

        async def waiting_for_retry() -> bool:
            return await _delivery(store, event_id) == (DeliveryStatus.PENDING.value, 1)

        await eventually(waiting_for_retry)
        async with store.engine.connect() as conn:
            status = (
                await conn.execute(
                    sa.select(OutboxEvent.status).where(OutboxEvent.event_id == event_id)
                )
            ).scalar_one()
        assert status == OutboxStatus.PUBLISHED.value  # only the in-memory bus holds it now
    finally:
        await first.drain(0.5)

    second = await start_server(["notify"], settings)
    try:
        store = await resources.store(second.context)
        await merchant.wait_for(2, within=15)

        async def delivered() -> bool:
            return await _delivery(store, event_id) == (DeliveryStatus.DELIVERED.value, 2)

        await eventually(delivered)
        assert [r.body["event_id"] for r in merchant.received] == [event_id, event_id]
    finally:
        await second.drain(0.5)
