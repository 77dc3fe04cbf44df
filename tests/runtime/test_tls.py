"""Mutual TLS between services: a mesh (Envoy -> gateway -> channel service -> sandbox) with
mTLS on every gRPC hop, certificates from `paymesh certs init`; clients without a certificate,
with one from another CA, or in plaintext are refused."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from paymesh.channels.sandbox.app import SandboxServer, start_sandbox
from paymesh.config.file_store import FileConfigStore
from paymesh.config.repository import ConfigRepository
from paymesh.deploy import certs
from paymesh.dev.seed import DemoApp, private_key_pem, seed_app, seed_wechat
from paymesh.gateway.envoy.config import render_text
from paymesh.gateway.envoy.upstreams import UpstreamTls
from paymesh.merchant.v1 import (
    info_service_pb2,
    info_service_pb2_grpc,
    pay_service_pb2,
    query_service_pb2,
)
from paymesh.runtime.server import RunningServer, start_server
from paymesh.runtime.settings import MissingSettings, Settings
from paymesh.testing.ports import free_port
from paymesh.testing.processes import EnvoyProcess
from tests.e2e.client import Merchant


def _tls(folder: Path) -> dict[str, str]:
    return {
        "tls_cert_file": str(folder / "tls.crt"),
        "tls_key_file": str(folder / "tls.key"),
        "tls_ca_file": str(folder / "ca.crt"),
    }


def _upstream(folder: Path) -> UpstreamTls:
    return UpstreamTls(str(folder / "tls.crt"), str(folder / "tls.key"), str(folder / "ca.crt"))


@dataclass
class TlsMesh:
    edge_url: str
    gateway: RunningServer
    channel: RunningServer
    certs: Path
    other: Path
    app: DemoApp
    sandbox: SandboxServer


@pytest.fixture(scope="module")
async def tls_mesh(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TlsMesh]:
    root = tmp_path_factory.mktemp("tls")
    mesh_certs, other = root / "certs", root / "other"
    certs.init(mesh_certs, ["pay", "wechat", "edge"], "paymesh")
    certs.init(other, ["pay", "edge"], "paymesh")  # a second CA: same names, wrong signer
    config_file = root / "config.json"
    store = FileConfigStore(config_file)
    repo = ConfigRepository(store, "/paymesh/config")
    sandbox = await start_sandbox("127.0.0.1", 0)
    await seed_wechat(repo, sandbox.url, private_key_pem())
    app = await seed_app(repo, alipay_account=None)
    common: dict[str, Any] = {
        "listen": "127.0.0.1:0",
        "config_backend": "file",
        "config_file": str(config_file),
        "drain_seconds": 0.5,
    }
    channel = await start_server(
        ["wechat"],
        Settings(**common, health_listen="127.0.0.1:0", **_tls(mesh_certs / "wechat")),
    )
    edge_port = free_port()
    edge_url = f"http://127.0.0.1:{edge_port}"
    gateway = await start_server(
        ["pay", "query"],
        Settings(
            **common,
            database_url=f"sqlite+aiosqlite:///{root / 'paymesh.db'}",
            channel_targets={"wechat": f"127.0.0.1:{channel.port}"},
            callback_base_url=edge_url,
            channel_timeout_seconds=3.0,
            **_tls(mesh_certs / "pay"),
        ),
    )
    envoy = EnvoyProcess(
        render_text(
            listen_port=edge_port,
            admin_port=free_port(),
            upstreams={"*": f"127.0.0.1:{gateway.port}"},
            upstream_tls=_upstream(mesh_certs / "edge"),
        ),
        log_level="warning",
    )
    envoy.start()
    try:
        yield TlsMesh(edge_url, gateway, channel, mesh_certs, other, app, sandbox)
    finally:
        envoy.close()
        await gateway.drain(0.5)
        await channel.drain(0.5)
        await repo.close()
        await store.close()
        await sandbox.close()


async def _version(port: int, creds: grpc.ChannelCredentials | None) -> str:
    target = f"127.0.0.1:{port}"
    channel = (
        grpc.aio.insecure_channel(target)
        if creds is None
        else grpc.aio.secure_channel(target, creds)
    )
    async with channel:
        stub = info_service_pb2_grpc.InfoServiceStub(channel)
        reply = await stub.GetVersion(info_service_pb2.GetVersionRequest(), timeout=3)
        return str(reply.version)


def _creds(folder: Path, ca: Path, with_cert: bool = True) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=(ca / "ca.crt").read_bytes(),
        private_key=(folder / "tls.key").read_bytes() if with_cert else None,
        certificate_chain=(folder / "tls.crt").read_bytes() if with_cert else None,
    )


async def test_a_payment_through_the_edge_over_mutual_tls(tls_mesh: TlsMesh) -> None:
    async with aiohttp.ClientSession() as http:
        merchant = Merchant(
            tls_mesh.edge_url,
            tls_mesh.app.app_id,
            tls_mesh.app.sign_type,
            tls_mesh.app.secret,
            http,
        )
        status, body = await merchant.post(
            "/v1/orders",
            {
                "out_trade_no": "t" + uuid.uuid4().hex[:20],
                "amount": 5,
                "subject": "tea",
                "method": "qr",
            },
            pay_service_pb2.CreateOrderRequest,
        )
        # Envoy -> pay over mTLS, pay -> the wechat channel service over mTLS, then the sandbox.
        assert status == 200, body
        assert body["order"]["status"] == "PENDING"
        assert body["order"]["pay_data"]["code_url"]
        order_id = body["order"]["order_id"]
        async with http.post(
            f"{tls_mesh.sandbox.url}/_sandbox/pay",
            json={"channel": "wechat", "out_trade_no": order_id},
        ) as r:
            assert r.status == 200, await r.text()
        # The query gateway asks the channel service (mTLS) and settles the order.
        status, body = await merchant.get(
            f"/v1/orders/{order_id}",
            {"sync": "true"},
            query_service_pb2.QueryOrderRequest,
            path_params={"order_id": order_id},
        )
        assert status == 200, body
        assert body["order"]["status"] == "PAID"


async def test_a_mesh_certificate_is_accepted(tls_mesh: TlsMesh) -> None:
    creds = _creds(tls_mesh.certs / "edge", tls_mesh.certs)
    assert await _version(tls_mesh.gateway.port, creds)
    assert await _version(tls_mesh.channel.port, creds)


@pytest.mark.parametrize("case", ["plaintext", "no client certificate", "another CA"])
async def test_unauthenticated_or_wrongly_signed_clients_are_refused(
    tls_mesh: TlsMesh, case: str
) -> None:
    creds = {
        "plaintext": None,
        "no client certificate": _creds(tls_mesh.certs / "edge", tls_mesh.certs, False),
        # A certificate named like a mesh service but signed by another CA.
        "another CA": _creds(tls_mesh.other / "edge", tls_mesh.certs),
    }[case]
    for port in (tls_mesh.gateway.port, tls_mesh.channel.port):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _version(port, creds)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE, err.value


async def test_a_client_refuses_a_server_from_another_ca(tls_mesh: TlsMesh) -> None:
    creds = _creds(tls_mesh.certs / "edge", tls_mesh.other)  # trusts only the other CA
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _version(tls_mesh.gateway.port, creds)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_an_edge_with_a_foreign_certificate_gets_503(tls_mesh: TlsMesh) -> None:
    port = free_port()
    envoy = EnvoyProcess(
        render_text(
            listen_port=port,
            admin_port=free_port(),
            upstreams={"*": f"127.0.0.1:{tls_mesh.gateway.port}"},
            upstream_tls=UpstreamTls(
                str(tls_mesh.other / "edge" / "tls.crt"),
                str(tls_mesh.other / "edge" / "tls.key"),
                str(tls_mesh.certs / "ca.crt"),
            ),
        ),
        log_level="error",
    )
    envoy.start()
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/v1/version") as r,
        ):
            assert r.status == 503
    finally:
        envoy.close()


async def test_the_health_port_is_plaintext_and_serves_only_health(tls_mesh: TlsMesh) -> None:
    port = tls_mesh.channel.health_port
    assert port
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=3)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _version(port, None)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


@pytest.mark.parametrize(
    "partial",
    [
        {"tls_cert_file": "cert"},
        {"tls_key_file": "key"},
        {"tls_ca_file": "ca"},
        {"tls_cert_file": "cert", "tls_key_file": "missing.key"},
    ],
)
async def test_a_partial_tls_setup_refuses_to_start(
    tls_mesh: TlsMesh, partial: dict[str, str]
) -> None:
    files = {"cert": "edge/tls.crt", "key": "edge/tls.key", "ca": "ca.crt"}
    settings = {k: str(tls_mesh.certs / files.get(v, v)) for k, v in partial.items()}
    with pytest.raises(MissingSettings, match="tls_"):
        await start_server(["info"], Settings(listen="127.0.0.1:0", **settings))
