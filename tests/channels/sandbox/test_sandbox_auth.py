"""The sandbox enforces WeChat's request signature byte for byte, with WeChat's 401 shape."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from paymesh.channels.sandbox import SandboxServer
from paymesh.channels.wechat import sign
from tests.channels.sandbox.conftest import (
    Answer,
    WeChatClient,
    WeChatMerchant,
    register,
    unique,
    verify_platform_signature,
)


def assert_sign_error(a: Answer, reg: dict[str, str]) -> None:
    assert a.status == 401, a.body
    assert a.json()["code"] == "SIGN_ERROR"
    assert a.json()["message"]
    assert verify_platform_signature(a.headers, a.body, reg)


async def test_good_signature_passes(client: WeChatClient, merchant: WeChatMerchant) -> None:
    a = await client.call("GET", "/v3/certificates")
    assert a.status == 200


async def test_tampered_body(client: WeChatClient, merchant: WeChatMerchant) -> None:
    order = client.native_order(unique(), 100, "https://example.invalid/n")
    signed_for = client.native_order(order["out_trade_no"], 1, "https://example.invalid/n")
    a = await client.call(
        "POST", "/v3/pay/transactions/native", order, sign_body=json.dumps(signed_for).encode()
    )
    assert_sign_error(a, merchant.registration)
    # re-serialising the same JSON differently also breaks it: the raw bytes are signed
    a = await client.call(
        "POST",
        "/v3/pay/transactions/native",
        order,
        sign_body=json.dumps(order, separators=(",", ":")).encode(),
    )
    assert_sign_error(a, merchant.registration)


async def test_tampered_query_string(client: WeChatClient, merchant: WeChatMerchant) -> None:
    path = f"/v3/pay/transactions/out-trade-no/X{unique()}?mchid={merchant.mchid}"
    a = await client.call("GET", path, sign_path=path.split("?")[0])
    assert_sign_error(a, merchant.registration)


async def test_other_key(client: WeChatClient, merchant: WeChatMerchant) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    a = await client.call("GET", "/v3/certificates", key=other)
    assert_sign_error(a, merchant.registration)


async def test_wrong_serial(client: WeChatClient, merchant: WeChatMerchant) -> None:
    a = await client.call("GET", "/v3/certificates", serial_no="DEADBEEF")
    assert_sign_error(a, merchant.registration)
    assert "serial" in a.json()["message"]


@pytest.mark.parametrize("skew", [-301, 400, -3600])
async def test_stale_timestamp(client: WeChatClient, merchant: WeChatMerchant, skew: int) -> None:
    a = await client.call("GET", "/v3/certificates", timestamp=int(time.time()) + skew)
    assert_sign_error(a, merchant.registration)


async def test_unknown_mchid(client: WeChatClient, merchant: WeChatMerchant) -> None:
    a = await client.call("GET", "/v3/certificates", mchid="1999999999")
    assert_sign_error(a, merchant.registration)


async def test_missing_or_malformed_header(
    sandbox: SandboxServer, http: aiohttp.ClientSession, merchant: WeChatMerchant
) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer x"},
        {"Authorization": 'WECHATPAY2-SHA256-RSA2048 mchid="1"'},
        {"Authorization": "WECHATPAY2-SHA256-RSA2048 garbage"},
    ):
        async with http.get(sandbox.url + "/v3/certificates", headers=headers) as resp:
            a = Answer(resp.status, dict(resp.headers), await resp.read())
        assert_sign_error(a, merchant.registration)


async def test_certificate_registration_enforces_its_serial(
    http: aiohttp.ClientSession, sandbox: SandboxServer
) -> None:
    """Registering a certificate PEM: its serial is the one required in Authorization."""
    issued = sandbox.state.ca.issue("merchant cert")
    body = {
        "channel": "wechat",
        "merchant_id": unique("M")[:20],
        "app_id": "",
        "public_key_pem": issued.cert_pem,
    }
    async with http.post(sandbox.url + "/_sandbox/merchants", json=body) as resp:
        reg = await resp.json()
    assert reg["merchant_serial_no"] == issued.serial_hex
    m = WeChatMerchant(body["merchant_id"], "", issued.serial_hex, issued.key, reg)
    c = WeChatClient(sandbox.url, m, http)
    assert (await c.call("GET", "/v3/certificates")).status == 200
    assert (await c.call("GET", "/v3/certificates", serial_no="01")).status == 401


async def test_reregistration_rotates_key_keeps_api_v3_key(
    http: aiohttp.ClientSession, sandbox: SandboxServer
) -> None:
    m = await register(http, sandbox)
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = {
        "channel": "wechat",
        "merchant_id": m.mchid,
        "app_id": m.appid,
        "public_key_pem": sign.public_key_pem(new_key),
    }
    async with http.post(sandbox.url + "/_sandbox/merchants", json=body) as resp:
        reg = await resp.json()
    assert reg["api_v3_key"] == m.api_v3_key
    assert len(reg["api_v3_key"]) == 32
    old = WeChatClient(sandbox.url, m, http)
    assert (await old.call("GET", "/v3/certificates")).status == 401
    rotated = WeChatMerchant(m.mchid, m.appid, "ANY", new_key, reg)
    assert (
        await WeChatClient(sandbox.url, rotated, http).call("GET", "/v3/certificates")
    ).status == 200
