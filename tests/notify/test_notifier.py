"""Notifier against a real aiohttp merchant, on real NATS JetStream and the in-process bus."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from prometheus_client import REGISTRY

from paymesh.config.apps import NotifyConfig
from paymesh.core.db.notify_models import DeliveryStatus
from paymesh.core.signing import canonical_from_mapping, verify
from paymesh.events.v1.events_pb2 import Notification
from paymesh.notify.bus import Bus, BusUnavailable
from paymesh.notify.envelope import encode_event, subject_for
from paymesh.notify.memory_bus import MemoryBus
from paymesh.notify.notifier import Notifier, NotifierSettings
from paymesh.notify.resend import Resender
from paymesh.notify.store import SqlDeliveryStore
from paymesh.runtime import metrics
from paymesh.testing.processes import NatsServer
from tests.notify.conftest import (
    SECRET,
    Apps,
    JsFactory,
    Merchant,
    Sessions,
    add_rows,
    eventually,
    make_app,
    outbox_row,
)

FAST = NotifierSettings(fetch_wait_s=0.2, ack_wait_s=5.0)


@pytest.fixture(params=["sqlite", "mariadb"])
async def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Sessions]:
    from tests.notify.conftest import _sessions

    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'n.db'}"
    else:
        url = request.getfixturevalue("mariadb_database")
    async for s in _sessions(url):
        yield s


@pytest.fixture
async def store(sqlite_sessions: Sessions) -> SqlDeliveryStore:
    return SqlDeliveryStore(sqlite_sessions)


def _prefix_of(bus: Bus) -> str:
    return getattr(bus, "subject_prefix", "paymesh.events")


async def publish_event(bus: Bus, notify_url: str, *, app_id: str = "app1", n: int = 1) -> str:
    row = outbox_row(n, app_id=app_id, notify_url=notify_url)
    data = encode_event(
        event_id=row.event_id,
        event_type=row.event_type,
        app_id=row.app_id,
        notify_url=row.notify_url,
        payload=row.payload,
        created_at=row.created_at,
    )
    await bus.publish(subject_for(row.event_type, _prefix_of(bus)), data, row.event_id)
    return row.event_id


@asynccontextmanager
async def running(notifier: Notifier) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(notifier.run())
    try:
        yield task
    finally:
        notifier.stop()
        if not task.done():
            await asyncio.wait_for(task, 10)
        await notifier.close()


async def status_of(store: SqlDeliveryStore, event_id: str) -> DeliveryStatus | None:
    state = await store.get(event_id)
    return None if state is None else state.status


async def wait_status(store: SqlDeliveryStore, event_id: str, status: DeliveryStatus) -> None:
    async def reached() -> bool:
        return await status_of(store, event_id) is status

    await eventually(reached, within=15)


async def test_retries_follow_schedule_then_delivers_once(
    bus: Bus, sessions: Sessions, merchant: Merchant
) -> None:
    store = SqlDeliveryStore(sessions)
    delays = [0.2, 0.2, 0.4]
    apps = Apps(make_app(delays=delays))
    merchant.replies = [(500, "boom")] * 3
    notifier = Notifier(bus, apps, store, settings=FAST)
    event_id = await publish_event(bus, merchant.url)
    async with running(notifier):
        await wait_status(store, event_id, DeliveryStatus.DELIVERED)
        await asyncio.sleep(0.6)  # nothing more arrives after the delivery
    attempts = await store.attempts(event_id)
    assert [a.attempt for a in attempts] == [1, 2, 3, 4]
    assert [a.http_status for a in attempts] == [500, 500, 500, 200]
    assert [a.delivered for a in attempts] == [False, False, False, True]
    assert attempts[0].body_excerpt == "boom"
    assert attempts[0].error
    assert all(a.latency_ms is not None and a.latency_ms >= 0 for a in attempts)
    assert all(a.url == merchant.url for a in attempts)
    assert len(merchant.received) == 4
    gaps = [b.at - a.at for a, b in zip(merchant.received, merchant.received[1:], strict=False)]
    for gap, delay in zip(gaps, delays, strict=True):
        assert delay - 0.05 <= gap < delay + 1.0, (gaps, delays)
    state = await store.get(event_id)
    assert state is not None
    assert state.attempts == 4


def _rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.mark.parametrize("sign_type", ["HMAC-SHA256", "MD5", "RSA2"])
async def test_body_is_signed_and_verifies(
    sign_type: str, store: SqlDeliveryStore, merchant: Merchant
) -> None:
    bus = MemoryBus()
    private, public = _rsa_pair()
    if sign_type == "RSA2":
        app = make_app(sign_type="RSA2", public_key_pem=public)
    else:
        app = make_app(sign_type=sign_type)
    notifier = Notifier(bus, Apps(app), store, rsa_private_key=private, settings=FAST)
    event_id = await publish_event(bus, merchant.url)
    async with running(notifier):
        await wait_status(store, event_id, DeliveryStatus.DELIVERED)
    (got,) = merchant.received
    assert got.content_type == "application/json"
    body = got.body
    assert body["event_id"] == event_id
    assert body["event_type"] == "order.paid"
    assert body["app_id"] == "app1"
    assert body["order_id"] == "O0000000001"
    assert body["out_trade_no"] == "T-1"
    assert body["amount"] == 1235
    assert body["currency"] == "CNY"
    assert body["status"] == "PAID"
    assert body["channel"] == "wechat"
    assert body["channel_trade_no"] == "wx1"
    assert body["paid_at"] == "2026-11-22T04:00:00Z"
    assert body["metadata"] == {"cart": "42", "note": "支付"}
    assert abs(body["timestamp"] - time.time()) < 10
    assert body["sign_type"] == sign_type
    canonical = canonical_from_mapping(body)
    assert canonical == canonical_from_mapping(body, Notification)  # proto side agrees
    key = public if sign_type == "RSA2" else SECRET
    assert verify(canonical, sign_type, body["sign"], key)
    tampered = dict(body, amount=1)
    assert not verify(canonical_from_mapping(tampered), sign_type, body["sign"], key)


async def test_lowercase_success_with_whitespace_counts(
    bus: Bus, store: SqlDeliveryStore, merchant: Merchant
) -> None:
    merchant.replies = [(200, "  success \r\n")]
    notifier = Notifier(bus, Apps(make_app(delays=[0.2])), store, settings=FAST)
    event_id = await publish_event(bus, merchant.url)
    async with running(notifier):
        await wait_status(store, event_id, DeliveryStatus.DELIVERED)
    (attempt,) = await store.attempts(event_id)
    assert attempt.delivered
    assert attempt.body_excerpt.strip() == "success"


async def test_2xx_without_success_body_is_not_delivered(
    bus: Bus, store: SqlDeliveryStore, merchant: Merchant
) -> None:
    merchant.replies = [(200, "OK"), (500, "SUCCESS"), (201, "SUCCESS")]
    notifier = Notifier(bus, Apps(make_app(delays=[0.2, 0.2])), store, settings=FAST)
    event_id = await publish_event(bus, merchant.url)
    async with running(notifier):
        await wait_status(store, event_id, DeliveryStatus.DELIVERED)
    attempts = await store.attempts(event_id)
    assert [(a.http_status, a.delivered) for a in attempts] == [
        (200, False),
        (500, False),
        (201, True),
    ]
    assert attempts[0].body_excerpt == "OK"


async def test_long_body_excerpt_is_capped(store: SqlDeliveryStore, merchant: Merchant) -> None:
    bus = MemoryBus()
    merchant.replies = [(500, "x" * 5000)]
    notifier = Notifier(bus, Apps(make_app(delays=[0.1])), store, settings=FAST)
    event_id = await publish_event(bus, merchant.url)
    async with running(notifier):
        await wait_status(store, event_id, DeliveryStatus.DELIVERED)
    first = (await store.attempts(event_id))[0]
    assert first.body_excerpt == "x" * 512


async def test_loopback_refused_unless_app_allows_private(
    bus: Bus, store: SqlDeliveryStore, merchant: Merchant
) -> None:
    apps = Apps(
        make_app("strict", allow_private=False, delays=[0.1]),
        make_app("devapp", allow_private=True, delays=[0.1]),
    )
    notifier = Notifier(bus, apps, store, settings=FAST)
    refused = await publish_event(bus, merchant.url, app_id="strict", n=1)
    allowed = await publish_event(bus, merchant.url, app_id="devapp", n=2)
    async with running(notifier):
        await wait_status(store, refused, DeliveryStatus.FAILED)
        await wait_status(store, allowed, DeliveryStatus.DELIVERED)
    attempts = await store.attempts(refused)
    assert len(attempts) == 2  # the schedule ran out: one try plus one retry
    for a in attempts:
        assert a.http_status is None
        assert not a.delivered
        assert "refused" in a.error
        assert "loopback" in a.error
    assert [r.body["event_id"] for r in merchant.received] == [allowed]


async def test_schedule_exhausted_marks_failed_then_resend_delivers(
    bus: Bus, sqlite_sessions: Sessions, merchant: Merchant
) -> None:
    store = SqlDeliveryStore(sqlite_sessions)
    merchant.default = (503, "busy")
    row = outbox_row(1, notify_url=merchant.url)
    await add_rows(sqlite_sessions, [row])
    data = encode_event(
        event_id=row.event_id,
        event_type=row.event_type,
        app_id=row.app_id,
        notify_url=row.notify_url,
        payload=row.payload,
        created_at=row.created_at,
    )
    await bus.publish(subject_for(row.event_type, _prefix_of(bus)), data, row.event_id)
    notifier = Notifier(bus, Apps(make_app(delays=[0.1, 0.1])), store, settings=FAST)
    resender = Resender(sqlite_sessions, bus, subject_prefix=_prefix_of(bus))
    failed = metrics.NOTIFY_FAILED_FOR_GOOD._value.get()
    fives = REGISTRY.get_sample_value(
        "paymesh_notify_attempt_failures_total", {"http_class": "5xx"}
    )
    async with running(notifier):
        await wait_status(store, row.event_id, DeliveryStatus.FAILED)
        await asyncio.sleep(0.5)
        assert len(merchant.received) == 3  # terminated: no more deliveries
        assert metrics.NOTIFY_FAILED_FOR_GOOD._value.get() == failed + 1
        assert (
            REGISTRY.get_sample_value(
                "paymesh_notify_attempt_failures_total", {"http_class": "5xx"}
            )
            == (fives or 0) + 3
        )
        state = await store.get(row.event_id)
        assert state is not None
        assert state.last_error

        merchant.default = (200, "SUCCESS")
        assert await resender.resend_failed("app1") == [row.event_id]
        await wait_status(store, row.event_id, DeliveryStatus.DELIVERED)
        assert await resender.resend_failed("app1") == []

        # A delivered event can be re-sent too (ops asked for it): a third round.
        msg_id = await resender.resend(row.event_id)
        assert msg_id == f"{row.event_id}.r2"
        await merchant.wait_for(5)
        await wait_status(store, row.event_id, DeliveryStatus.DELIVERED)
    attempts = await store.attempts(row.event_id)
    assert [(a.round_id, a.attempt, a.delivered) for a in attempts] == [
        (row.event_id, 1, False),
        (row.event_id, 2, False),
        (row.event_id, 3, False),
        (f"{row.event_id}.r1", 1, True),
        (f"{row.event_id}.r2", 1, True),
    ]


async def test_killed_mid_attempt_is_delivered_by_restarted_notifier(
    bus: Bus, store: SqlDeliveryStore, merchant: Merchant
) -> None:
    settings = NotifierSettings(fetch_wait_s=0.2, ack_wait_s=1.0)
    apps = Apps(make_app(delays=[0.2]))
    merchant.hang = asyncio.Event()  # the first POST never gets an answer
    event_id = await publish_event(bus, merchant.url)

    first = Notifier(bus, apps, store, settings=settings)
    task = asyncio.create_task(first.run())
    await asyncio.wait_for(merchant.arrived.wait(), 10)
    task.cancel()  # killed before it could ack or nak
    with pytest.raises(asyncio.CancelledError):
        await task
    await first.close()
    assert await status_of(store, event_id) is DeliveryStatus.PENDING

    second = Notifier(bus, apps, store, settings=settings)
    async with running(second):
        await wait_status(store, event_id, DeliveryStatus.DELIVERED)
    assert len(merchant.received) == 2
    assert all(r.body["event_id"] == event_id for r in merchant.received)


async def test_unknown_app_is_a_failed_attempt(store: SqlDeliveryStore, merchant: Merchant) -> None:
    bus = MemoryBus()
    notifier = Notifier(
        bus, Apps(), store, notify_config=NotifyConfig(retry_delays=[0.1]), settings=FAST
    )
    event_id = await publish_event(bus, merchant.url, app_id="ghost")
    async with running(notifier):
        await wait_status(store, event_id, DeliveryStatus.FAILED)
    attempts = await store.attempts(event_id)
    assert len(attempts) == 2
    assert "app config" in attempts[0].error
    assert merchant.received == []


async def test_relay_and_notifier_end_to_end_on_memory_bus(
    sqlite_sessions: Sessions, merchant: Merchant
) -> None:
    from paymesh.notify.relay import OutboxRelay, RelaySettings

    bus = MemoryBus()
    ids = await add_rows(
        sqlite_sessions, [outbox_row(i, notify_url=merchant.url) for i in range(3)]
    )
    store = SqlDeliveryStore(sqlite_sessions)
    relay = OutboxRelay(sqlite_sessions, bus, RelaySettings(idle_poll_s=0.05))
    notifier = Notifier(bus, Apps(make_app()), store, settings=FAST)
    relay_task = asyncio.create_task(relay.run())
    try:
        async with running(notifier):
            for event_id in ids:
                await wait_status(store, event_id, DeliveryStatus.DELIVERED)
    finally:
        relay.stop()
        await relay_task
    assert sorted(r.body["event_id"] for r in merchant.received) == sorted(ids)


async def test_notifier_survives_a_nats_restart(
    js_factory: JsFactory, nats_server: NatsServer, store: SqlDeliveryStore, merchant: Merchant
) -> None:
    bus = js_factory()
    await bus.connect()
    settings = NotifierSettings(fetch_wait_s=0.2, ack_wait_s=5.0, bus_retry_s=0.2)
    notifier = Notifier(bus, Apps(make_app()), store, settings=settings)
    async with running(notifier) as task:
        first = await publish_event(bus, merchant.url, n=1)
        await wait_status(store, first, DeliveryStatus.DELIVERED)
        nats_server.stop()
        await asyncio.sleep(1.0)
        assert not task.done()
        nats_server.start()
        publisher = js_factory()  # a relay elsewhere publishes once NATS is back

        async def published() -> bool:
            try:
                await publish_event(publisher, merchant.url, n=2)
            except BusUnavailable:
                return False
            return True

        await eventually(published, within=15)
        await merchant.wait_for(2, within=15)
    assert len(merchant.received) == 2
