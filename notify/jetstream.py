"""The event bus on NATS JetStream (production): a file-backed stream, durable pull consumers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg as NatsMsg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from paymesh.notify.bus import (
    ACK_WAIT_S,
    DUPLICATE_WINDOW_S,
    DURABLE,
    MAX_AGE_S,
    MAX_DELIVER,
    MSG_ID_HEADER,
    STREAM,
    SUBJECT_PREFIX,
    Bus,
    BusMessage,
    BusUnavailable,
    MessageMetadata,
    PublishRefused,
    Subscription,
)
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.notify.bus")


class _JsMessage(BusMessage):
    def __init__(self, msg: NatsMsg) -> None:
        self._msg = msg
        self.subject = msg.subject
        self.data = msg.data
        self.msg_id = (msg.headers or {}).get(MSG_ID_HEADER, "")
        self.headers = dict(msg.headers or {})
        md = msg.metadata
        self.metadata = MessageMetadata(
            num_delivered=int(md.num_delivered or 1), stream_seq=int(md.sequence.stream)
        )

    async def ack(self) -> None:
        await self._msg.ack()

    async def nak(self, delay: float | None = None) -> None:
        await self._msg.nak(delay=delay)

    async def term(self) -> None:
        await self._msg.term()

    async def in_progress(self) -> None:
        await self._msg.in_progress()


class _JsSubscription(Subscription):
    def __init__(self, sub: JetStreamContext.PullSubscription) -> None:
        self._sub = sub

    async def fetch(self, batch: int = 1, max_wait: float = 1.0) -> list[BusMessage]:
        try:
            msgs = await self._sub.fetch(batch, timeout=max_wait)
        except (nats.errors.TimeoutError, TimeoutError):
            return []
        except (nats.errors.Error, OSError) as e:
            raise BusUnavailable(f"fetch failed: {e!r}") from e
        return [_JsMessage(m) for m in msgs]

    async def close(self) -> None:
        with contextlib.suppress(nats.errors.Error):
            await self._sub.unsubscribe()


async def _on_error(err: Exception) -> None:
    log.warning("nats_error", error=repr(err))


async def _on_disconnected() -> None:
    log.warning("nats_disconnected")


async def _on_reconnected() -> None:
    log.info("nats_reconnected")


class JetStreamBus(Bus):
    """NATS JetStream: file-backed stream, ``Nats-Msg-Id`` dedupe, durable pull consumers.

    ``connect()`` keeps trying while NATS is down; once connected, nats-py reconnects on
    its own and publishes fail fast (BusUnavailable) until it is back.
    """

    def __init__(
        self,
        url: str,
        *,
        stream: str = STREAM,
        subject_prefix: str = SUBJECT_PREFIX,
        duplicate_window: float = DUPLICATE_WINDOW_S,
        max_age: float = MAX_AGE_S,
        publish_timeout: float = 2.0,
        connect_options: Mapping[str, Any] | None = None,
    ) -> None:
        """connect_options: extra nats.connect arguments (TLS context, credentials file)."""
        self.url = url
        self.connect_options = dict(connect_options or {})
        self.max_age = max_age
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.duplicate_window = duplicate_window
        self.publish_timeout = publish_timeout
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._stream_ready = False
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        async with self._lock:
            if self._nc is None:
                nc = await nats.connect(
                    self.url,
                    allow_reconnect=True,
                    # Bounded for the first connect (nats-py would loop forever on -1);
                    # unbounded once connected, see below.
                    max_reconnect_attempts=1,
                    reconnect_time_wait=0.25,
                    connect_timeout=2,
                    # Do not buffer publishes while disconnected: fail, keep the outbox row.
                    pending_size=0,
                    name="paymesh-notify",
                    **self.connect_options,
                    error_cb=_on_error,
                    disconnected_cb=_on_disconnected,
                    reconnected_cb=_on_reconnected,
                )
                nc.options["max_reconnect_attempts"] = -1  # reconnect for ever from now on
                self._nc = nc
                self._js = self._nc.jetstream(timeout=self.publish_timeout)
            if not self._stream_ready:
                await self._ensure_stream()
                self._stream_ready = True

    async def _ensure_stream(self) -> None:
        assert self._js is not None
        config = StreamConfig(
            name=self.stream,
            subjects=[f"{self.subject_prefix}.>"],
            storage=StorageType.FILE,
            duplicate_window=self.duplicate_window,
            max_age=self.max_age,
        )
        try:
            await self._js.add_stream(config)
        except nats.js.errors.BadRequestError:
            await self._js.update_stream(config)

    async def _context(self) -> JetStreamContext:
        try:
            await self.connect()
        except (OSError, nats.errors.Error, TimeoutError) as e:
            await self._drop()
            raise BusUnavailable(f"NATS unavailable: {e}") from e
        assert self._js is not None
        return self._js

    async def _drop(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        self._stream_ready = False
        if nc is not None:
            try:
                await nc.close()
            except Exception as e:  # closing a broken client must not fail
                log.debug("nats_close_failed", error=str(e))

    async def publish(
        self, subject: str, data: bytes, msg_id: str, headers: Mapping[str, str] | None = None
    ) -> bool:
        js = await self._context()
        if self._nc is not None and not self._nc.is_connected:
            raise BusUnavailable("NATS disconnected")
        try:
            ack = await js.publish(
                subject,
                data,
                timeout=self.publish_timeout,
                stream=self.stream,
                headers={**(headers or {}), MSG_ID_HEADER: msg_id},
            )
        except nats.errors.MaxPayloadError as e:
            raise PublishRefused(
                f"{len(data)} bytes exceed the server's max payload "
                f"({self._nc.max_payload if self._nc else '?'} bytes)"
            ) from e
        except (nats.errors.Error, TimeoutError, OSError) as e:
            self._stream_ready = False  # re-check the stream on the next call
            raise BusUnavailable(f"publish failed: {e!r}") from e
        return not ack.duplicate

    async def subscribe(
        self,
        durable: str = DURABLE,
        filter_subject: str | None = None,
        *,
        ack_wait: float = ACK_WAIT_S,
        max_deliver: int = MAX_DELIVER,
    ) -> Subscription:
        js = await self._context()
        subject = filter_subject or f"{self.subject_prefix}.>"
        config = ConsumerConfig(
            durable_name=durable,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ack_wait,
            max_deliver=max_deliver,
            filter_subject=subject,
            max_ack_pending=10_000,
        )
        try:
            try:  # create, or update the editable fields (ack_wait, max_deliver) of an old one
                await js.add_consumer(self.stream, config)
            except nats.js.errors.BadRequestError as e:
                log.warning("jetstream_consumer_not_updated", durable=durable, error=str(e))
            sub = await js.pull_subscribe(
                subject, durable=durable, stream=self.stream, config=config
            )
        except (nats.errors.Error, TimeoutError, OSError) as e:
            raise BusUnavailable(f"subscribe failed: {e}") from e
        return _JsSubscription(sub)

    async def close(self) -> None:
        await self._drop()


__all__ = ["JetStreamBus"]
