"""Fixtures: a real sandbox on a free loopback port, a signing WeChat client, a receiver."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from paymesh.channels.sandbox import SandboxServer, SandboxState, start_sandbox
from paymesh.channels.wechat import sign

_counter = itertools.count(1)


def unique(prefix: str = "T") -> str:
    """A fresh merchant number (letters and digits, <= 32 chars)."""
    return f"{prefix}{int(time.time())}{next(_counter):05d}{uuid.uuid4().hex[:6]}"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WeChatMerchant:
    mchid: str
    appid: str
    serial_no: str
    key: rsa.RSAPrivateKey
    registration: dict[str, Any]

    @property
    def api_v3_key(self) -> str:
        return str(self.registration["api_v3_key"])


class WeChatClient:
    """Signs WeChat v3 requests itself (channels/wechat/sign.py) and sends them raw."""

    def __init__(self, base_url: str, merchant: WeChatMerchant, http: aiohttp.ClientSession):
        self.base_url = base_url
        self.m = merchant
        self.http = http

    async def call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        sign_body: bytes | None = None,
        sign_path: str | None = None,
        timestamp: int | None = None,
        serial_no: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        mchid: str | None = None,
        headers: dict[str, str] | None = None,
        client_timeout: float | None = None,
    ) -> Answer:
        body = b"" if payload is None else json.dumps(payload).encode()
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = uuid.uuid4().hex.upper()
        message = sign.request_message(
            method, sign_path or path, ts, nonce, body if sign_body is None else sign_body
        )
        signature = sign.rsa_sign(key or self.m.key, message)
        auth = sign.authorization_header(
            mchid or self.m.mchid, serial_no or self.m.serial_no, nonce, ts, signature
        )
        hdrs = {"Authorization": auth, "Accept": "application/json"}
        if payload is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        limit = aiohttp.ClientTimeout(total=client_timeout) if client_timeout else None
        async with self.http.request(
            method, self.base_url + path, data=body or None, headers=hdrs, timeout=limit
        ) as resp:
            return Answer(resp.status, dict(resp.headers), await resp.read())

    def native_order(self, out_trade_no: str, total: int, notify_url: str) -> dict[str, Any]:
        return {
            "appid": self.m.appid,
            "mchid": self.m.mchid,
            "description": "sandbox test",
            "out_trade_no": out_trade_no,
            "notify_url": notify_url,
            "amount": {"total": total, "currency": "CNY"},
        }


def verify_platform_signature(
    answer_headers: dict[str, str], body: bytes, reg: dict[str, Any]
) -> bool:
    h = {k.lower(): v for k, v in answer_headers.items()}
    assert h["wechatpay-signature-type"] == "WECHATPAY2-SHA256-RSA2048"
    assert h["wechatpay-serial"] in (reg["platform_serial_no"], reg["platform_public_key_id"])
    message = sign.response_message(h["wechatpay-timestamp"], h["wechatpay-nonce"], body)
    return sign.rsa_verify(reg["platform_certificate_pem"], message, h["wechatpay-signature"])


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A notify_url endpoint recording every callback it gets."""

    url: str
    got: list[Received] = field(default_factory=list)
    fail_next: int = 0
    event: asyncio.Event = field(default_factory=asyncio.Event)

    def reset(self) -> None:
        self.got.clear()
        self.fail_next = 0

    async def wait_for(self, count: int, within: float = 5.0) -> list[Received]:
        async with asyncio.timeout(within):
            while len(self.got) < count:
                self.event.clear()
                await self.event.wait()
        return list(self.got)


SANDBOX_STATE = SandboxState(
    refund_delay=0.2, transfer_delay=0.2, callback_retry_delays=(0.1, 0.2), callback_timeout=2.0
)


@pytest.fixture(scope="session")
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = await start_sandbox(state=SANDBOX_STATE)
    yield server
    await server.close()


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver(url="")

    async def handle(request: web.Request) -> web.Response:
        rec.got.append(Received(dict(request.headers), await request.read()))
        rec.event.set()
        if rec.fail_next > 0:
            rec.fail_next -= 1
            return web.json_response({"code": "FAIL", "message": "try again"}, status=500)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/notify/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/notify/wechat"
    yield rec
    await runner.cleanup()


async def register(
    http: aiohttp.ClientSession, sandbox: SandboxServer, **extra: Any
) -> WeChatMerchant:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    mchid = f"19{int(time.time()) % 10**8:08d}{next(_counter):06d}"
    appid = "wx" + uuid.uuid4().hex[:16]
    serial = uuid.uuid4().hex.upper()[:40]
    body = {
        "channel": "wechat",
        "merchant_id": mchid,
        "app_id": appid,
        "public_key_pem": sign.public_key_pem(key),
        "serial_no": serial,
        **extra,
    }
    async with http.post(sandbox.url + "/_sandbox/merchants", json=body) as resp:
        assert resp.status == 200, await resp.text()
        reg = await resp.json()
    return WeChatMerchant(mchid, appid, serial, key, reg)


@pytest.fixture(scope="session")
async def merchant(http: aiohttp.ClientSession, sandbox: SandboxServer) -> WeChatMerchant:
    return await register(http, sandbox)


@pytest.fixture
async def client(
    sandbox: SandboxServer, merchant: WeChatMerchant, http: aiohttp.ClientSession
) -> WeChatClient:
    return WeChatClient(sandbox.url, merchant, http)


@pytest.fixture(autouse=True)
async def _clean(
    request: pytest.FixtureRequest,
) -> AsyncIterator[None]:
    """Clear faults and the receiver's log around every test that uses them."""
    names = request.fixturenames
    if "receiver" in names:
        request.getfixturevalue("receiver").reset()
    yield
    if "sandbox" in names:
        server: SandboxServer = request.getfixturevalue("sandbox")
        server.state.faults.clear()
        await server.state.idle()
