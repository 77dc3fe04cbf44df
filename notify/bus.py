"""The event bus behind one small interface: NATS JetStream in production, in-process for dev.

Semantics both implementations share:
- ``publish(subject, data, msg_id)``: a second publish of the same ``msg_id`` inside the
  duplicate window is dropped (JetStream's ``Nats-Msg-Id`` dedupe); returns False then.
- ``subscribe(durable)``: a durable pull consumer with explicit ack. Every fetched message
  must be settled: ``ack()`` (done), ``nak(delay)`` (redeliver after ``delay`` seconds),
  ``term()`` (never again). A message left unsettled is redelivered after ``ack_wait``;
  ``metadata.num_delivered`` counts deliveries. Consumers with the same durable name share
  one cursor, so a restarted worker continues where the old one stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg as NatsMsg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from paymesh.runtime.logging import get_logger

log = get_logger(__name__)

STREAM = "PAYMESH_EVENTS"
SUBJECT_PREFIX = "paymesh.events"
DURABLE = "notifier"
DUPLICATE_WINDOW_S = 120.0
ACK_WAIT_S = 60.0
MAX_DELIVER = 1000
MSG_ID_HEADER = "Nats-Msg-Id"
# Longer than the whole retry schedule (about 24 h) plus time to fix a broken notifier.
MAX_AGE_S = 7 * 24 * 3600.0


class PublishRefused(Exception):
    """This message can never be published as it is (larger than the bus's max payload):
    retrying will not help, unlike BusUnavailable."""


class BusUnavailable(Exception):
    """The bus could not take or hand out a message right now; retry later."""


@dataclass(frozen=True)
class MessageMetadata:
    num_delivered: int
    stream_seq: int


class BusMessage(ABC):
    """One delivery of a stored message. Settle it exactly once."""

    subject: str
    data: bytes
    msg_id: str
    metadata: MessageMetadata

    @abstractmethod
    async def ack(self) -> None: ...

    @abstractmethod
    async def nak(self, delay: float | None = None) -> None: ...

    @abstractmethod
    async def term(self) -> None: ...

    @abstractmethod
    async def in_progress(self) -> None:
        """Still working on it: restart the ack_wait clock."""


class Subscription(ABC):
    """A durable consumer's handle."""

    @abstractmethod
    async def fetch(self, batch: int = 1, max_wait: float = 1.0) -> list[BusMessage]:
        """Up to ``batch`` messages; an empty list when none arrived within ``max_wait`` s."""

    @abstractmethod
    async def close(self) -> None: ...

    async def messages(self, max_wait: float = 1.0) -> AsyncIterator[BusMessage]:
        while True:
            for msg in await self.fetch(1, max_wait):
                yield msg


class Bus(ABC):
    @abstractmethod
    async def publish(self, subject: str, data: bytes, msg_id: str) -> bool:
        """Store a message; False when ``msg_id`` was a duplicate (dropped)."""

    @abstractmethod
    async def subscribe(
        self,
        durable: str = DURABLE,
        filter_subject: str | None = None,
        *,
        ack_wait: float = ACK_WAIT_S,
        max_deliver: int = MAX_DELIVER,
    ) -> Subscription: ...

    @abstractmethod
    async def close(self) -> None: ...


# ---------------------------------------------------------------------------- JetStream


class _JsMessage(BusMessage):
    def __init__(self, msg: NatsMsg) -> None:
        self._msg = msg
        self.subject = msg.subject
        self.data = msg.data
        self.msg_id = (msg.headers or {}).get(MSG_ID_HEADER, "")
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

    async def publish(self, subject: str, data: bytes, msg_id: str) -> bool:
        js = await self._context()
        if self._nc is not None and not self._nc.is_connected:
            raise BusUnavailable("NATS disconnected")
        try:
            ack = await js.publish(
                subject,
                data,
                timeout=self.publish_timeout,
                stream=self.stream,
                headers={MSG_ID_HEADER: msg_id},
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


# ---------------------------------------------------------------------------- in-process


@dataclass
class _Stored:
    seq: int
    subject: str
    data: bytes
    msg_id: str


@dataclass
class _ConsumerState:
    filter_subject: str
    ack_wait: float
    max_deliver: int
    cursor: int = 0  # index into the bus's log of the next never-delivered message
    delivered: dict[int, int] = field(default_factory=dict)  # seq -> num_delivered
    in_flight: dict[int, tuple[int, float]] = field(default_factory=dict)  # seq -> (n, deadline)
    due: list[tuple[float, int]] = field(default_factory=list)  # heap of (when, seq)


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard match: ``*`` one token, ``>`` one or more trailing tokens."""
    p, s = pattern.split("."), subject.split(".")
    for i, part in enumerate(p):
        if part == ">":
            return len(s) > i
        if i >= len(s) or (part != "*" and part != s[i]):
            return False
    return len(p) == len(s)


class _MemMessage(BusMessage):
    def __init__(self, bus: MemoryBus, state: _ConsumerState, stored: _Stored, n: int) -> None:
        self._bus, self._state, self._n = bus, state, n
        self._seq = stored.seq
        self.subject, self.data, self.msg_id = stored.subject, stored.data, stored.msg_id
        self.metadata = MessageMetadata(num_delivered=n, stream_seq=stored.seq)

    def _current(self) -> bool:
        entry = self._state.in_flight.get(self._seq)
        return entry is not None and entry[0] == self._n

    async def ack(self) -> None:
        if self._current():
            del self._state.in_flight[self._seq]

    async def term(self) -> None:
        await self.ack()

    async def nak(self, delay: float | None = None) -> None:
        if self._current():
            del self._state.in_flight[self._seq]
            heapq.heappush(self._state.due, (time.monotonic() + (delay or 0.0), self._seq))
            self._bus._wake()

    async def in_progress(self) -> None:
        if self._current():
            self._state.in_flight[self._seq] = (self._n, time.monotonic() + self._state.ack_wait)


class _MemSubscription(Subscription):
    def __init__(self, bus: MemoryBus, state: _ConsumerState) -> None:
        self._bus, self._state = bus, state

    async def fetch(self, batch: int = 1, max_wait: float = 1.0) -> list[BusMessage]:
        deadline = time.monotonic() + max_wait
        while True:
            out = self._bus._take(self._state, batch)
            now = time.monotonic()
            if out or now >= deadline:
                return out
            wait = deadline - now
            nxt = self._bus._next_due(self._state)
            if nxt is not None:
                wait = min(wait, max(nxt - now, 0.001))
            self._bus._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._bus._changed.wait(), wait)

    async def close(self) -> None:
        pass


class MemoryBus(Bus):
    """In-process bus with the same semantics (dedupe window, durable cursors, redelivery).

    Messages live as long as the process: good for ``paymesh dev`` and tests, not for
    production (the outbox still guarantees no committed event is lost).
    """

    def __init__(
        self, *, duplicate_window: float = DUPLICATE_WINDOW_S, max_payload: int = 1024 * 1024
    ) -> None:
        self.duplicate_window = duplicate_window
        self.max_payload = max_payload  # NATS's default, so both buses refuse the same
        self._log: list[_Stored] = []
        self._seen: dict[str, float] = {}
        self._consumers: dict[str, _ConsumerState] = {}
        self._seq = itertools.count(1)
        self._changed = asyncio.Event()

    def _wake(self) -> None:
        self._changed.set()

    async def publish(self, subject: str, data: bytes, msg_id: str) -> bool:
        if len(data) > self.max_payload:
            raise PublishRefused(f"{len(data)} bytes exceed the max payload ({self.max_payload})")
        now = time.monotonic()
        self._seen = {k: t for k, t in self._seen.items() if now - t < self.duplicate_window}
        if msg_id in self._seen:
            return False
        self._seen[msg_id] = now
        self._log.append(_Stored(next(self._seq), subject, bytes(data), msg_id))
        self._wake()
        return True

    async def subscribe(
        self,
        durable: str = DURABLE,
        filter_subject: str | None = None,
        *,
        ack_wait: float = ACK_WAIT_S,
        max_deliver: int = MAX_DELIVER,
    ) -> Subscription:
        state = self._consumers.get(durable)
        if state is None:
            state = _ConsumerState(filter_subject or ">", ack_wait, max_deliver)
            self._consumers[durable] = state
        else:
            state.ack_wait, state.max_deliver = ack_wait, max_deliver
        return _MemSubscription(self, state)

    def _next_due(self, state: _ConsumerState) -> float | None:
        times = [deadline for _, deadline in state.in_flight.values()]
        if state.due:
            times.append(state.due[0][0])
        return min(times) if times else None

    def _take(self, state: _ConsumerState, batch: int) -> list[BusMessage]:
        now = time.monotonic()
        for seq, (_, deadline) in list(state.in_flight.items()):
            if deadline <= now:  # ack_wait expired: redeliver
                del state.in_flight[seq]
                heapq.heappush(state.due, (now, seq))
        picked: list[_Stored] = []
        while state.due and state.due[0][0] <= now and len(picked) < batch:
            _, seq = heapq.heappop(state.due)
            picked.append(self._log[seq - self._log[0].seq])
        while state.cursor < len(self._log) and len(picked) < batch:
            stored = self._log[state.cursor]
            state.cursor += 1
            if subject_matches(state.filter_subject, stored.subject):
                picked.append(stored)
        out: list[BusMessage] = []
        for stored in picked:
            n = state.delivered.get(stored.seq, 0) + 1
            if n > state.max_deliver:
                continue
            state.delivered[stored.seq] = n
            state.in_flight[stored.seq] = (n, now + state.ack_wait)
            out.append(_MemMessage(self, state, stored, n))
        return out

    async def close(self) -> None:
        pass


def open_bus(url: str, **kwargs: Any) -> Bus:
    """``memory://`` -> MemoryBus (``paymesh dev``); ``nats://...`` -> JetStreamBus."""
    if url.startswith("memory:"):
        return MemoryBus()
    if url.startswith(("nats://", "tls://", "ws://", "wss://")):
        return JetStreamBus(url, **kwargs)
    raise ValueError(f"unsupported bus URL {url!r} (memory:// or nats://host:port)")


__all__ = [
    "ACK_WAIT_S",
    "DURABLE",
    "MAX_AGE_S",
    "MAX_DELIVER",
    "MSG_ID_HEADER",
    "STREAM",
    "SUBJECT_PREFIX",
    "Bus",
    "BusMessage",
    "BusUnavailable",
    "JetStreamBus",
    "MemoryBus",
    "MessageMetadata",
    "PublishRefused",
    "Subscription",
    "open_bus",
    "subject_matches",
]
