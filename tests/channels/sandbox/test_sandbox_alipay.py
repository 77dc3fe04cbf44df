"""Alipay OpenAPI of the sandbox, driven by requests this test signs itself (RSA2 with
cryptography), sent via GET (query string) and POST (form)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from paymesh.channels.alipay import sign as channel_sign
from paymesh.channels.sandbox import SandboxServer
from tests.channels.sandbox.conftest import unique

BEIJING = dt.timezone(dt.timedelta(hours=8))


def content(params: dict[str, str], exclude: tuple[str, ...] = ("sign",)) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in exclude and v)


def sign(key: rsa.RSAPrivateKey, data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(key.sign(raw, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify(pem: str, data: str | bytes, signature: str) -> bool:
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    raw = data.encode() if isinstance(data, str) else data
    try:
        key.verify(base64.b64decode(signature), raw, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def pem_of(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class Reply:
    raw: bytes
    key: str
    body: dict[str, Any]

    @property
    def data(self) -> dict[str, Any]:
        value: dict[str, Any] = self.body[self.key]
        return value


def check_signed(raw: bytes, alipay_pem: str) -> Reply:
    """The response object's exact bytes verify; `"sign"` follows the object at once."""
    body = json.loads(raw)
    key = next(iter(body))
    assert key.endswith("_response")
    start = raw.index(b"{", len(key) + 3)
    end = raw.rindex(b',"sign":"')
    signed = raw[start:end]
    assert json.loads(signed) == body[key]
    assert list(body)[1] == "sign"
    assert verify(alipay_pem, signed, body["sign"]), raw
    return Reply(raw, key, body)


@dataclass
class AlipayApp:
    app_id: str
    key: rsa.RSAPrivateKey
    registration: dict[str, Any]

    @property
    def alipay_pem(self) -> str:
        return str(self.registration["alipay_public_key_pem"])


class AlipayClient:
    def __init__(self, base_url: str, app: AlipayApp, http: aiohttp.ClientSession) -> None:
        self.url = base_url + "/gateway.do"
        self.app = app
        self.http = http

    def params(
        self,
        method: str,
        biz: dict[str, Any] | None,
        *,
        key: rsa.RSAPrivateKey | None = None,
        **extra: str,
    ) -> dict[str, str]:
        params = {
            "app_id": self.app.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": dt.datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
        }
        if biz is not None:
            params["biz_content"] = json.dumps(biz, ensure_ascii=False)
        params.update(extra)
        params["sign"] = sign(key or self.app.key, content(params))
        return params

    async def send(self, params: dict[str, str], via: str = "GET") -> bytes:
        if via == "GET":
            async with self.http.get(self.url, params=params) as resp:
                assert resp.status == 200
                return await resp.read()
        if via == "POST":
            async with self.http.post(self.url, data=params) as resp:
                assert resp.status == 200
                return await resp.read()
        # the official SDKs: common params in the query string, biz_content in the form
        query = {k: v for k, v in params.items() if k != "biz_content"}
        form = {"biz_content": params.get("biz_content", "")}
        async with self.http.post(self.url + "?" + urlencode(query), data=form) as resp:
            assert resp.status == 200
            return await resp.read()

    async def call(
        self, method: str, biz: dict[str, Any] | None, via: str = "GET", **extra: str
    ) -> Reply:
        fields: dict[str, Any] = extra
        raw = await self.send(self.params(method, biz, **fields), via)
        reply = check_signed(raw, self.app.alipay_pem)
        if reply.key != "error_response":
            assert reply.key == method.replace(".", "_") + "_response"
        return reply


async def register_app(
    http: aiohttp.ClientSession, sandbox: SandboxServer, **extra: Any
) -> AlipayApp:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    app_id = f"2021{int(time.time()) % 10**6:06d}{uuid.uuid4().int % 10**6:06d}"
    body = {"channel": "alipay", "merchant_id": app_id, "public_key_pem": pem_of(key), **extra}
    async with http.post(sandbox.url + "/_sandbox/merchants", json=body) as resp:
        assert resp.status == 200, await resp.text()
        reg = await resp.json()
    return AlipayApp(app_id, key, reg)


