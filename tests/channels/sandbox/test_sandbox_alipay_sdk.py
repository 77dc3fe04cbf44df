"""Cross-check: python-alipay-sdk (an independent client: GET with every parameter in the query
string, its own response-signature extraction and cert SN algorithm) against the sandbox."""

from __future__ import annotations

import asyncio
import importlib
import urllib.parse
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from paymesh.channels.sandbox import SandboxServer
from tests.channels.sandbox.conftest import unique
from tests.channels.sandbox.test_sandbox_alipay import (
    AlipayApp,
    AlipayReceiver,
    ali_receiver,
    control,
    register_app,
)

sdk: Any = importlib.import_module("alipay")  # python-alipay-sdk (dev extra, no stubs)

__all__ = ["ali_receiver"]  # fixture


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def sdk_client(app: AlipayApp, sandbox: SandboxServer, notify_url: str) -> Any:
    client = sdk.AliPay(
        appid=app.app_id,
        app_notify_url=notify_url,
        app_private_key_string=private_pem(app.key),
        alipay_public_key_string=app.alipay_pem,
        sign_type="RSA2",
    )
    client._gateway = sandbox.url + "/gateway.do"
    return client


async def test_python_alipay_sdk_round_trip(
    http: aiohttp.ClientSession, sandbox: SandboxServer, ali_receiver: AlipayReceiver
) -> None:
    app = await register_app(http, sandbox)
    client = sdk_client(app, sandbox, ali_receiver.url)
    no = unique("S")
    # the SDK blocks (urlopen): run it off the loop the sandbox serves on
    r = await asyncio.to_thread(
        client.api_alipay_trade_precreate, subject="sdk 测试", out_trade_no=no, total_amount="9.99"
    )
    assert r["code"] == "10000", r
    assert r["qr_code"].startswith(sandbox.url)
    q = await asyncio.to_thread(client.api_alipay_trade_query, out_trade_no=no)
    assert (q["trade_status"], q["total_amount"]) == ("WAIT_BUYER_PAY", "9.99")

    await control(http, sandbox, "/_sandbox/pay", out_trade_no=no)
    [notify] = await ali_receiver.wait_for(1)
    data = dict(notify)
    signature = data.pop("sign")
    assert client.verify(data, signature)
    assert not client.verify({**data, "total_amount": "0.01"}, signature)

    rf = await asyncio.to_thread(
        client.api_alipay_trade_refund, refund_amount="1.00", out_trade_no=no, out_request_no="R1"
    )
    assert (rf["code"], rf["fund_change"]) == ("10000", "Y")
    await sandbox.state.idle()
    rq = await asyncio.to_thread(
        client.api_alipay_trade_fastpay_refund_query, out_request_no="R1", out_trade_no=no
    )
    assert rq["refund_status"] == "REFUND_SUCCESS"

    other = unique("S")
    await asyncio.to_thread(
        client.api_alipay_trade_precreate, subject="x", out_trade_no=other, total_amount="1"
    )
    c = await asyncio.to_thread(client.api_alipay_trade_close, out_trade_no=other)
    assert c["code"] == "10000"

    # page.pay: the SDK only builds the signed query string; a browser opens it
    page = unique("S")
    qs = client.api_alipay_trade_page_pay(
        subject="page", out_trade_no=page, total_amount="2.00", return_url="https://x.example/r"
    )
    async with http.get(sandbox.url + "/gateway.do?" + qs, allow_redirects=False) as resp:
        assert resp.status == 302, await resp.text()
        assert urllib.parse.urlparse(resp.headers["Location"]).path.endswith(page)


async def test_python_alipay_sdk_certificate_mode(
    http: aiohttp.ClientSession, sandbox: SandboxServer
) -> None:
    app = await register_app(http, sandbox, key_mode="certificate")
    reg = app.registration
    client = sdk.DCAliPay(
        appid=app.app_id,
        app_private_key_string=private_pem(app.key),
        app_public_key_cert_string=reg["app_cert_pem"],
        alipay_public_key_cert_string=reg["alipay_public_cert_pem"],
        alipay_root_cert_string=reg["alipay_root_cert_pem"],
    )
    client._gateway = sandbox.url + "/gateway.do"
    assert client.app_cert_sn == reg["app_cert_sn"]
    assert client.alipay_root_cert_sn == reg["alipay_root_cert_sn"]
    no = unique("S")
    r = await asyncio.to_thread(
        client.api_alipay_trade_precreate, subject="cert", out_trade_no=no, total_amount="3.00"
    )
    assert r["code"] == "10000", r
    t = await asyncio.to_thread(
        client.api_alipay_fund_trans_uni_transfer,
        out_biz_no=unique("S"),
        identity_type="ALIPAY_USER_ID",
        identity="2088000011112222",
        trans_amount="1.00",
        order_title="sdk",
    )
    assert t["code"] == "10000", t
    assert t["status"] in ("DEALING", "SUCCESS")
