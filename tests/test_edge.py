"""HTTP/JSON through real Envoy (grpc_json_transcoder) to the gateways over HTTP/2."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from paymesh.gateway.envoy.config import render_text
from paymesh.runtime.server import RunningServer, start_server
from paymesh.runtime.settings import Settings
from paymesh.testing.ports import free_port
from paymesh.testing.processes import EnvoyProcess, envoy_validate


@dataclass
class Edge:
    url: str
    server: RunningServer


@pytest.fixture(scope="module")
async def edge(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Edge]:
    # The embedded column of DESIGN §8 (SQLite file, file config store) behind real Envoy.
    state = tmp_path_factory.mktemp("edge")
    settings = Settings(
        listen="127.0.0.1:0",
        database_url=f"sqlite+aiosqlite:///{state / 'paymesh.db'}",
        config_backend="file",
        config_file=str(state / "config.json"),
        channel_targets={"wechat": "127.0.0.1:1"},
        callback_base_url="http://127.0.0.1:1",
    )
    server = await start_server(["info", "pay"], settings)
    port = free_port()
    config = render_text(
        listen_port=port, admin_port=free_port(), upstreams={"*": f"127.0.0.1:{server.port}"}
    )
    envoy = EnvoyProcess(config, log_level="warning")
    envoy.start()
    try:
        yield Edge(f"http://127.0.0.1:{port}", server)
    finally:
        envoy.close()
        await server.drain(0)


def test_generated_config_validates_and_a_broken_one_does_not() -> None:
    config = render_text(
        listen_port=free_port(), admin_port=free_port(), upstreams={"*": "127.0.0.1:5"}
    )
    ok, out = envoy_validate(config)
    assert ok, out
    broken = json.loads(config)
    broken["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"][
        "http_filters"
    ][0]["typed_config"]["proto_descriptor"] = "/nonexistent.pb"
    ok, _ = envoy_validate(json.dumps(broken))
    assert not ok


async def test_version_over_http_json(edge: Edge) -> None:
    async with aiohttp.ClientSession() as s, s.get(f"{edge.url}/v1/version") as r:
        assert r.status == 200
        assert r.headers["content-type"].startswith("application/json")
        body = await r.json()
    assert body["api"] == "v1"
    assert body["version"]
    assert "pay" in body["services"]


async def test_invalid_argument_is_http_400_with_error_info(edge: Edge) -> None:
    order = {
        "app_id": "app1",
        "out_trade_no": "bad no!",  # space and '!' are outside [A-Za-z0-9_-]
        "amount": "100",
        "subject": "t",
        "method": "qr",
        "timestamp": 1,
        "nonce": "n0nce123",
        "sign_type": "HMAC-SHA256",
        "sign": "x",
    }
    async with aiohttp.ClientSession() as s, s.post(f"{edge.url}/v1/orders", json=order) as r:
        assert r.status == 400
        body = await r.json()
    assert body["code"] == 3
    assert "out_trade_no" in body["message"]
    (detail,) = body["details"]
    assert detail["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert detail["domain"] == "paymesh"
    assert detail["reason"] == "INVALID_ARGUMENT"
    assert detail["metadata"] == {"field": "out_trade_no"}


async def test_unknown_path_is_a_clean_404(edge: Edge) -> None:
    async with aiohttp.ClientSession() as s, s.get(f"{edge.url}/v1/nothing-here") as r:
        assert r.status == 404
