"""The whole merchant flow for Alipay through Envoy: create, pay, notify, refund."""

from __future__ import annotations

import aiohttp
import pytest
import sqlalchemy as sa

from paymesh.merchant.v1 import pay_service_pb2, query_service_pb2, refund_service_pb2
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import eventually, out_no, query_order, sandbox


async def test_alipay_qr_order_paid_notified_and_refunded(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    status, body = await merchant.post(
        "/v1/orders",
        {
            "out_trade_no": out_no(),
            "amount": 1999,
            "subject": "支付宝 test",
            "method": "qr",
            "channel": "alipay",
            "notify_url": mesh.notify_url,
        },
        pay_service_pb2.CreateOrderRequest,
    )
    assert status == 200, body
    order = body["order"]
    assert order["channel"] == "alipay"
    assert order["status"] == "PENDING"
    assert order["pay_data"]["code_url"]
    oid = order["order_id"]

    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay", {"channel": "alipay", "out_trade_no": oid}
    )

    async def paid() -> bool:  # settled by Alipay's form notify through /v1/callbacks/alipay/...
        return bool((await query_order(merchant, oid))["status"] == "PAID")

    await eventually(paid)
    deliveries = (await sandbox(http, mesh.sandbox_url, "/_sandbox/callbacks"))["callbacks"]
    (notify,) = [d for d in deliveries if d["channel"] == "alipay" and d["subject"] == oid]
    assert notify["delivered"]
    assert notify["attempts"][-1]["body"] == "success"

    async def merchant_notified() -> bool:
        return any(r.body.get("order_id") == oid for r in mesh.demo_merchant.received)

    await eventually(merchant_notified, within=20)

    refund_no = out_no("r")
    status, body = await merchant.post(
        "/v1/refunds",
        {"order_id": oid, "out_refund_no": refund_no, "amount": 999},
        refund_service_pb2.CreateRefundRequest,
    )
    assert status == 200, body
    store = await mesh.store()
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text(
                    "SELECT http_status, url FROM channel_requests"
                    " WHERE object_id = :o AND rpc = 'Refund'"
                ),
                {"o": body["refund"]["refund_id"]},
            )
        ).all()
    # The provider exchange itself is logged, not only the RPC.
    assert [(r.http_status, "gateway.do" in r.url) for r in rows] == [(200, True)]

    async def refunded() -> bool:
        status, body = await merchant.get(
            "/v1/refunds:lookup",
            {"out_refund_no": refund_no, "sync": "true"},
            query_service_pb2.QueryRefundRequest,
        )
        assert status == 200, body
        return bool(body["refund"]["status"] == "SUCCEEDED")

    await eventually(refunded)


async def test_alipay_page_pay_is_a_signed_url_without_a_server_call(merchant: Merchant) -> None:
    status, body = await merchant.post(
        "/v1/orders",
        {
            "out_trade_no": out_no(),
            "amount": 500,
            "subject": "page",
            "method": "page",
            "return_url": "https://shop.example/done",
        },
        pay_service_pb2.CreateOrderRequest,
    )
    assert status == 200, body
    pay_data = body["order"]["pay_data"]
    assert "alipay.trade.page.pay" in pay_data["pay_url"]
    assert "sign=" in pay_data["pay_url"]


async def _alipay_order(merchant: Merchant, amount: int) -> str:
    status, body = await merchant.post(
        "/v1/orders",
        {
            "out_trade_no": out_no(),
            "amount": amount,
            "subject": "neg",
            "method": "qr",
            "channel": "alipay",
        },
        pay_service_pb2.CreateOrderRequest,
    )
    assert status == 200, body
    return str(body["order"]["order_id"])


async def test_alipay_forged_notify_changes_nothing(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    oid = await _alipay_order(merchant, 300)
    answer = await sandbox(
        http,
        mesh.sandbox_url,
        "/_sandbox/faults",
        {"channel": "alipay", "fault": "probe_callback", "out_trade_no": oid},
    )
    (delivery,) = answer["deliveries"]
    assert not delivery["delivered"]
    assert delivery["attempts"][0]["body"] != "success"
    assert (await query_order(merchant, oid))["status"] == "PENDING"
    assert await (await mesh.store()).list_events(oid) == []


async def test_alipay_notify_with_another_amount_changes_nothing(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    oid = await _alipay_order(merchant, 400)
    await sandbox(
        http,
        mesh.sandbox_url,
        "/_sandbox/faults",
        {"channel": "alipay", "fault": "amount_mismatch", "delta": 1, "out_trade_no": oid},
    )
    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay", {"channel": "alipay", "out_trade_no": oid}
    )

    async def answered() -> bool:
        ds = (await sandbox(http, mesh.sandbox_url, "/_sandbox/callbacks"))["callbacks"]
        return any(d["subject"] == oid and d["attempts"] for d in ds)

    await eventually(answered)
    ds = (await sandbox(http, mesh.sandbox_url, "/_sandbox/callbacks"))["callbacks"]
    (delivery, *_) = [d for d in ds if d["subject"] == oid]
    assert not delivery["delivered"]
    assert delivery["attempts"][0]["body"] != "success"
    assert (await query_order(merchant, oid))["status"] == "PENDING"
    assert await (await mesh.store()).list_events(oid) == []


@pytest.mark.parametrize(
    ("method", "api"),
    [
        ("page", "alipay.trade.page.pay"),
        ("h5", "alipay.trade.wap.pay"),
        ("app", "alipay.trade.app.pay"),
    ],
)
async def test_alipay_client_side_methods_are_accepted_by_the_provider(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession, method: str, api: str
) -> None:
    status, body = await merchant.post(
        "/v1/orders",
        {
            "out_trade_no": out_no(),
            "amount": 700,
            "subject": "签名",
            "method": method,
            "channel": "alipay",
        },
        pay_service_pb2.CreateOrderRequest,
    )
    assert status == 200, body
    pay_data = body["order"]["pay_data"]
    if method == "app":
        url = f"{mesh.sandbox_url}/gateway.do?{pay_data['app_params']['order_string']}"
    else:
        url = pay_data["pay_url"]
    assert api in url
    async with http.get(url, allow_redirects=False) as r:
        assert r.status == 302, await r.text()  # signature verified; on to the payer page
    async with http.get(url.replace("sign=", "sign=AAAA"), allow_redirects=False) as r:
        assert r.status == 400  # a tampered signature is refused
