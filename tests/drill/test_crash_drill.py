"""Multi-replica crash drill on one machine: two `paymesh serve` processes each of
the gateways (pay/query/refund), callback, notify and monitor against one MariaDB, one NATS
JetStream and one etcd, Envoy balancing across each pair, the provider sandbox behind one
WeChat channel process; mutual TLS on every gRPC hop, as in production. A bounded load of orders, payments and refunds runs while one process
of each kind is SIGKILLed and restarted. Afterwards nothing is lost and nothing is doubled.

It prints its counts (orders, payments, refunds, events, deliveries, client retries, kills).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
import sqlalchemy as sa
from aiohttp import web
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy.ext.asyncio import create_async_engine

from paymesh.channels.sandbox.app import SandboxServer, start_sandbox
from paymesh.config.etcd_store import EtcdConfigStore
from paymesh.config.repository import ConfigRepository
from paymesh.deploy import certs
from paymesh.dev.merchant import DemoMerchant
from paymesh.dev.seed import DemoApp, private_key_pem, seed_app, seed_wechat
from paymesh.gateway.envoy.config import render_text
from paymesh.gateway.envoy.upstreams import UpstreamTls
from paymesh.merchant.v1 import pay_service_pb2, query_service_pb2, refund_service_pb2
from paymesh.testing.ports import free_port
from paymesh.testing.processes import EnvoyProcess, EtcdServer, MariaDBServer, NatsServer
from tests.e2e.client import Merchant

ORDERS = 40
CONCURRENCY = 8
REFUND_EVERY = 2  # every 2nd order gets a partial refund
SETTLE_WITHIN = 120.0  # seconds for everything to be paid, refunded, notified, drained
RETRYABLE = (502, 503, 504, 599)  # a killed replica, Envoy's answer for it, no connection
KINDS = {
    "gateway": ["pay", "query", "refund"],
    "callback": ["callback"],
    "notify": ["notify"],
    "monitor": ["monitor"],
}


@dataclass
class Proc:
    kind: str
    replica: int
    port: int
    health_port: int  # plaintext grpc.health.v1 (the main port is mutual TLS)
    args: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as fh:
            self.popen = subprocess.Popen(
                self.args, env=self.env, stdout=fh, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def kill(self) -> None:
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


async def _serving(port: int, within: float = 90.0) -> None:
    deadline = time.monotonic() + within
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while True:
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"port {port} not serving after {within}s")
            await asyncio.sleep(0.2)


@dataclass
class Drill:
    procs: list[Proc]
    edge_url: str
    database_url: str
    app: DemoApp
    merchant_demo: DemoMerchant
    sandbox: SandboxServer
    stats: Counter[str] = field(default_factory=Counter)


@pytest.fixture
async def drill(
    etcd_server: EtcdServer,
    mariadb_server: MariaDBServer,
    tmp_path: Path,
) -> AsyncIterator[Drill]:
    # A NATS of its own: the served processes use the one stream name, and on the session's
    # NATS this drill's notifiers would also deliver what earlier tests left unacknowledged.
    nats_server = NatsServer()
    await asyncio.to_thread(nats_server.start)
    prefix = f"/drill-{uuid.uuid4().hex[:8]}/config"
    database_url = mariadb_server.create_database(f"drill_{uuid.uuid4().hex[:8]}")
    store = EtcdConfigStore([etcd_server.endpoint])
    repo = ConfigRepository(store, prefix)
    sandbox = await start_sandbox("127.0.0.1", 0)
    await seed_wechat(repo, sandbox.url, private_key_pem())
    merchant_port = free_port()
    app = await seed_app(
        repo, alipay_account=None, notify_url=f"http://127.0.0.1:{merchant_port}/notify"
    )
    demo = DemoMerchant(app.sign_type, app.secret)
    runner = web.AppRunner(demo.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", merchant_port).start()

    edge_port, channel_port = free_port(), free_port()
    edge_url = f"http://127.0.0.1:{edge_port}"
    paymesh = str(Path(sys.executable).parent / "paymesh")
    base_env = {
        **os.environ,
        "PAYMESH_DATABASE_URL": database_url,
        "PAYMESH_CONFIG_BACKEND": "etcd",
        "PAYMESH_ETCD_ENDPOINTS": etcd_server.endpoint,
        "PAYMESH_CONFIG_PREFIX": prefix,
        "PAYMESH_NATS_URL": nats_server.url,
        "PAYMESH_CHANNEL_TARGETS": f"wechat=127.0.0.1:{channel_port}",
        "PAYMESH_CALLBACK_BASE_URL": edge_url,
        "PAYMESH_CHANNEL_TIMEOUT_SECONDS": "5",
        "PAYMESH_DRAIN_SECONDS": "1",
        "PAYMESH_LOG_LEVEL": "WARNING",
        "PAYMESH_MONITOR_PENDING_AFTER": "3",
        "PAYMESH_MONITOR_INTERVAL": "1",
    }

    # Production shape: mutual TLS on every gRPC hop, a certificate per kind of process.
    mesh_certs = tmp_path / "certs"
    certs.init(mesh_certs, ["edge", "channel", *KINDS], "paymesh")

    def proc(kind: str, replica: int, services: list[str], port: int | None = None) -> Proc:
        port, health_port = port or free_port(), free_port()
        folder = mesh_certs / kind
        env = {
            **base_env,
            "PAYMESH_LISTEN": f"127.0.0.1:{port}",
            "PAYMESH_HEALTH_LISTEN": f"127.0.0.1:{health_port}",
            "PAYMESH_TLS_CERT_FILE": str(folder / "tls.crt"),
            "PAYMESH_TLS_KEY_FILE": str(folder / "tls.key"),
            "PAYMESH_TLS_CA_FILE": str(folder / "ca.crt"),
        }
        args = [paymesh, "serve", *services]
        log = tmp_path / f"{kind}-{replica}.log"
        return Proc(kind, replica, port, health_port, args, env, log)

    procs = [proc("channel", 0, ["wechat"], channel_port)]
    procs += [proc(kind, r, services) for kind, services in KINDS.items() for r in (0, 1)]
    try:
        # The first process migrates the database; the others start beside each other.
        procs[1].start()
        await _serving(procs[1].health_port)
        for p in procs:
            if p.popen is None:
                p.start()
        await asyncio.gather(*(_serving(p.health_port) for p in procs))

        def pair(kind: str) -> str:
            return ",".join(f"127.0.0.1:{p.port}" for p in procs if p.kind == kind)

        upstreams = {name: pair("gateway") for name in ("pay", "query", "refund", "info")}
        upstreams["callback"] = pair("callback")
        envoy = EnvoyProcess(
            render_text(
                listen_port=edge_port,
                admin_port=free_port(),
                upstreams=upstreams,
                upstream_tls=UpstreamTls(
                    str(mesh_certs / "edge" / "tls.crt"),
                    str(mesh_certs / "edge" / "tls.key"),
                    str(mesh_certs / "edge" / "ca.crt"),
                ),
            ),
            log_level="error",
        )
        envoy.start()
        try:
            yield Drill(procs, edge_url, database_url, app, demo, sandbox)
        finally:
            envoy.close()
    finally:
        for p in procs:
            p.stop()
        await runner.cleanup()
        await sandbox.close()
        await repo.close()
        await store.close()
        nats_server.close()


async def _retrying(
    drill: Drill, what: str, call: Callable[[], Awaitable[tuple[int, dict[str, Any]]]]
) -> dict[str, Any]:
    """A merchant's retry loop: 5xx (a killed replica) is retried with the same request ids."""
    for _ in range(120):
        try:
            status, body = await call()
        except aiohttp.ClientError:
            status, body = 599, {}
        if status not in RETRYABLE:
            # Anything but "unavailable" (a 500 from a reissued id, say) fails the drill.
            assert status == 200, (what, status, body)
            return body
        drill.stats[f"retries_{what}"] += 1
        await asyncio.sleep(0.25)
    raise AssertionError(f"{what}: still failing after 120 attempts")


