"""Transport against a real aiohttp server on loopback: bytes, errors, keep-alive, redaction."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.channels.transport import HttpRequest, Transport
from paymesh.errors import ChannelError, ChannelUnavailable
from paymesh.testing.ports import free_port

RAW = b'{"code_url":"weixin://x",  "note":"\xe6\x94\xaf\xe4\xbb\x98" }\n'


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[tuple[str, int]]]]:
    peers: list[tuple[str, int]] = []

    async def ok(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername") if request.transport else ("", 0))
        body = await request.read()
        return web.Response(
            body=body or RAW,
            status=200,
            headers={"Wechatpay-Nonce": "abc", "Content-Type": "application/json"},
        )

    async def not_found(request: web.Request) -> web.Response:
        return web.json_response({"code": "ORDER_NOT_EXIST", "message": "订单不存在"}, status=404)

    async def unavailable(request: web.Request) -> web.Response:
        return web.json_response({"code": "SYSTEM_ERROR", "message": "busy"}, status=503)

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.Response(body=b"late")

    app = web.Application()
    app.router.add_route("*", "/ok", ok)
    app.router.add_get("/missing", not_found)
    app.router.add_get("/busy", unavailable)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}", peers
    finally:
        await runner.cleanup()


async def test_exact_bytes_lowercase_headers_and_exchange(
    server: tuple[str, list[tuple[str, int]]],
) -> None:
    base, _ = server
    async with Transport() as t:
        ex: list[pb.Exchange] = []
        resp = await t.send(
            HttpRequest("GET", base + "/ok", {"Accept": "application/json"}), exchanges=ex
        )
        assert resp.status == 200
        assert resp.body == RAW
        assert resp.header("Wechatpay-Nonce") == "abc"
        assert "wechatpay-nonce" in resp.headers
        assert len(ex) == 1
        assert ex[0].http_status == 200
        assert ex[0].http_method == "GET"
        assert json.loads(ex[0].response_body)["note"] == "支付"
        # POST bodies go out byte for byte
        body = b'{"a": 1,"b":"x"}'
        echoed = await t.send(HttpRequest("POST", base + "/ok", {}, body))
        assert echoed.body == body


async def test_connection_is_reused(server: tuple[str, list[tuple[str, int]]]) -> None:
    base, peers = server
    async with Transport() as t:
        for _ in range(3):
            await t.send(HttpRequest("GET", base + "/ok"))
    assert len(peers) == 3
    assert len({p[1] for p in peers}) == 1  # same client port: keep-alive


async def test_4xx_is_returned(server: tuple[str, list[tuple[str, int]]]) -> None:
    base, _ = server
    async with Transport() as t:
        resp = await t.send(HttpRequest("GET", base + "/missing"))
    assert resp.status == 404
    assert json.loads(resp.body)["code"] == "ORDER_NOT_EXIST"


async def test_5xx_is_unavailable(server: tuple[str, list[tuple[str, int]]]) -> None:
    base, _ = server
    ex: list[pb.Exchange] = []
    async with Transport() as t:
        with pytest.raises(ChannelUnavailable) as e:
            await t.send(HttpRequest("GET", base + "/busy"), exchanges=ex)
    assert not isinstance(e.value, ChannelError)
    assert e.value.metadata["http_status"] == "503"
    assert ex[0].http_status == 503


async def test_timeout_is_unavailable(server: tuple[str, list[tuple[str, int]]]) -> None:
    base, _ = server
    ex: list[pb.Exchange] = []
    async with Transport() as t:
        with pytest.raises(ChannelUnavailable, match="timed out") as e:
            await t.send(HttpRequest("GET", base + "/slow"), timeout_seconds=0.2, exchanges=ex)
    assert e.value.metadata["failure"] == "timeout"
    assert ex[0].error
    assert ex[0].http_status == 0


async def test_connection_refused_is_unavailable() -> None:
    ex: list[pb.Exchange] = []
    async with Transport(timeout_seconds=2) as t:
        with pytest.raises(ChannelUnavailable) as e:
            await t.send(HttpRequest("GET", f"http://127.0.0.1:{free_port()}/x"), exchanges=ex)
    assert e.value.metadata["failure"] == "connection"
    assert len(ex) == 1
