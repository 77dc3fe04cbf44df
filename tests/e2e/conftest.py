"""The whole mesh on the real backends: MariaDB, etcd, Envoy, and the sandbox.

One mesh per test session: gateways and the WeChat channel service in one `paymesh serve`
style process (start_server), Envoy in front, the provider sandbox behind the channel.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import nats
import pytest
from aiohttp import web

from paymesh.channels.sandbox.app import SandboxServer, start_sandbox
from paymesh.config.etcd_store import EtcdConfigStore
from paymesh.config.file_store import FileConfigStore
from paymesh.config.repository import ConfigRepository
from paymesh.config.store import ConfigStore
from paymesh.core import resources
from paymesh.core.db.store import Store
from paymesh.dev.merchant import DemoMerchant
from paymesh.dev.seed import (
    UNIONPAY_ACCOUNT,
    DemoApp,
    private_key_pem,
    public_key_pem,
    seed_alipay,
    seed_app,
    seed_unionpay,
    seed_wechat,
)
from paymesh.gateway.envoy.config import render_text
from paymesh.runtime.server import RunningServer, start_server
from paymesh.runtime.settings import Settings
from paymesh.testing.ports import free_port
from paymesh.testing.processes import EnvoyProcess, EtcdServer, MariaDBServer, NatsServer
from tests.e2e.client import Merchant

SERVICES = [
    "info", "pay", "query", "refund", "transfer", "callback", "wechat", "alipay", "unionpay",
    "notify", "recon", "cashier",
]  # fmt: skip


@dataclass
class Mesh:
    edge_url: str
    sandbox_url: str
    database_url: str
    repo: ConfigRepository
    server: RunningServer
    app: DemoApp
    sandbox: SandboxServer
    demo_merchant: DemoMerchant
    notify_url: str
    backend: str
    notify_public_key_pem: str

    async def store(self) -> Store:
        """The store the running services share (same engine, same ids)."""
        return await resources.store(self.server.context)

    def merchant(self, session: aiohttp.ClientSession, app: DemoApp | None = None) -> Merchant:
        a = app or self.app
        return Merchant(self.edge_url, a.app_id, a.sign_type, a.secret, session)


BACKENDS = ["mariadb+etcd", "sqlite+file"]


@pytest.fixture(scope="session", params=BACKENDS)
async def mesh(
    request: pytest.FixtureRequest,
    etcd_server: EtcdServer,
    mariadb_server: MariaDBServer,
    nats_server: NatsServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Mesh]:
    """The real column (MariaDB + etcd) and the embedded one (SQLite + file store)."""
    async with start_mesh(
        request.param, etcd_server, mariadb_server, nats_server, tmp_path_factory
    ) as m:
        yield m


@contextlib.asynccontextmanager
async def start_mesh(
    backend_name: str,
    etcd_server: EtcdServer,
    mariadb_server: MariaDBServer,
    nats_server: NatsServer,
    tmp_path_factory: pytest.TempPathFactory,
    *,
    own_nats: bool = False,
    otlp_endpoint: str | None = None,
) -> AsyncIterator[Mesh]:
    """A whole mesh of its own (database, config prefix, sandbox, server, Envoy).

    On the session's ``nats_server`` each mesh has a stream and subject prefix of its own
    (settings ``nats_stream``, ``nats_subject_prefix``), deleted when it ends: two meshes,
    or a mesh and what an earlier one left unacknowledged, never take each other's events.
    ``own_nats``: a NATS server of its own instead (a test that stops or restarts NATS).
    """
    private_nats = NatsServer().start() if own_nats and backend_name == "mariadb+etcd" else None
    tag = uuid.uuid4().hex[:8]
    prefix = f"/e2e-{tag}/config"
    store: ConfigStore
    if backend_name == "mariadb+etcd":
        database_url = mariadb_server.create_database(f"mesh_{uuid.uuid4().hex[:8]}")
        store = EtcdConfigStore([etcd_server.endpoint])
        backend: dict[str, Any] = {
            "config_backend": "etcd",
            "etcd_endpoints": [etcd_server.endpoint],
            "nats_url": (private_nats or nats_server).url,
            "nats_stream": f"E2E_{tag}",
            "nats_subject_prefix": f"e2e{tag}.events",
        }
    else:
        state = tmp_path_factory.mktemp("embedded")
        database_url = f"sqlite+aiosqlite:///{state / 'paymesh.db'}"
        store = FileConfigStore(state / "config.json")
        backend = {
            "config_backend": "file",
            "config_file": str(state / "config.json"),
            "nats_url": "memory://",
        }
    sandbox = await start_sandbox("127.0.0.1", 0)
    repo = ConfigRepository(store, prefix)
    await seed_wechat(repo, sandbox.url, private_key_pem())
    await seed_alipay(repo, sandbox.url, private_key_pem())
    await seed_unionpay(repo, sandbox.url)
    app = await seed_app(repo, unionpay_account=UNIONPAY_ACCOUNT)
    demo_merchant = DemoMerchant(app.sign_type, app.secret)
    merchant_runner = web.AppRunner(demo_merchant.app(), access_log=None)
    await merchant_runner.setup()
    merchant_port = free_port()
    await web.TCPSite(merchant_runner, "127.0.0.1", merchant_port).start()
    notify_key = tmp_path_factory.mktemp("keys") / "notify-signing.pem"
    private_key_pem(notify_key)
    grpc_port, edge_port, cashier_port = free_port(), free_port(), free_port()
    edge_url = f"http://127.0.0.1:{edge_port}"
    settings = Settings(
        listen=f"127.0.0.1:{grpc_port}",
        database_url=database_url,
        config_prefix=prefix,
        channel_targets={c: f"127.0.0.1:{grpc_port}" for c in ("wechat", "alipay", "unionpay")},
        callback_base_url=edge_url,
        channel_timeout_seconds=3.0,
        drain_seconds=1.0,
        notify_signing_key_file=str(notify_key),
        cashier_listen=f"127.0.0.1:{cashier_port}",
        cashier_sandbox_url=sandbox.url,
        metrics_listen="127.0.0.1:0",
        otlp_endpoint=otlp_endpoint,
        **backend,
    )
    server = await start_server(SERVICES, settings)
    envoy = EnvoyProcess(
        render_text(
            listen_port=edge_port,
            admin_port=free_port(),
            upstreams={"*": f"127.0.0.1:{server.port}", "cashier": f"127.0.0.1:{cashier_port}"},
            otlp_collector=otlp_endpoint,
        ),
        log_level="warning",
    )
    envoy.start()
    try:
        yield Mesh(
            edge_url,
            sandbox.url,
            database_url,
            repo,
            server,
            app,
            sandbox,
            demo_merchant,
            f"http://127.0.0.1:{merchant_port}/notify",
            backend_name,
            public_key_pem(notify_key.read_text()),
        )
    finally:
        envoy.close()
        await server.drain(1)
        await repo.close()
        await store.close()
        await sandbox.close()
        await merchant_runner.cleanup()
        if private_nats is not None:
            private_nats.close()
        elif backend_name == "mariadb+etcd":
            await _delete_stream(nats_server.url, settings.nats_stream)


async def _delete_stream(url: str, stream: str) -> None:
    """Best effort: a mesh's stream on the shared NATS goes with the mesh."""
    with contextlib.suppress(Exception):
        nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=1)
        try:
            await nc.jetstream().delete_stream(stream)
        finally:
            await nc.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def merchant(mesh: Mesh, http: aiohttp.ClientSession) -> Merchant:
    return mesh.merchant(http)
