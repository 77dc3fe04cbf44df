"""Control API shapes and the HTML payer page."""

from __future__ import annotations

import aiohttp

from paymesh.channels.sandbox import SandboxServer, SandboxState, build_app
from paymesh.channels.wechat import sign
from tests.channels.sandbox.conftest import Receiver, WeChatClient, WeChatMerchant, unique


async def test_registration_answer(merchant: WeChatMerchant, sandbox: SandboxServer) -> None:
    reg = merchant.registration
    assert reg["channel"] == "wechat"
    assert reg["merchant_id"] == merchant.mchid
    assert reg["app_id"] == merchant.appid
    assert reg["base_url"] == sandbox.url
    assert len(reg["api_v3_key"]) == 32
    assert reg["platform_public_key_id"].startswith("PUB_KEY_ID_")
    cert = sign.load_certificate(reg["platform_certificate_pem"])
    assert sign.certificate_serial(cert) == reg["platform_serial_no"]
    assert reg["platform_serial_no"] == reg["platform_serial_no"].upper()
    assert sign.public_key_pem(sign.public_key_of(cert)) == reg["platform_public_key_pem"]
    assert reg["merchant_serial_no"] == merchant.serial_no
    assert reg["trust_roots_pem"][0].startswith("-----BEGIN CERTIFICATE-----")


async def test_registration_errors(http: aiohttp.ClientSession, sandbox: SandboxServer) -> None:
    for bad in (
        {"channel": "paypal", "merchant_id": "1", "public_key_pem": "x"},
        {"channel": "wechat", "public_key_pem": "x"},
        {"channel": "wechat", "merchant_id": "1", "public_key_pem": "not a key"},
        {"channel": "wechat", "merchant_id": "1"},
    ):
        async with http.post(sandbox.url + "/_sandbox/merchants", json=bad) as resp:
            assert resp.status == 400, bad
            assert (await resp.json())["message"]
    async with http.post(sandbox.url + "/_sandbox/merchants", data=b"[") as resp:
        assert resp.status == 400


async def test_trades_listing_and_pay_errors(
    client: WeChatClient, http: aiohttp.ClientSession, sandbox: SandboxServer
) -> None:
    no = unique()
    await client.call(
        "POST", "/v3/pay/transactions/native", client.native_order(no, 42, "http://x/n")
    )
    async with http.get(sandbox.url + "/_sandbox/trades", params={"channel": "wechat"}) as resp:
        listing = await resp.json()
    assert set(listing) == {"trades", "refunds", "transfers"}
    [t] = [t for t in listing["trades"] if t["out_trade_no"] == no]
    assert t["status"] == "PENDING"
    assert t["state"] == "NOTPAY"
    assert t["amount"] == 42
    assert t["pay_url"].startswith(sandbox.url + "/_sandbox/pay/wechat/")

    async def pay(body: dict[str, str]) -> int:
        async with http.post(sandbox.url + "/_sandbox/pay", json=body) as resp:
            return resp.status

    assert await pay({"channel": "wechat", "out_trade_no": "nope"}) == 404
    assert await pay({"channel": "wechat"}) == 400
    assert await pay({"channel": "wechat", "out_trade_no": no, "outcome": "maybe"}) == 409
    assert await pay({"channel": "wechat", "out_trade_no": no, "outcome": "fail"}) == 200
    async with http.get(sandbox.url + "/_sandbox/trades") as resp:
        [t] = [t for t in (await resp.json())["trades"] if t["out_trade_no"] == no]
    assert (t["status"], t["state"]) == ("FAILED", "PAYERROR")


async def test_payer_page_flow(
    client: WeChatClient,
    merchant: WeChatMerchant,
    receiver: Receiver,
    http: aiohttp.ClientSession,
) -> None:
    no = unique()
    order = client.native_order(no, 12345, receiver.url)
    order["description"] = "<Tea & cake>"
    code_url = (await client.call("POST", "/v3/pay/transactions/native", order)).json()["code_url"]

    async with http.get(code_url.split("/_sandbox/")[0] + "/_sandbox/") as resp:
        index = await resp.text()
    assert no in index

    async with http.get(code_url) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        html = await resp.text()
    assert "¥123.45" in html
    assert "&lt;Tea &amp; cake&gt;" in html
    assert "value='paid'" in html
    assert "value='cancel'" in html
    assert "value='fail'" in html
    assert "NOTPAY" in html

    async with http.post(code_url, data={"outcome": "paid"}) as resp:
        assert resp.status == 200  # followed the 303 back to the page
        html = await resp.text()
    assert "SUCCESS" in html
    assert "value='paid'" not in html
    [cb] = await receiver.wait_for(1)
    assert b"TRANSACTION.SUCCESS" in cb.body

    q = await client.call("GET", f"/v3/pay/transactions/out-trade-no/{no}?mchid={merchant.mchid}")
    assert q.json()["trade_state"] == "SUCCESS"

    cancel_no = unique()
    cancel_url = (
        await client.call(
            "POST", "/v3/pay/transactions/native", client.native_order(cancel_no, 1, receiver.url)
        )
    ).json()["code_url"]
    async with http.post(cancel_url, data={"outcome": "cancel"}) as resp:
        assert "CLOSED" in await resp.text()
    async with http.get(code_url.replace(no, "missing")) as resp:
        assert resp.status == 404


def test_build_app_reuses_state() -> None:
    state = SandboxState()
    build_app(state)
    provider = state.providers["wechat"]
    build_app(state)
    assert state.providers["wechat"] is provider
