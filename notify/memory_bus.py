"""The event bus in process (`paymesh dev`, tests): JetStream's semantics, no server."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from paymesh.notify.bus import (
    ACK_WAIT_S,
    DUPLICATE_WINDOW_S,
    DURABLE,
    MAX_DELIVER,
    Bus,
    BusMessage,
    MessageMetadata,
    PublishRefused,
    Subscription,
)
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.notify.bus")


@dataclass
class _Stored:
    seq: int
    subject: str
    data: bytes
    msg_id: str
    headers: Mapping[str, str] = field(default_factory=dict)


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
        self.headers = stored.headers

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

    async def publish(
        self, subject: str, data: bytes, msg_id: str, headers: Mapping[str, str] | None = None
    ) -> bool:
        if len(data) > self.max_payload:
            raise PublishRefused(f"{len(data)} bytes exceed the max payload ({self.max_payload})")
        now = time.monotonic()
        self._seen = {k: t for k, t in self._seen.items() if now - t < self.duplicate_window}
        if msg_id in self._seen:
            return False
        self._seen[msg_id] = now
        self._log.append(
            _Stored(next(self._seq), subject, bytes(data), msg_id, dict(headers or {}))
        )
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


__all__ = ["MemoryBus", "subject_matches"]
