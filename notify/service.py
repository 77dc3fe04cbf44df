"""`paymesh serve notify`: the outbox relay and the merchant notifier on one bus.

The bus is `nats_url`: `nats://...` (JetStream) in production, `memory://` for `make dev`
(relay and notifier must then share the process, as they do here). Both loops run as
background tasks and stop on drain.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import grpc

from paymesh.config import factory as config_factory
from paymesh.core import resources
from paymesh.core.db.engine import session_factory
from paymesh.errors import InvalidArgument
from paymesh.notify.buses import open_bus
from paymesh.notify.jetstream import JetStreamBus
from paymesh.notify.notifier import Notifier
from paymesh.notify.recovery import republish_undelivered
from paymesh.notify.relay import OutboxRelay, RelaySettings
from paymesh.notify.resend import Resender
from paymesh.notify.store import SqlDeliveryStore
from paymesh.ops.v1 import notify_admin_service_pb2 as admin_pb
from paymesh.ops.v1 import notify_admin_service_pb2_grpc as admin_grpc
from paymesh.runtime import tls
from paymesh.runtime.context import ServiceContext
from paymesh.runtime.logging import get_logger
from paymesh.runtime.settings import Settings

log = get_logger("paymesh.notify.service")

Ctx = grpc.aio.ServicerContext[Any, Any]


class NotifyAdminServicer(admin_grpc.NotifyAdminServiceServicer):
    def __init__(self, resender: Resender) -> None:
        self.resender = resender

    async def ResendEvent(
        self, request: admin_pb.ResendEventRequest, context: Ctx
    ) -> admin_pb.ResendEventResponse:
        if not request.event_id:
            raise InvalidArgument("event_id is required", field="event_id")
        msg_id = await self.resender.resend(request.event_id)
        log.info("notification_resent", event_id=request.event_id, msg_id=msg_id)
        return admin_pb.ResendEventResponse(event_id=request.event_id, message_id=msg_id)

    async def ResendFailedEvents(
        self, request: admin_pb.ResendFailedEventsRequest, context: Ctx
    ) -> admin_pb.ResendFailedEventsResponse:
        if not request.app_id:
            raise InvalidArgument("app_id is required", field="app_id")
        ids = await self.resender.resend_failed(request.app_id)
        log.info("failed_notifications_resent", app_id=request.app_id, count=len(ids))
        return admin_pb.ResendFailedEventsResponse(event_ids=ids)


def bus_options(url: str, settings: Settings) -> dict[str, Any]:
    """TLS, credentials, stream and subject prefix for a NATS bus (settings nats_*); none
    for memory://."""
    if url.startswith("memory:"):
        return {}
    return {
        "connect_options": tls.nats_options(settings),
        "stream": settings.nats_stream,
        "subject_prefix": settings.nats_subject_prefix,
    }


async def register(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    url = ctx.settings.nats_url
    assert url is not None  # required by the service spec
    store = await resources.store(ctx)
    config = await config_factory.config_repository(ctx)
    bus = open_bus(url, **bus_options(url, ctx.settings))
    prefix = ctx.settings.nats_subject_prefix
    sessions = session_factory(store.engine)
    if isinstance(bus, JetStreamBus):
        await bus.connect()
    else:  # the embedded bus starts empty: the outbox refills it (notify/recovery.py)
        await republish_undelivered(sessions, bus, subject_prefix=prefix)
    relay = OutboxRelay(sessions, bus, RelaySettings(subject_prefix=prefix))
    key_file = ctx.settings.notify_signing_key_file
    rsa_key = Path(key_file).read_text() if key_file else None  # noqa: ASYNC240 (startup)
    if rsa_key is None:
        log.warning("no_notify_signing_key", effect="RSA2 apps' notifications cannot be signed")
    notifier = Notifier(
        bus,
        config,
        SqlDeliveryStore(sessions),
        notify_config=await config.get_notify_config(),
        rsa_private_key=rsa_key,
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
    admin_grpc.add_NotifyAdminServiceServicer_to_server(
        NotifyAdminServicer(Resender(sessions, bus, subject_prefix=prefix)), server
    )
    log.info("notify_started", bus=url.split("://", 1)[0])
    return [admin_pb.DESCRIPTOR.services_by_name["NotifyAdminService"].full_name]
