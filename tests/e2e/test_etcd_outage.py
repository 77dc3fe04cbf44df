"""Drill: etcd stopped for longer than the worker-id lease, under CreateOrder, then started.

While no lease is held the process issues no ids: CreateOrder answers 503 UNAVAILABLE with
reason WORKER_ID_UNAVAILABLE (never INTERNAL) and health says NOT_SERVING. When etcd is back
the lease is taken again (after the previous high-water mark), health says SERVING and orders
are created again, with ids after every id issued before. A 2 s lease keeps the drill short.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from paymesh.channels.sandbox.app import SandboxServer, start_sandbox
from paymesh.config.etcd_store import EtcdConfigStore
from paymesh.config.repository import ConfigRepository
from paymesh.dev.seed import DemoApp, private_key_pem, seed_app, seed_wechat
from paymesh.gateway.envoy.config import render_text
from paymesh.merchant.v1 import pay_service_pb2
from paymesh.runtime.server import RunningServer, start_server
from paymesh.runtime.settings import Settings
from paymesh.testing.ports import free_port
from paymesh.testing.processes import EnvoyProcess, EtcdServer, MariaDBServer
from tests.e2e.client import Merchant, reason

CreateOrder = pay_service_pb2.CreateOrderRequest
LEASE_TTL = 2
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class Drill:
    etcd: EtcdServer
    edge_url: str
    server: RunningServer
    app: DemoApp


@pytest.fixture
async def drill(mariadb_server: MariaDBServer) -> AsyncIterator[Drill]:
    etcd = EtcdServer()  # its own: stopping it must not disturb other tests
    etcd.start()
    envoy: EnvoyProcess | None = None
    server: RunningServer | None = None
    sandbox: SandboxServer = await start_sandbox("127.0.0.1", 0)
    prefix = f"/drill-{uuid.uuid4().hex[:8]}/config"
    store = EtcdConfigStore([etcd.endpoint])
    repo = ConfigRepository(store, prefix)
    try:
        await seed_wechat(repo, sandbox.url, private_key_pem())
        app = await seed_app(repo)
        grpc_port, edge_port = free_port(), free_port()
        edge_url = f"http://127.0.0.1:{edge_port}"
        settings = Settings(
            listen=f"127.0.0.1:{grpc_port}",
            database_url=mariadb_server.create_database(f"drill_{uuid.uuid4().hex[:8]}"),
            config_backend="etcd",
            etcd_endpoints=[etcd.endpoint],
            config_prefix=prefix,
            worker_lease_ttl_seconds=LEASE_TTL,
            channel_targets={"wechat": f"127.0.0.1:{grpc_port}"},
            callback_base_url=edge_url,
            channel_timeout_seconds=3.0,
            drain_seconds=0.5,
        )
        server = await start_server(["info", "pay", "query", "wechat"], settings)
        envoy = EnvoyProcess(
            render_text(
                listen_port=edge_port,
                admin_port=free_port(),
                upstreams={"*": f"127.0.0.1:{server.port}"},
            ),
            log_level="warning",
        )
        envoy.start()
        yield Drill(etcd, edge_url, server, app)
    finally:
        if envoy is not None:
            envoy.close()
        if server is not None:
            await server.drain(0.5)
        await repo.close()
        await store.close()
        await sandbox.close()
        etcd.close(kill=True)


async def _health(port: int) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        resp = await stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
        status: int = resp.status
        return status


async def _until_health(port: int, want: int, within: float) -> None:
    deadline = time.monotonic() + within
    while (got := await _health(port)) != want:
        assert time.monotonic() < deadline, f"health stayed {got}, wanted {want}"
        await asyncio.sleep(0.1)


async def test_an_etcd_outage_longer_than_the_lease_is_503_and_not_serving_then_recovers(
    drill: Drill,
) -> None:
    async with aiohttp.ClientSession() as http:
        merchant = Merchant(
            drill.edge_url, drill.app.app_id, drill.app.sign_type, drill.app.secret, http
        )

        async def create(no: str) -> tuple[int, dict[str, Any]]:
            body = {"out_trade_no": no, "amount": 1, "subject": "drill", "method": "qr"}
            return await merchant.post("/v1/orders", body, CreateOrder)

        status, before = await create("etcd-before")
        assert status == 200, before
        assert await _health(drill.server.port) == SERVING

        await asyncio.to_thread(drill.etcd.stop)
        stopped = time.monotonic()
        try:
            await _until_health(drill.server.port, NOT_SERVING, within=LEASE_TTL + 5)
            answers = []
            n = 0
            # Keep etcd down well past the lease's TTL (the lease is gone, not just late).
            while time.monotonic() - stopped < 2 * LEASE_TTL + 1:
                answers.append(await create(f"etcd-during-{n}"))
                n += 1
                await asyncio.sleep(0.2)
            assert await _health(drill.server.port) == NOT_SERVING
        finally:
            await asyncio.to_thread(drill.etcd.start)
        assert answers
        for status, body in answers:
            assert status == 503, body
            assert body["code"] == 14, body
            assert reason(body) == "WORKER_ID_UNAVAILABLE", body

        await _until_health(drill.server.port, SERVING, within=30)
        status, after = await create("etcd-after")
        assert status == 200, after
        assert after["order"]["order_id"] > before["order"]["order_id"]
        # What failed during the outage was not stored: retried, it is created now.
        status, retried = await create("etcd-during-0")
        assert status == 200, retried
        assert retried["order"]["order_id"] > after["order"]["order_id"]
