"""Outbox relay on real MariaDB and real NATS JetStream."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping

import pytest
import sqlalchemy as sa

from paymesh.core.db.models import OutboxEvent, OutboxStatus
from paymesh.core.db.outbox import OutboxClaims
from paymesh.notify.bus import Bus
from paymesh.notify.envelope import decode_event
from paymesh.notify.memory_bus import MemoryBus
from paymesh.notify.relay import OutboxRelay, RelaySettings
from paymesh.notify.resend import Resender
from paymesh.runtime import metrics
from paymesh.testing.processes import NatsServer
from tests.notify.conftest import JsFactory, Sessions, add_rows, eventually, outbox_row


async def _statuses(sessions: Sessions) -> Counter[str]:
    async with sessions() as s:
        return Counter((await s.scalars(sa.select(OutboxEvent.status))).all())


async def test_relay_publishes_each_row_once_with_msg_id(
    maria_sessions: Sessions, js_factory: JsFactory
) -> None:
    ids = await add_rows(maria_sessions, [outbox_row(i) for i in range(5)])
    bus = js_factory()
    relay = OutboxRelay(maria_sessions, bus, RelaySettings(subject_prefix=js_factory.prefix))
    assert await relay.run_once() == 5
    assert await relay.run_once() == 0
    assert await _statuses(maria_sessions) == Counter({OutboxStatus.PUBLISHED.value: 5})

    # A relay that crashed after publishing and before marking: the rows go out again,
    # and the stream still holds one message per event.
    async with maria_sessions.begin() as s:
        await s.execute(
            sa.update(OutboxEvent).values(status=OutboxStatus.PENDING.value, published_at=None)
        )
    assert await relay.run_once() == 5
    stored = await js_factory.stream_messages()
    assert sorted(msg_id for _, msg_id in stored) == sorted(ids)
    assert {subj for subj, _ in stored} == {f"{js_factory.prefix}.order.paid"}

    sub = await bus.subscribe("check", ack_wait=5)
    msgs = await sub.fetch(10, 1.0)
    events = [decode_event(m.data) for m in msgs]
    assert [e.event_id for e in events] == ids  # oldest first
    first = events[0]
    assert first.app_id == "app1"
    assert first.event_type == "order.paid"
    assert first.notification.amount == 1234
    assert dict(first.notification.metadata) == {"cart": "42", "note": "支付"}
    assert first.created_at.seconds > 0
    await sub.close()


@pytest.mark.parametrize("connected_before", [True, False])
async def test_rows_wait_while_nats_is_down(
    maria_sessions: Sessions,
    js_factory: JsFactory,
    nats_server: NatsServer,
    connected_before: bool,
) -> None:
    bus = js_factory()
    if connected_before:
        await bus.connect()
    settings = RelaySettings(
        subject_prefix=js_factory.prefix,
        idle_poll_s=0.05,
        backoff_initial_s=0.05,
        backoff_max_s=0.3,
    )
    relay = OutboxRelay(maria_sessions, bus, settings)
    nats_server.stop()
    task = asyncio.create_task(relay.run())
    try:
        ids = await add_rows(maria_sessions, [outbox_row(i) for i in range(3)])
        await asyncio.sleep(1.5)
        assert not task.done()
        assert await _statuses(maria_sessions) == Counter({OutboxStatus.PENDING.value: 3})
        async with maria_sessions() as s:
            attempts = (await s.scalars(sa.select(OutboxEvent.attempts))).all()
        assert all(a >= 1 for a in attempts)

        nats_server.start()

        async def published() -> bool:
            return await _statuses(maria_sessions) == Counter({OutboxStatus.PUBLISHED.value: 3})

        await eventually(published, within=20)
    finally:
        relay.stop()
        await asyncio.wait_for(task, 5)
    stored = await js_factory.stream_messages()
    assert sorted(msg_id for _, msg_id in stored) == sorted(ids)


class RecordingBus(MemoryBus):
    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    async def publish(
        self, subject: str, data: bytes, msg_id: str, headers: Mapping[str, str] | None = None
    ) -> bool:
        self.calls[msg_id] += 1
        await asyncio.sleep(0.001)  # let the other relay run in between
        return await super().publish(subject, data, msg_id, headers)


async def test_two_relays_never_double_claim(maria_sessions: Sessions) -> None:
    ids = await add_rows(maria_sessions, [outbox_row(i) for i in range(120)])
    bus = RecordingBus()
    settings = RelaySettings(batch=7, idle_poll_s=0.05)
    relays = [OutboxRelay(maria_sessions, bus, settings) for _ in range(2)]
    tasks = [asyncio.create_task(r.run()) for r in relays]

    async def all_published() -> bool:
        return await _statuses(maria_sessions) == Counter({OutboxStatus.PUBLISHED.value: 120})

    try:
        await eventually(all_published, within=30)
    finally:
        for r in relays:
            r.stop()
        await asyncio.gather(*tasks)
    assert set(bus.calls) == set(ids)
    assert max(bus.calls.values()) == 1  # no row was published by both relays
    assert all(r.published > 0 for r in relays)  # both did work


async def test_concurrent_claims_are_disjoint(maria_sessions: Sessions) -> None:
    await add_rows(maria_sessions, [outbox_row(i) for i in range(60)])
    claims = [OutboxClaims(maria_sessions) for _ in range(4)]
    seen: list[str] = []
    for _ in range(5):
        results = await asyncio.gather(*(c.claim(10, lease=30) for c in claims))
        seen += [row.event_id for _, rows in results for row in rows]
    assert len(seen) == len(set(seen)) == 60  # every row claimed, none twice
    # Leased rows are not handed out again until the lease expires.
    _, more = await claims[0].claim(20, lease=30)
    assert more == []


async def test_expired_lease_is_claimed_again(sqlite_sessions: Sessions) -> None:
    (event_id,) = await add_rows(sqlite_sessions, [outbox_row(1)])
    claims = OutboxClaims(sqlite_sessions)
    token, rows = await claims.claim(10, lease=0.2)
    assert [r.event_id for r in rows] == [event_id]
    await asyncio.sleep(0.3)  # that relay died; its lease runs out
    token2, rows2 = await claims.claim(10, lease=30)
    assert [r.event_id for r in rows2] == [event_id]
    assert await claims.mark_published(token, [event_id]) == 0  # the stale holder cannot
    assert await claims.mark_published(token2, [event_id]) == 1


async def test_a_poison_row_is_quarantined_and_the_rest_keeps_flowing(
    maria_sessions: Sessions, bus: Bus, js_factory: JsFactory
) -> None:
    rows = [outbox_row(i) for i in range(3)]
    # 1.2 MB of metadata (accepted over gRPC before the limits): over NATS's max payload.
    rows[0].payload = {**rows[0].payload, "metadata": {"k": "v" * 1_200_000}}
    poison, *good = await add_rows(maria_sessions, rows)
    relay = OutboxRelay(maria_sessions, bus, RelaySettings(subject_prefix=js_factory.prefix))
    counted = metrics.OUTBOX_QUARANTINED_TOTAL._value.get()
    assert await relay.run_once() == 2  # the rows behind the poison one went out
    assert relay.quarantined == 1
    # ... and the alert sees it: the counter moved, the gauge counts the row set aside.
    assert metrics.OUTBOX_QUARANTINED_TOTAL._value.get() == counted + 1
    await relay._observe_backlog()
    assert metrics.OUTBOX_QUARANTINED._value.get() >= 1
    assert await relay.run_once() == 0  # and it is not claimed again
    async with maria_sessions() as s:
        row = await s.get(OutboxEvent, poison)
        assert row is not None
        assert row.status == OutboxStatus.QUARANTINED.value
        assert "max payload" in row.quarantine_reason
    claims = OutboxClaims(maria_sessions)
    assert [e for e, _ in await claims.quarantined()] == [poison]
    sub = await bus.subscribe("poison-check", filter_subject=f"{js_factory.prefix}.>", ack_wait=5)
    got = [decode_event(m.data).event_id for m in await sub.fetch(10, 1.0)]
    assert got == good
    await sub.close()

    # An operator trims the payload and re-sends it: the relay publishes it under its own id.
    async with maria_sessions.begin() as s:
        await s.execute(
            sa.update(OutboxEvent)
            .where(OutboxEvent.event_id == poison)
            .values(payload=outbox_row(0).payload | {"event_id": poison})
        )
    assert (
        await Resender(maria_sessions, bus, subject_prefix=js_factory.prefix).resend(poison)
        == poison
    )
    assert await relay.run_once() == 1
    assert await _statuses(maria_sessions) == Counter({OutboxStatus.PUBLISHED.value: 3})


async def test_an_idle_relay_slows_down_and_a_busy_one_looks_again_soon(
    sqlite_sessions: Sessions,
) -> None:
    """The pause after each pass: the short one after a pass that found rows, doubling on
    each empty pass up to idle_poll_s, none after a full batch (more may be waiting)."""
    found = iter([0, 0, 0, 0, 0, 3, 0, 100, 0, 1])
    pauses: list[float] = []

    class Scripted(OutboxRelay):
        async def run_once(self) -> int:
            n = next(found, None)
            if n is None:
                self.stop()
                return 0
            return n

        async def _sleep(self, seconds: float) -> None:
            pauses.append(round(seconds, 3))

    settings = RelaySettings(batch=100, idle_poll_s=0.5, idle_poll_min_s=0.05)
    await Scripted(sqlite_sessions, MemoryBus(), settings).run()
    assert pauses[:9] == [0.1, 0.2, 0.4, 0.5, 0.5, 0.05, 0.1, 0.2, 0.05]