async def _until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {within}s: {what}")
        await asyncio.sleep(0.3)


async def _one_order(
    drill: Drill, merchant: Merchant, http: aiohttp.ClientSession, i: int
) -> dict[str, Any]:
    no = f"d{i}-{uuid.uuid4().hex[:12]}"
    amount = 100 + i
    request = {"out_trade_no": no, "amount": amount, "subject": "drill", "method": "qr"}
    first = await _retrying(
        drill,
        "create",
        lambda: merchant.post("/v1/orders", request, pay_service_pb2.CreateOrderRequest),
    )
    order_id = first["order"]["order_id"]
    # The merchant cannot know whether a retried create went through: asking again with the
    # same out_trade_no must give the same order.
    again = await _retrying(
        drill,
        "create",
        lambda: merchant.post("/v1/orders", request, pay_service_pb2.CreateOrderRequest),
    )
    assert again["order"]["order_id"] == order_id
    out: dict[str, Any] = {"order_id": order_id, "out_trade_no": no, "amount": amount}
    out |= {"refund": None, "captured": False}
    if not (first["order"].get("pay_data") or {}).get("code_url"):
        # The gateway died between storing the order and the channel's answer: the retry
        # returns the PENDING order without pay data (no second channel call), so no payer
        # can pay it. It must never become PAID; the monitor and expiry own it.
        drill.stats["orders_without_pay_data"] += 1
        return out
    out["captured"] = True
    async with http.post(
        f"{drill.sandbox.url}/_sandbox/pay", json={"channel": "wechat", "out_trade_no": order_id}
    ) as r:
        assert r.status == 200, await r.text()

    async def paid() -> bool:
        body = await _retrying(
            drill,
            "query",
            lambda: merchant.get(
                f"/v1/orders/{order_id}",
                {},
                query_service_pb2.QueryOrderRequest,
                path_params={"order_id": order_id},
            ),
        )
        return bool(body["order"]["status"] == "PAID")

    await _until(paid, SETTLE_WITHIN, f"order {order_id} paid")
    if i % REFUND_EVERY == 0:
        refund = {"order_id": order_id, "out_refund_no": f"r{no}", "amount": amount // 2}
        body = await _retrying(
            drill,
            "refund",
            lambda: merchant.post("/v1/refunds", refund, refund_service_pb2.CreateRefundRequest),
        )
        out["refund"] = body["refund"]["refund_id"]
    return out


async def _chaos(drill: Drill, started: asyncio.Event) -> None:
    """SIGKILL replica 0 of every kind mid-run, then restart it on the same port."""
    await started.wait()
    await asyncio.sleep(2.0)
    victims = [p for p in drill.procs if p.kind in KINDS and p.replica == 0]
    for p in victims:
        p.kill()
        drill.stats[f"killed_{p.kind}"] += 1
    await asyncio.sleep(1.5)
    for p in victims:
        p.start()
    await asyncio.gather(*(_serving(p.health_port) for p in victims))
    drill.stats["restarted"] = len(victims)


async def test_crash_drill(drill: Drill, capsys: pytest.CaptureFixture[str]) -> None:
    t0 = time.monotonic()
    sem = asyncio.Semaphore(CONCURRENCY)
    started = asyncio.Event()
    async with aiohttp.ClientSession() as http:
        a = drill.app
        merchant = Merchant(drill.edge_url, a.app_id, a.sign_type, a.secret, http)

        async def bounded(i: int) -> dict[str, Any]:
            async with sem:
                started.set()
                return await _one_order(drill, merchant, http, i)

        chaos = asyncio.create_task(_chaos(drill, started))
        results = await asyncio.gather(*(bounded(i) for i in range(ORDERS)))
        await chaos
    load_seconds = time.monotonic() - t0

    engine = create_async_engine(drill.database_url)
    try:

        async def rows(sql: str) -> list[Any]:
            async with engine.connect() as conn:
                return list((await conn.execute(sa.text(sql))).all())

        async def settled() -> bool:
            refunds = await rows("SELECT status FROM refunds")
            pending = await rows("SELECT event_id FROM outbox WHERE status <> 'PUBLISHED'")
            events = {r[0] for r in await rows("SELECT event_id FROM outbox")}
            seen = {n.body.get("event_id") for n in drill.merchant_demo.received}
            return all(r[0] == "SUCCEEDED" for r in refunds) and not pending and events <= seen

        await _until(settled, SETTLE_WITHIN, "refunds settled, outbox drained, all notified")
        await asyncio.sleep(2.0)  # room for a late duplicate delivery to show up

        orders = await rows(
            "SELECT order_id, out_trade_no, amount, status, refunded_amount FROM pay_orders"
        )
        refunds = await rows(
            "SELECT refund_id, order_id, out_refund_no, amount, status FROM refunds"
        )
        events = await rows("SELECT event_id, event_type, aggregate_id, status FROM outbox")
    finally:
        await engine.dispose()

    # Every order created once, with the id its merchant was given.
    assert len(orders) == ORDERS
    assert {o[0] for o in orders} == {r["order_id"] for r in results}
    assert {o[1] for o in orders} == {r["out_trade_no"] for r in results}
    # Every captured payment PAID, exactly one order.paid event each.
    captured = {r["order_id"] for r in results if r["captured"]}
    assert len(captured) >= ORDERS * 3 // 4, "most orders are paid through the drill"
    status = {o[0]: o[3] for o in orders}
    assert all(status[oid] == "PAID" for oid in captured), status
    assert all(status[o] != "PAID" for o in status.keys() - captured), status
    paid_events = Counter(e[2] for e in events if e[1] == "order.paid")
    assert paid_events == Counter({oid: 1 for oid in captured})
    # Refunds: one per request, within the paid amount, the order's total matching.
    wanted = {r["refund"] for r in results if r["refund"]}
    assert {r[0] for r in refunds} == wanted
    assert len({r[2] for r in refunds}) == len(refunds)
    by_order: dict[str, int] = defaultdict(int)
    for r in refunds:
        assert r[4] == "SUCCEEDED", r
        by_order[r[1]] += r[3]
    for o in orders:
        assert by_order.get(o[0], 0) == o[4] <= o[2], o
    refund_events = Counter(e[2] for e in events if e[1].startswith("refund."))
    assert refund_events == Counter({r[0]: 1 for r in refunds})  # one refund.succeeded each
    assert {e[1] for e in events} == {"order.paid", "refund.succeeded"}
    # No id reissued across orders, refunds and events.
    ids = [o[0] for o in orders] + [r[0] for r in refunds] + [e[0] for e in events]
    assert len(ids) == len(set(ids))
    # Every event delivered (at least once), a repeat always with the same event_id.
    assert all(e[3] == "PUBLISHED" for e in events)
    deliveries = [n.body for n in drill.merchant_demo.received]
    assert all(n.verified for n in drill.merchant_demo.received)
    assert {e[0] for e in events} == {d["event_id"] for d in deliveries}
    ids_per_change: dict[tuple[str, str], set[str]] = defaultdict(set)
    for d in deliveries:
        key = str(d.get("refund_id") or d.get("order_id")), str(d["event_type"])
        ids_per_change[key].add(str(d["event_id"]))
    assert all(len(v) == 1 for v in ids_per_change.values()), ids_per_change
    kills = {k: v for k, v in drill.stats.items() if k.startswith("killed_")}
    assert kills == {f"killed_{k}": 1 for k in KINDS}

    with capsys.disabled():
        print(
            f"\ncrash drill: {len(orders)} orders created once, "
            f"{sum(o[3] == 'PAID' for o in orders)} paid once "
            f"({drill.stats['orders_without_pay_data']} interrupted before pay data), "
            f"{len(refunds)} refunds succeeded within bound, {len(events)} events, "
            f"{len(deliveries)} deliveries ({len(deliveries) - len(events)} repeats, same ids), "
            f"client retries {dict((k, v) for k, v in drill.stats.items() if k.startswith('retries_'))}, "
            f"killed+restarted {kills}, load {load_seconds:.1f}s"
        )
