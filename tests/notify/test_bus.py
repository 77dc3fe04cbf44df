"""Bus contract, on real NATS JetStream and on the in-process bus alike."""

from __future__ import annotations

import time

import pytest

from paymesh.notify.bus import Bus, BusUnavailable
from paymesh.notify.buses import open_bus
from paymesh.notify.jetstream import JetStreamBus
from paymesh.notify.memory_bus import MemoryBus, subject_matches
from paymesh.testing.ports import free_port
from tests.notify.conftest import JsFactory, subject


async def test_msg_id_dedupes(bus: Bus, prefix: str) -> None:
    assert await bus.publish(subject(prefix), b"one", "E1") is True
    assert await bus.publish(subject(prefix), b"one again", "E1") is False
    assert await bus.publish(subject(prefix), b"two", "E2") is True
    sub = await bus.subscribe("d1", ack_wait=5)
    got = await sub.fetch(10, 1.0)
    assert [(m.msg_id, m.data) for m in got] == [("E1", b"one"), ("E2", b"two")]
    assert all(m.metadata.num_delivered == 1 for m in got)
    assert all(m.subject == subject(prefix) for m in got)
    for m in got:
        await m.ack()
    assert await sub.fetch(10, 0.3) == []
    await sub.close()


async def test_nak_with_delay_redelivers_later(bus: Bus, prefix: str) -> None:
    await bus.publish(subject(prefix), b"x", "E1")
    sub = await bus.subscribe("d2", ack_wait=5)
    (first,) = await sub.fetch(1, 1.0)
    t0 = time.monotonic()
    await first.nak(0.5)
    (again,) = await sub.fetch(1, 3.0)
    waited = time.monotonic() - t0
    assert 0.4 <= waited < 2.0
    assert again.msg_id == "E1"
    assert again.metadata.num_delivered == 2
    await again.ack()
    assert await sub.fetch(1, 0.3) == []
    await sub.close()


async def test_unsettled_message_redelivered_to_a_new_subscriber(bus: Bus, prefix: str) -> None:
    await bus.publish(subject(prefix), b"x", "E1")
    sub = await bus.subscribe("d3", ack_wait=1)
    (first,) = await sub.fetch(1, 1.0)
    await sub.close()  # the worker dies without settling
    sub2 = await bus.subscribe("d3", ack_wait=1)
    t0 = time.monotonic()
    (again,) = await sub2.fetch(1, 4.0)
    assert time.monotonic() - t0 >= 0.5
    assert again.msg_id == first.msg_id
    assert again.metadata.num_delivered == 2
    await again.ack()
    await sub2.close()


async def test_term_is_never_redelivered(bus: Bus, prefix: str) -> None:
    await bus.publish(subject(prefix), b"x", "E1")
    sub = await bus.subscribe("d4", ack_wait=0.5)
    (msg,) = await sub.fetch(1, 1.0)
    await msg.term()
    assert await sub.fetch(1, 1.2) == []
    await sub.close()


async def test_durable_consumers_are_independent(bus: Bus, prefix: str) -> None:
    await bus.publish(subject(prefix), b"x", "E1")
    a = await bus.subscribe("da", ack_wait=5)
    b = await bus.subscribe("db", ack_wait=5)
    (ma,) = await a.fetch(1, 1.0)
    (mb,) = await b.fetch(1, 1.0)
    await ma.ack()
    await mb.ack()
    assert ma.msg_id == mb.msg_id == "E1"
    await a.close()
    await b.close()


def test_subject_matches() -> None:
    assert subject_matches("paymesh.events.>", "paymesh.events.order.paid")
    assert not subject_matches("paymesh.events.>", "paymesh.events")
    assert subject_matches("a.*.c", "a.b.c")
    assert not subject_matches("a.*.c", "a.b.d")
    assert not subject_matches("a.b", "a.b.c")


async def test_jetstream_consumer_config_follows_the_code(js_factory: JsFactory) -> None:
    """A durable created with one ack_wait is updated when a new release asks for another."""
    bus = js_factory()
    await bus.publish(subject(js_factory.prefix), b"x", "E1")
    sub = await bus.subscribe("dcfg", ack_wait=30)
    await sub.close()
    sub = await bus.subscribe("dcfg", ack_wait=0.5)
    (msg,) = await sub.fetch(1, 1.0)
    (again,) = await sub.fetch(1, 3.0)  # not settled: back after the new, short ack_wait
    assert again.metadata.num_delivered == 2
    assert msg.msg_id == again.msg_id
    await again.ack()
    await sub.close()


async def test_jetstream_unreachable_fails_fast() -> None:
    bus = JetStreamBus(f"nats://127.0.0.1:{free_port()}")
    t0 = time.monotonic()
    with pytest.raises(BusUnavailable):
        await bus.publish("paymesh.events.order.paid", b"x", "E1")
    with pytest.raises(BusUnavailable):
        await bus.subscribe()
    assert time.monotonic() - t0 < 5
    await bus.close()


def test_open_bus() -> None:
    assert isinstance(open_bus("memory://"), MemoryBus)
    js = open_bus("nats://127.0.0.1:4222", stream="X")
    assert isinstance(js, JetStreamBus)
    assert js.stream == "X"
    with pytest.raises(ValueError, match="unsupported"):
        open_bus("kafka://x")
