"""Notify fixtures: migrated databases, buses on real NATS (own stream per test), a real
aiohttp merchant endpoint on a free loopback port, and an outbox-row helper."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.pool import NullPool

from paymesh.config.apps import AppConfig
from paymesh.core.db.engine import create_engine, session_factory
from paymesh.core.db.migrate import migrate
from paymesh.core.db.models import OutboxEvent, OutboxStatus
from paymesh.notify.bus import Bus
from paymesh.notify.jetstream import JetStreamBus
from paymesh.notify.memory_bus import MemoryBus
from paymesh.testing.ports import free_port
from paymesh.testing.processes import NatsServer

SECRET = "s3cret-key-for-tests-0123456789abcdef"
Sessions = async_sessionmaker[AsyncSession]


async def _sessions(url: str) -> AsyncIterator[Sessions]:
    await migrate(url)
    engine = create_engine(url) if "sqlite" not in url else create_engine(url, poolclass=NullPool)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def maria_sessions(mariadb_database: str) -> AsyncIterator[Sessions]:
    async for s in _sessions(mariadb_database):
        yield s


@pytest.fixture
async def sqlite_sessions(tmp_path: Path) -> AsyncIterator[Sessions]:
    async for s in _sessions(f"sqlite+aiosqlite:///{tmp_path / 'notify.db'}"):
        yield s


@pytest.fixture
def prefix() -> str:
    """A subject prefix no other test uses (each JetStreamBus gets its own stream)."""
    return f"t{uuid.uuid4().hex[:12]}.events"


class JsFactory:
    def __init__(self, url: str, prefix: str) -> None:
        self.url, self.prefix = url, prefix
        self.stream = "S_" + prefix.split(".")[0].upper()
        self.buses: list[JetStreamBus] = []

    def __call__(self, **kwargs: Any) -> JetStreamBus:
        bus = JetStreamBus(self.url, stream=self.stream, subject_prefix=self.prefix, **kwargs)
        self.buses.append(bus)
        return bus

    async def stream_messages(self) -> list[tuple[str, str]]:
        """(subject, Nats-Msg-Id) of every message in this test's stream."""
        nc = await nats.connect(self.url)
        try:
            js = nc.jetstream()
            info = await js.stream_info(self.stream)
            out = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                msg = await js.get_msg(self.stream, seq)
                out.append((msg.subject or "", (msg.headers or {}).get("Nats-Msg-Id", "")))
            return out
        finally:
            await nc.close()

    async def close(self) -> None:
        for bus in self.buses:
            await bus.close()
        try:
            nc = await nats.connect(self.url, connect_timeout=2, max_reconnect_attempts=1)
            try:
                await nc.jetstream().delete_stream(self.stream)
            finally:
                await nc.close()
        except Exception:  # noqa: S110 - the stream may not exist; best effort cleanup
            pass


@pytest.fixture
async def js_factory(nats_server: NatsServer, prefix: str) -> AsyncIterator[JsFactory]:
    factory = JsFactory(nats_server.url, prefix)
    yield factory
    await factory.close()


@pytest.fixture(params=["jetstream", "memory"])
async def bus(request: pytest.FixtureRequest, js_factory: JsFactory) -> AsyncIterator[Bus]:
    """The same tests on both implementations."""
    if request.param == "memory":
        yield MemoryBus()
        return
    b = js_factory()
    await b.connect()
    yield b


def subject(prefix: str, event_type: str = "order.paid") -> str:
    return f"{prefix}.{event_type}"


# ---------------------------------------------------------------------------- merchant


@dataclass
class Received:
    at: float
    body: dict[str, Any]
    content_type: str


@dataclass
class Merchant:
    """A real HTTP endpoint; ``replies`` is consumed one per request, then ``default``."""

    url: str = ""
    replies: list[tuple[int, str]] = field(default_factory=list)
    default: tuple[int, str] = (200, "SUCCESS")
    hang: asyncio.Event | None = None  # when set: the next request hangs until released
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    gates: list[asyncio.Event] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(Received(time.monotonic(), body, request.content_type))
        self.arrived.set()
        if self.hang is not None:
            gate, self.hang = self.hang, None
            self.gates.append(gate)
            await gate.wait()
        status, text = self.replies.pop(0) if self.replies else self.default
        return web.Response(status=status, text=text)

    async def wait_for(self, n: int, within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while len(self.received) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"merchant got {len(self.received)} requests, wanted {n}")
            await asyncio.sleep(0.02)


@pytest.fixture
async def merchant() -> AsyncIterator[Merchant]:
    m = Merchant()
    app = web.Application()
    app.router.add_post("/notify", m.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    m.url = f"http://127.0.0.1:{port}/notify"
    yield m
    for gate in [*m.gates, *([m.hang] if m.hang else [])]:
        gate.set()
    await runner.cleanup()


# ---------------------------------------------------------------------------- config, outbox


class Apps:
    """A config source: get_app over a dict."""

    def __init__(self, *apps: AppConfig) -> None:
        self.apps = {a.app_id: a for a in apps}

    async def get_app(self, app_id: str) -> AppConfig:
        try:
            return self.apps[app_id]
        except KeyError:
            raise LookupError(f"app {app_id} not found") from None


def make_app(
    app_id: str = "app1",
    *,
    allow_private: bool = True,
    delays: list[float] | None = None,
    **kwargs: Any,
) -> AppConfig:
    kwargs.setdefault("sign_type", "HMAC-SHA256")
    if kwargs["sign_type"] != "RSA2":
        kwargs.setdefault("secret", SECRET)
    return AppConfig(
        app_id=app_id,
        name="Test app",
        allow_private_notify_urls=allow_private,
        notify_retry_delays=delays,
        **kwargs,
    )


def outbox_row(
    n: int, *, app_id: str = "app1", notify_url: str = "", created_at: datetime | None = None
) -> OutboxEvent:
    event_id = f"E{uuid.uuid4().hex[:20]}{n:04d}"
    created = created_at or datetime.now(UTC) + timedelta(microseconds=n)
    return OutboxEvent(
        event_id=event_id,
        event_type="order.paid",
        app_id=app_id,
        aggregate_id=f"O{n:010d}",
        notify_url=notify_url,
        payload={
            "event_id": event_id,
            "event_type": "order.paid",
            "app_id": app_id,
            "order_id": f"O{n:010d}",
            "out_trade_no": f"T-{n}",
            "amount": 1234 + n,
            "currency": "CNY",
            "status": "PAID",
            "channel": "wechat",
            "channel_trade_no": f"wx{n}",
            "paid_at": "2026-11-22T04:00:00Z",
            "metadata": {"cart": "42", "note": "支付"},
        },
        status=OutboxStatus.PENDING.value,
        attempts=0,
        created_at=created,
    )


async def add_rows(sessions: Sessions, rows: list[OutboxEvent]) -> list[str]:
    async with sessions.begin() as s:
        s.add_all(rows)
    return [r.event_id for r in rows]


async def eventually(
    check: Callable[[], Any], within: float = 10.0, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)
