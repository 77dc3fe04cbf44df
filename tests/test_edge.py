"""HTTP/JSON through real Envoy (grpc_json_transcoder) to the gateways over HTTP/2."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from paymesh.gateway.envoy.config import MAX_REQUEST_BYTES, render_text
from paymesh.gateway.openapi import document_path
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
    # The embedded backends (SQLite file, file config store) behind real Envoy.
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


async def test_the_openapi_document_is_served_at_v1_openapi_json(edge: Edge) -> None:
    async with aiohttp.ClientSession() as s, s.get(f"{edge.url}/v1/openapi.json") as r:
        assert r.status == 200
        assert r.headers["content-type"].startswith("application/json")
        served = await r.read()
    assert served == document_path().read_bytes()
    assert json.loads(served)["openapi"] == "3.1.0"


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


async def _status_json(r: aiohttp.ClientResponse) -> dict[str, Any]:
    """The body of an error answer, checked to be google.rpc.Status JSON with an ErrorInfo."""
    assert r.headers["content-type"].startswith("application/json"), await r.text()
    body: dict[str, Any] = json.loads(await r.read())
    assert isinstance(body["code"], int)
    assert body["code"] != 0
    assert isinstance(body["message"], str)
    (info,) = [d for d in body["details"] if d["@type"].endswith("google.rpc.ErrorInfo")]
    assert info["domain"] == "paymesh"
    assert info["reason"]
    return body


def _reason(body: dict[str, Any]) -> str:
    value: str = body["details"][0]["reason"]
    return value


@pytest.mark.parametrize(
    ("method", "path", "data", "status", "code", "reason"),
    [
        ("POST", "/v1/orders", b'{"amount": 9223372036854775808}', 400, 3, "MALFORMED_REQUEST"),
        ("POST", "/v1/orders", b'{"amount": "abc"}', 400, 3, "MALFORMED_REQUEST"),
        ("POST", "/v1/orders", b'{"amount": 1.5}', 400, 3, "MALFORMED_REQUEST"),
        ("POST", "/v1/orders", b'{"subject": "a", ', 400, 3, "MALFORMED_REQUEST"),
        ("POST", "/v1/orders", b'{"metadata": {"k": 1}}', 400, 3, "MALFORMED_REQUEST"),
        ("GET", "/v1/orders/P1?timestamp=abc", b"", 400, 3, "MALFORMED_REQUEST"),
        ("POST", "/v1/orders", b"[]", 400, 3, "MALFORMED_REQUEST"),
        ("POST", "/v1/orders", b'"x"', 400, 3, "MALFORMED_REQUEST"),
        ("POST", "/v1/orders", b"a=b&c=d", 400, 3, "MALFORMED_REQUEST"),
        ("GET", "/v1/orders/P1?sync=maybe", b"", 400, 3, "MALFORMED_REQUEST"),
        ("OPTIONS", "/v1/orders", b"", 404, 5, "UNKNOWN_PATH"),
        ("GET", "/v1/nothing-here", b"", 404, 5, "UNKNOWN_PATH"),
        ("DELETE", "/v1/orders", b"", 404, 5, "UNKNOWN_PATH"),
    ],
)
async def test_the_edges_own_errors_are_status_json_with_error_info(
    edge: Edge, method: str, path: str, data: bytes, status: int, code: int, reason: str
) -> None:
    headers = {"content-type": "application/json"}
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, edge.url + path, data=data, headers=headers) as r,
    ):
        assert r.status == status
        body = await _status_json(r)
    assert body["code"] == code
    assert _reason(body) == reason


def _body_of_size(size: int) -> bytes:
    head, tail = b'{"app_id": "a", "metadata": {"k": "', b'"}}'
    return head + b"v" * (size - len(head) - len(tail)) + tail


async def test_request_bodies_are_capped_at_one_mebibyte(edge: Edge) -> None:
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession() as s:
        async with s.post(
            f"{edge.url}/v1/orders", data=_body_of_size(MAX_REQUEST_BYTES), headers=headers
        ) as r:
            # Exactly 1 MiB reaches the gateway, whose limits refuse the metadata value.
            assert r.status == 400
            body = await _status_json(r)
            assert body["details"][0]["metadata"]["field"] == "metadata.k"
        async with s.post(
            f"{edge.url}/v1/orders", data=_body_of_size(MAX_REQUEST_BYTES + 1), headers=headers
        ) as r:
            assert r.status == 413
            body = await _status_json(r)
            assert _reason(body) == "BODY_TOO_LARGE"


async def test_an_unreachable_gateway_is_503_status_json() -> None:
    port = free_port()
    config = render_text(listen_port=port, admin_port=free_port(), upstreams={"*": "127.0.0.1:1"})
    envoy = EnvoyProcess(config, log_level="error")
    envoy.start()
    try:
        async with (
            aiohttp.ClientSession() as s,
            s.post(f"http://127.0.0.1:{port}/v1/orders", json={}) as r,
        ):
            assert r.status == 503
            body = await _status_json(r)
        assert (body["code"], _reason(body)) == (14, "SERVICE_UNAVAILABLE")
    finally:
        envoy.close()


async def test_listener_serves_its_own_health_route(edge: Edge) -> None:
    # k8s probes the edge here: the admin interface is on 127.0.0.1 inside the pod only.
    async with aiohttp.ClientSession() as s, s.get(f"{edge.url}/healthz") as r:
        assert r.status == 200
    config = json.loads(render_text(listen_port=1, admin_port=2, upstreams={"*": "h:1"}))
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"


def test_client_address_comes_from_the_connection() -> None:
    config = json.loads(render_text(listen_port=1, admin_port=2, upstreams={"*": "h:1"}))
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    assert hcm["typed_config"]["use_remote_address"] is True
