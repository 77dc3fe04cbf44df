"""`paymesh serve notify`: the outbox relay and the merchant notifier on one bus.

The bus is `nats_url`: `nats://...` (JetStream) in production, `memory://` for `make dev`
(relay and notifier must then share the process, as they do here). Both loops run as
background tasks and stop on drain.
"""

from __future__ import annotations

import asyncio
import contextlib

import grpc

from paymesh.gateway.db.engine import session_factory
from paymesh.notify.bus import JetStreamBus, open_bus
from paymesh.notify.notifier import Notifier
from paymesh.notify.relay import OutboxRelay
from paymesh.notify.store import SqlDeliveryStore
from paymesh.runtime import resources
from paymesh.runtime.context import ServiceContext
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.notify.service")


async def register(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    url = ctx.settings.nats_url
    assert url is not None  # required by the service spec
    store = await resources.store(ctx)
    config = await resources.config_repository(ctx)
    bus = open_bus(url)
    if isinstance(bus, JetStreamBus):
        await bus.connect()
    sessions = session_factory(store.engine)
    relay = OutboxRelay(sessions, bus)
    notifier = Notifier(
        bus, config, SqlDeliveryStore(sessions), notify_config=await config.get_notify_config()
    )
    tasks = [
        asyncio.create_task(relay.run(), name="outbox-relay"),
        asyncio.create_task(notifier.run(), name="notifier"),
    ]

    async def stop() -> None:
        relay.stop()
        notifier.stop()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            task.cancel()
        await notifier.close()
        await bus.close()

    ctx.on_close(stop)
    log.info("notify_started", bus=url.split("://", 1)[0])
    return []