@dataclass
class AlipayReceiver:
    """A notify_url answering `success` unless told otherwise (`replies`, consumed in order)."""

    url: str = ""
    got: list[dict[str, str]] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    event: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(self, count: int, within: float = 5.0) -> list[dict[str, str]]:
        async with asyncio.timeout(within):
            while len(self.got) < count:
                self.event.clear()
                await self.event.wait()
        return list(self.got)


@pytest.fixture
async def ali_receiver() -> AsyncIterator[AlipayReceiver]:
    rec = AlipayReceiver()

    async def handle(request: web.Request) -> web.Response:
        raw = await request.read()
        rec.content_types.append(request.headers.get("Content-Type", ""))
        rec.got.append(dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True)))
        rec.event.set()
        return web.Response(text=rec.replies.pop(0) if rec.replies else "success")

    app = web.Application()
    app.router.add_post("/alipay/notify", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/alipay/notify"
    yield rec
    await runner.cleanup()


def check_notify(params: dict[str, str], app: AlipayApp) -> None:
    assert params["sign_type"] == "RSA2"
    assert params["charset"] == "utf-8"
    assert params["app_id"] == app.app_id
    assert verify(app.alipay_pem, content(params, ("sign", "sign_type")), params["sign"])


@pytest.fixture(scope="module")
async def app(http: aiohttp.ClientSession, sandbox: SandboxServer) -> AlipayApp:
    return await register_app(http, sandbox)


@pytest.fixture
async def client(
    sandbox: SandboxServer, app: AlipayApp, http: aiohttp.ClientSession
) -> AlipayClient:
    return AlipayClient(sandbox.url, app, http)


async def control(
    http: aiohttp.ClientSession, sandbox: SandboxServer, path: str, **body: Any
) -> tuple[int, Any]:
    async with http.post(sandbox.url + path, json={"channel": "alipay", **body}) as resp:
        return resp.status, await resp.json()


def order(no: str, amount: str = "12.34", subject: str = "沙箱测试") -> dict[str, Any]:
    return {"out_trade_no": no, "total_amount": amount, "subject": subject}


# --- tests --------------------------------------------------------------------------------


async def test_registration_answer(
    http: aiohttp.ClientSession, sandbox: SandboxServer, app: AlipayApp
) -> None:
    reg = app.registration
    assert reg["channel"] == "alipay"
    assert reg["merchant_id"] == reg["app_id"] == app.app_id
    assert reg["base_url"] == sandbox.url
    assert reg["key_mode"] == "public_key"
    assert reg["gateway_path"] == "/gateway.do"
    assert reg["seller_id"].startswith("2088")
    assert "app_cert_pem" not in reg
    serialization.load_pem_public_key(app.alipay_pem.encode())
    # re-registering keeps the seller id; the bare base64 key form (Alipay's) is accepted
    bare = "".join(pem_of(app.key).splitlines()[1:-1])
    body = {"channel": "alipay", "merchant_id": app.app_id, "public_key_pem": bare}
    async with http.post(sandbox.url + "/_sandbox/merchants", json=body) as resp:
        assert resp.status == 200
        assert (await resp.json())["seller_id"] == reg["seller_id"]
    body["app_id"] = "2021000000000001"
    async with http.post(sandbox.url + "/_sandbox/merchants", json=body) as resp:
        assert resp.status == 400


@pytest.mark.parametrize("via", ["GET", "POST", "POST_SPLIT"])
async def test_precreate_pay_query_refund(
    client: AlipayClient,
    app: AlipayApp,
    ali_receiver: AlipayReceiver,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
    via: str,
) -> None:
    no = unique("A")
    n = {"notify_url": ali_receiver.url}
    r = await client.call("alipay.trade.precreate", order(no), via, **n)
    assert r.data["code"] == "10000", r.raw
    assert r.data["msg"] == "Success"
    assert r.data["out_trade_no"] == no
    assert r.data["qr_code"].startswith(f"{sandbox.url}/_sandbox/pay/alipay/{no}")
    again = await client.call("alipay.trade.precreate", order(no), via, **n)
    assert again.data == r.data
    conflict = await client.call("alipay.trade.precreate", order(no, "1.00"), via, **n)
    assert conflict.data["sub_code"] == "ACQ.CONTEXT_INCONSISTENT"

    q = await client.call("alipay.trade.query", {"out_trade_no": no}, via)
    assert q.data["code"] == "10000"
    assert q.data["trade_status"] == "WAIT_BUYER_PAY"
    assert q.data["total_amount"] == "12.34"
    trade_no = q.data["trade_no"]

    status, paid = await control(http, sandbox, "/_sandbox/pay", out_trade_no=no)
    assert status == 200
    assert paid["trade"]["state"] == "TRADE_SUCCESS"
    [notify] = await ali_receiver.wait_for(1)
    assert ali_receiver.content_types[0].startswith("application/x-www-form-urlencoded")
    check_notify(notify, app)
    assert notify["notify_type"] == "trade_status_sync"
    assert notify["trade_status"] == "TRADE_SUCCESS"
    assert notify["out_trade_no"] == no
    assert notify["trade_no"] == trade_no
    assert notify["total_amount"] == "12.34"
    assert notify["subject"] == "沙箱测试"
    assert notify["gmt_payment"]
    assert notify["notify_id"]
    assert notify["seller_id"] == app.registration["seller_id"]

    q = await client.call("alipay.trade.query", {"trade_no": trade_no}, via)
    assert q.data["trade_status"] == "TRADE_SUCCESS"
    assert q.data["out_trade_no"] == no
    assert q.data["send_pay_date"]

    refund = {"out_trade_no": no, "refund_amount": "2.00", "out_request_no": "R1"}
    rf = await client.call("alipay.trade.refund", refund, via)
    assert rf.data["code"] == "10000", rf.raw
    assert (rf.data["fund_change"], rf.data["refund_fee"]) == ("Y", "2.00")
    rf = await client.call("alipay.trade.refund", refund, via)
    assert (rf.data["fund_change"], rf.data["refund_fee"]) == ("N", "2.00")
    bad = await client.call("alipay.trade.refund", {**refund, "refund_amount": "3.00"}, via)
    assert bad.data["sub_code"] == "ACQ.DISCORDANT_REPEAT_REQUEST"
    too_much = {"out_trade_no": no, "refund_amount": "10.35", "out_request_no": "R2"}
    bad = await client.call("alipay.trade.refund", too_much, via)
    assert (bad.data["code"], bad.data["sub_code"]) == ("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")

    await sandbox.state.idle()
    _, refund_notify = await ali_receiver.wait_for(2)
    check_notify(refund_notify, app)
    assert refund_notify["out_biz_no"] == "R1"
    assert refund_notify["refund_fee"] == "2.00"
    assert refund_notify["trade_status"] == "TRADE_SUCCESS"
    assert refund_notify["gmt_refund"]

    rq = await client.call(
        "alipay.trade.fastpay.refund.query",
        {"out_trade_no": no, "out_request_no": "R1", "query_options": ["gmt_refund_pay"]}, via,
    )  # fmt: skip
    assert rq.data["refund_status"] == "REFUND_SUCCESS"
    assert rq.data["refund_amount"] == "2.00"
    assert rq.data["total_amount"] == "12.34"
    assert rq.data["gmt_refund_pay"]
    none = await client.call(
        "alipay.trade.fastpay.refund.query", {"out_trade_no": no, "out_request_no": "R9"}, via
    )
    assert none.data["code"] == "10000"
    assert "refund_status" not in none.data

    rest = {"out_trade_no": no, "refund_amount": "10.34", "out_request_no": "R3"}
    rf = await client.call("alipay.trade.refund", rest, via)
    assert rf.data["refund_fee"] == "12.34"
    await sandbox.state.idle()
    q = await client.call("alipay.trade.query", {"out_trade_no": no}, via)
    assert q.data["trade_status"] == "TRADE_CLOSED"  # refunded in full
    notifies = await ali_receiver.wait_for(3)
    assert notifies[2]["trade_status"] == "TRADE_CLOSED"
    assert notifies[2]["refund_fee"] == "12.34"


async def test_close_and_not_found(
    client: AlipayClient, http: aiohttp.ClientSession, sandbox: SandboxServer
) -> None:
    no = unique("C")
    await client.call("alipay.trade.precreate", order(no))
    c = await client.call("alipay.trade.close", {"out_trade_no": no}, "POST")
    assert c.data["code"] == "10000"
    assert c.data["out_trade_no"] == no
    q = await client.call("alipay.trade.query", {"out_trade_no": no})
    assert q.data["trade_status"] == "TRADE_CLOSED"
    status, _ = await control(http, sandbox, "/_sandbox/pay", out_trade_no=no)
    assert status == 409
    again = await client.call("alipay.trade.precreate", order(no))
    assert again.data["sub_code"] == "ACQ.TRADE_HAS_CLOSE"

    paid = unique("C")
    await client.call("alipay.trade.precreate", order(paid))
    await control(http, sandbox, "/_sandbox/pay", out_trade_no=paid)
    c = await client.call("alipay.trade.close", {"out_trade_no": paid})
    assert (c.data["code"], c.data["sub_code"]) == ("40004", "ACQ.TRADE_STATUS_ERROR")
    missing = await client.call("alipay.trade.query", {"out_trade_no": "NOSUCH1"})
    assert (missing.data["code"], missing.data["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")
    for method in ("alipay.trade.close", "alipay.trade.refund"):
        r = await client.call(method, {"out_trade_no": "NOSUCH1", "refund_amount": "1.00"})
        assert r.data["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    unpaid = unique("C")
    await client.call("alipay.trade.precreate", order(unpaid))
    r = await client.call("alipay.trade.refund", {"out_trade_no": unpaid, "refund_amount": "1"})
    assert r.data["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
    bad = await client.call("alipay.trade.precreate", order(unique("C"), "1.234"))
    assert bad.data["sub_code"] == "ACQ.INVALID_PARAMETER"


async def test_expired_trade_is_closed(client: AlipayClient) -> None:
    no = unique("E")
    past = (dt.datetime.now(BEIJING) - dt.timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    await client.call("alipay.trade.precreate", {**order(no), "time_expire": past})
    q = await client.call("alipay.trade.query", {"out_trade_no": no})
    assert q.data["trade_status"] == "TRADE_CLOSED"


@pytest.mark.parametrize("via", ["GET", "POST"])
async def test_bad_requests_get_error_response(
    client: AlipayClient, app: AlipayApp, via: str
) -> None:
    params = client.params("alipay.trade.query", {"out_trade_no": "X1"})
    params["biz_content"] = json.dumps({"out_trade_no": "X2"})
    r = check_signed(await client.send(params, via), app.alipay_pem)
    assert r.key == "error_response"
    assert r.data["code"] == "40002"
    assert r.data["msg"] == "Invalid Arguments"
    assert r.data["sub_code"] == "isv.invalid-signature"
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    params = client.params("alipay.trade.query", {"out_trade_no": "X1"}, key=other)
    r = check_signed(await client.send(params, via), app.alipay_pem)
    assert r.data["sub_code"] == "isv.invalid-signature"

    params = client.params("alipay.trade.query", {"out_trade_no": "X1"}, app_id="2021999")
    r = check_signed(await client.send(params, via), app.alipay_pem)
    assert (r.key, r.data["sub_code"]) == ("error_response", "isv.invalid-app-id")
    params = client.params("alipay.trade.nosuch", {})
    r = check_signed(await client.send(params, via), app.alipay_pem)
    assert r.data["sub_code"] == "isv.invalid-method"
    params = client.params("alipay.trade.query", {"out_trade_no": "X1"})
    del params["method"]
    r = check_signed(await client.send(params, via), app.alipay_pem)
    assert (r.data["code"], r.data["sub_code"]) == ("40001", "isv.missing-method")
    params = client.params("alipay.trade.query", {"out_trade_no": "X1"}, timestamp="now")
    r = check_signed(await client.send(params, via), app.alipay_pem)
    assert r.data["sub_code"] == "isv.invalid-timestamp"
    params = client.params("alipay.trade.query", {"out_trade_no": "X1"}, sign_type="RSA")
    r = check_signed(await client.send(params, via), app.alipay_pem)
    assert r.data["sub_code"] == "isv.invalid-signature-type"
    # an empty param is left out of the signed string, so it may be sent or not
    params = client.params("alipay.trade.query", {"out_trade_no": "X1"}, notify_url="")
    r = check_signed(await client.send(params, via), app.alipay_pem)
    assert r.data["sub_code"] == "ACQ.TRADE_NOT_EXIST"


async def test_barcode_outcomes(
    client: AlipayClient,
    app: AlipayApp,
    ali_receiver: AlipayReceiver,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
) -> None:
    def pay(no: str, code: str) -> dict[str, Any]:
        return {**order(no, "5.00"), "scene": "bar_code", "auth_code": code}

    n = {"notify_url": ali_receiver.url}
    ok_no = unique("B")
    r = await client.call("alipay.trade.pay", pay(ok_no, "284567890123456789"), "POST", **n)
    assert r.data["code"] == "10000", r.raw
    assert r.data["total_amount"] == "5.00"
    assert r.data["gmt_payment"]
    [notify] = await ali_receiver.wait_for(1)
    check_notify(notify, app)
    assert notify["out_trade_no"] == ok_no
    again = await client.call("alipay.trade.pay", pay(ok_no, "284567890123456789"), "POST", **n)
    assert again.data["trade_no"] == r.data["trade_no"]

    wait_no = unique("B")
    r = await client.call("alipay.trade.pay", pay(wait_no, "100034567890123456"))
    assert r.data["code"] == "10003"
    q = await client.call("alipay.trade.query", {"out_trade_no": wait_no})
    assert q.data["trade_status"] == "WAIT_BUYER_PAY"
    await control(http, sandbox, "/_sandbox/pay", out_trade_no=wait_no)
    q = await client.call("alipay.trade.query", {"out_trade_no": wait_no})
    assert q.data["trade_status"] == "TRADE_SUCCESS"

    unknown_no = unique("B")
    r = await client.call("alipay.trade.pay", pay(unknown_no, "200004567890123456"))
    assert (r.data["code"], r.data["sub_code"]) == ("20000", "ACQ.SYSTEM_ERROR")
    q = await client.call("alipay.trade.query", {"out_trade_no": unknown_no})
    assert q.data["trade_status"] == "WAIT_BUYER_PAY"

    fail_no = unique("B")
    r = await client.call("alipay.trade.pay", pay(fail_no, "400044567890123456"))
    assert (r.data["code"], r.data["sub_code"]) == ("40004", "ACQ.PAYMENT_AUTH_CODE_INVALID")
    q = await client.call("alipay.trade.query", {"out_trade_no": fail_no})
    assert q.data["sub_code"] == "ACQ.TRADE_NOT_EXIST"


async def test_transfer_round_trip(
    client: AlipayClient,
    app: AlipayApp,
    ali_receiver: AlipayReceiver,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
) -> None:
    no = unique("F")
    biz = {
        "out_biz_no": no,
        "trans_amount": "1.50",
        "product_code": "TRANS_ACCOUNT_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER",
        "order_title": "佣金",
        "payee_info": {"identity": "2088123412341234", "identity_type": "ALIPAY_USER_ID"},
    }
    r = await client.call("alipay.fund.trans.uni.transfer", biz, "POST",
                          notify_url=ali_receiver.url)  # fmt: skip
    assert r.data["code"] == "10000", r.raw
    assert r.data["out_biz_no"] == no
    assert r.data["status"] in ("DEALING", "SUCCESS")
    again = await client.call("alipay.fund.trans.uni.transfer", biz)
    assert again.data["order_id"] == r.data["order_id"]
    other = await client.call("alipay.fund.trans.uni.transfer", {**biz, "trans_amount": "2.00"})
    assert other.data["sub_code"] == "PAYMENT_INFO_INCONSISTENCY"
    await sandbox.state.idle()
    q = await client.call("alipay.fund.trans.common.query", {"out_biz_no": no})
    assert q.data["status"] == "SUCCESS"
    assert q.data["trans_amount"] == "1.50"
    assert q.data["order_id"] == r.data["order_id"]
    assert q.data["pay_date"]
    [notify] = await ali_receiver.wait_for(1)
    check_notify(notify, app)
    assert notify["msg_method"] == "alipay.fund.trans.order.changed"
    changed = json.loads(notify["biz_content"])
    assert (changed["out_biz_no"], changed["status"]) == (no, "SUCCESS")

    small = await client.call("alipay.fund.trans.uni.transfer",
                              {**biz, "out_biz_no": unique("F"), "trans_amount": "0.09"})  # fmt: skip
    assert small.data["sub_code"] == "EXCEED_LIMIT_SM_MIN_AMOUNT"
    missing = await client.call("alipay.fund.trans.common.query", {"out_biz_no": "NOSUCH"})
    assert missing.data["sub_code"] == "ORDER_NOT_EXIST"

    failing = unique("F")
    await control(http, sandbox, "/_sandbox/faults", fault="fail_transfers",
                  reason="PAYEE_NOT_EXIST")  # fmt: skip
    await client.call("alipay.fund.trans.uni.transfer", {**biz, "out_biz_no": failing})
    await sandbox.state.idle()
    q = await client.call("alipay.fund.trans.common.query", {"out_biz_no": failing})
    assert (q.data["status"], q.data["fail_reason"]) == ("FAIL", "PAYEE_NOT_EXIST")


async def test_page_pay_url_opens_the_payer_page(
    client: AlipayClient,
    app: AlipayApp,
    ali_receiver: AlipayReceiver,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
) -> None:
    no = unique("P")
    biz = {**order(no, "8.80"), "product_code": "FAST_INSTANT_TRADE_PAY"}
    params = client.params("alipay.trade.page.pay", biz, notify_url=ali_receiver.url,
                           return_url="https://shop.example/return")  # fmt: skip
    url = client.url + "?" + urlencode(params)
    async with http.get(url, allow_redirects=False) as resp:
        assert resp.status == 302
        page = resp.headers["Location"]
    assert page.startswith(f"{sandbox.url}/_sandbox/pay/alipay/{no}")
    async with http.get(page) as resp:
        html = await resp.text()
        assert resp.status == 200
        assert "8.80" in html
        assert "WAIT_BUYER_PAY" in html
    async with http.get(sandbox.url + "/_sandbox/") as resp:
        assert no in await resp.text()
    async with http.post(page, data={"outcome": "paid"}) as resp:
        assert resp.status == 200
        assert "TRADE_SUCCESS" in await resp.text()
    [notify] = await ali_receiver.wait_for(1)
    check_notify(notify, app)
    assert (notify["out_trade_no"], notify["total_amount"]) == (no, "8.80")

    # a wap.pay form POSTed by a browser; then a tampered URL is refused with an error page
    wap = client.params("alipay.trade.wap.pay", order(unique("P"), "1.00"))
    async with http.post(client.url, data=wap, allow_redirects=False) as resp:
        assert resp.status == 302
    params["biz_content"] = json.dumps(order(no, "0.01"))
    async with http.get(client.url + "?" + urlencode(params)) as resp:
        assert resp.status == 400
        assert "invalid-signature" in await resp.text()


async def test_trades_listing(
    client: AlipayClient, http: aiohttp.ClientSession, sandbox: SandboxServer
) -> None:
    no = unique("L")
    await client.call("alipay.trade.precreate", order(no, "0.01"))
    async with http.get(sandbox.url + "/_sandbox/trades", params={"channel": "alipay"}) as resp:
        listing = await resp.json()
    assert {t["channel"] for t in listing["trades"]} == {"alipay"}
    [t] = [t for t in listing["trades"] if t["out_trade_no"] == no]
    assert (t["amount"], t["status"], t["method"]) == (1, "PENDING", "qr")
    assert t["state"] == "WAIT_BUYER_PAY"
    assert t["pay_url"].startswith(sandbox.url + "/_sandbox/pay/alipay/")


def alipay_cert_sn(cert: x509.Certificate) -> str:
    name = cert.issuer.rfc4514_string()
    return hashlib.md5((name + str(cert.serial_number)).encode(), usedforsecurity=False).hexdigest()


async def test_certificate_mode(http: aiohttp.ClientSession, sandbox: SandboxServer) -> None:
    app = await register_app(http, sandbox, key_mode="certificate")
    reg = app.registration
    assert reg["key_mode"] == "certificate"
    app_cert = x509.load_pem_x509_certificate(reg["app_cert_pem"].encode())
    root = x509.load_pem_x509_certificate(reg["alipay_root_cert_pem"].encode())
    alipay_cert = x509.load_pem_x509_certificate(reg["alipay_public_cert_pem"].encode())
    app_cert.verify_directly_issued_by(root)
    alipay_cert.verify_directly_issued_by(root)
    assert app_cert.public_key() == app.key.public_key()
    assert reg["app_cert_sn"] == alipay_cert_sn(app_cert)
    assert reg["alipay_root_cert_sn"] == alipay_cert_sn(root)
    assert reg["alipay_cert_sn"] == alipay_cert_sn(alipay_cert)
    assert alipay_cert.public_key() == serialization.load_pem_public_key(app.alipay_pem.encode())

    client = AlipayClient(sandbox.url, app, http)
    sns = {"app_cert_sn": reg["app_cert_sn"], "alipay_root_cert_sn": reg["alipay_root_cert_sn"]}
    raw = await client.send(client.params("alipay.trade.precreate", order(unique("M")), **sns))
    body = json.loads(raw)
    assert list(body) == ["alipay_trade_precreate_response", "sign", "alipay_cert_sn"]
    assert body["alipay_cert_sn"] == reg["alipay_cert_sn"]
    assert body["alipay_trade_precreate_response"]["code"] == "10000"
    signed = raw[raw.index(b"{", 10) : raw.rindex(b',"sign":"')]
    assert verify(app.alipay_pem, signed, body["sign"])

    r = await client.call("alipay.trade.query", {"out_trade_no": "X1"})
    assert (r.key, r.data["sub_code"]) == ("error_response", "isv.missing-app-cert-sn")
    r = await client.call("alipay.trade.query", {"out_trade_no": "X1"},
                          **{**sns, "app_cert_sn": "0" * 32})  # fmt: skip
    assert r.data["sub_code"] == "isv.invalid-app-cert-sn"
    r = await client.call("alipay.trade.query", {"out_trade_no": "X1"},
                          **{**sns, "alipay_root_cert_sn": "0" * 32})  # fmt: skip
    assert r.data["sub_code"] == "isv.invalid-alipay-root-cert-sn"


async def test_paymesh_channel_parser_accepts_sandbox_answers(
    client: AlipayClient, http: aiohttp.ClientSession, sandbox: SandboxServer
) -> None:
    """channels/alipay/sign.py (what paymesh's Alipay channel verifies with) agrees."""
    raw = await client.send(client.params("alipay.trade.precreate", order(unique("V"))))
    ok = channel_sign.split_response(raw, "alipay.trade.precreate")
    assert channel_sign.verify_response(client.app.alipay_pem, ok)
    bad = client.params("alipay.trade.query", {"out_trade_no": "X1"}, notify_url="x")
    bad["notify_url"] = "y"
    err = channel_sign.split_response(await client.send(bad), "alipay.trade.query")
    assert err.key == "error_response"
    assert channel_sign.verify_response(client.app.alipay_pem, err)

    cert_app = await register_app(http, sandbox, key_mode="certificate")
    reg = cert_app.registration
    cert_client = AlipayClient(sandbox.url, cert_app, http)
    sns = {"app_cert_sn": reg["app_cert_sn"], "alipay_root_cert_sn": reg["alipay_root_cert_sn"]}
    raw = await cert_client.send(cert_client.params("alipay.trade.query", {"trade_no": "1"}, **sns))
    answer = channel_sign.split_response(raw, "alipay.trade.query")
    assert answer.cert_sn == reg["alipay_cert_sn"]
    assert channel_sign.verify_response(reg["alipay_public_cert_pem"], answer)
    assert channel_sign.cert_sn(reg["app_cert_pem"]) == reg["app_cert_sn"]
    assert channel_sign.root_cert_sn(reg["alipay_root_cert_pem"]) == reg["alipay_root_cert_sn"]


async def test_cancel_closes_or_refunds(client: AlipayClient, sandbox: SandboxServer) -> None:
    def pay(no: str, code: str) -> dict[str, Any]:
        return {**order(no, "4.00"), "scene": "bar_code", "auth_code": code}

    unknown = unique("K")
    r = await client.call("alipay.trade.pay", pay(unknown, "200001234567890123"))
    assert r.data["code"] == "20000"
    c = await client.call("alipay.trade.cancel", {"out_trade_no": unknown})
    assert (c.data["code"], c.data["action"], c.data["retry_flag"]) == ("10000", "close", "N")
    q = await client.call("alipay.trade.query", {"out_trade_no": unknown})
    assert q.data["trade_status"] == "TRADE_CLOSED"

    paid = unique("K")
    await client.call("alipay.trade.pay", pay(paid, "281234567890123456"))
    c = await client.call("alipay.trade.cancel", {"out_trade_no": paid}, "POST")
    assert (c.data["code"], c.data["action"]) == ("10000", "refund")
    await sandbox.state.idle()
    q = await client.call("alipay.trade.query", {"out_trade_no": paid})
    assert q.data["trade_status"] == "TRADE_CLOSED"
    missing = await client.call("alipay.trade.cancel", {"out_trade_no": "NOSUCH1"})
    assert missing.data["sub_code"] == "ACQ.TRADE_NOT_EXIST"


@pytest.mark.parametrize(
    ("api", "product_code"),
    [
        ("alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
        ("alipay.trade.wap.pay", "QUICK_WAP_WAY"),
        ("alipay.trade.app.pay", "QUICK_MSECURITY_PAY"),
    ],
)
async def test_signed_url_stays_payable_after_a_close_until_time_expire(
    client: AlipayClient,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
    api: str,
    product_code: str,
) -> None:
    """As at Alipay: a page/wap/app trade exists once the payer opens the signed URL, so a
    close before that answers ACQ.TRADE_NOT_EXIST and the URL can still be paid (a payment
    after close, which the merchant must treat as late) until its time_expire."""
    ahead = (dt.datetime.now(BEIJING) + dt.timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M:%S")
    past = (dt.datetime.now(BEIJING) - dt.timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    outcomes = {}
    for label, expire in (("open", ahead), ("expired", past)):
        no = unique("L")
        biz = {**order(no, "3.00"), "product_code": product_code, "time_expire": expire}
        url = client.url + "?" + urlencode(client.params(api, biz))
        closed = await client.call("alipay.trade.close", {"out_trade_no": no})
        assert closed.data["sub_code"] == "ACQ.TRADE_NOT_EXIST"
        async with http.get(url, allow_redirects=False) as resp:
            assert resp.status == 302
        status, _ = await control(http, sandbox, "/_sandbox/pay", out_trade_no=no)
        q = await client.call("alipay.trade.query", {"out_trade_no": no})
        outcomes[label] = (status, q.data["trade_status"])
    assert outcomes == {"open": (200, "TRADE_SUCCESS"), "expired": (409, "TRADE_CLOSED")}
