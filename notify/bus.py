"""The event bus's interface: NATS JetStream in production (`jetstream.py`), in-process for
dev (`memory_bus.py`); `buses.open_bus(url)` picks one.

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

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

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
    # Headers the publisher set besides the message id (a W3C traceparent).
    headers: Mapping[str, str] = MappingProxyType({})

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
    async def publish(
        self, subject: str, data: bytes, msg_id: str, headers: Mapping[str, str] | None = None
    ) -> bool:
        """Store a message (with extra ``headers``); False when ``msg_id`` was a duplicate
        (dropped)."""

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


__all__ = [
    "ACK_WAIT_S",
    "DUPLICATE_WINDOW_S",
    "DURABLE",
    "MAX_AGE_S",
    "MAX_DELIVER",
    "MSG_ID_HEADER",
    "STREAM",
    "SUBJECT_PREFIX",
    "Bus",
    "BusMessage",
    "BusUnavailable",
    "MessageMetadata",
    "PublishRefused",
    "Subscription",
]
