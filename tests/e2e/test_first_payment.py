"""The happy path a merchant follows: create a WeChat QR order, pay it, query it."""

from __future__ import annotations

import uuid

import aiohttp

from paymesh.merchant.v1 import pay_service_pb2, query_service_pb2
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh


def out_no() -> str:
    return "t" + uuid.uuid4().hex[:20]


async def test_qr_order_paid_on_the_sandbox_is_paid_after_sync_query(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    no = out_no()
    status, body = await merchant.post(
        "/v1/orders",
        {
            "out_trade_no": no,
            "amount": 1,
            "subject": "coffee",
            "method": "qr",
            "metadata": {"k": "v"},
        },
        pay_service_pb2.CreateOrderRequest,
    )
    assert status == 200, body
    order = body["order"]
    assert order["status"] == "PENDING"
    assert order["channel"] == "wechat"
    assert order["amount"] == "1"
    assert order["pay_data"]["code_url"]
    order_id = order["order_id"]

    async with http.post(
        f"{mesh.sandbox_url}/_sandbox/pay", json={"channel": "wechat", "out_trade_no": order_id}
    ) as r:
        assert r.status == 200, await r.text()

    status, body = await merchant.get(
        f"/v1/orders/{order_id}",
        {"sync": "true"},
        query_service_pb2.QueryOrderRequest,
        path_params={"order_id": order_id},
    )
    assert status == 200, body
    assert body["order"]["status"] == "PAID"
    assert body["order"]["channel_trade_no"]
    assert body["order"]["paid_at"]

    status, body = await merchant.get(
        "/v1/orders:lookup", {"out_trade_no": no}, query_service_pb2.QueryOrderRequest
    )
    assert status == 200, body
    assert body["order"]["order_id"] == order_id
    assert body["order"]["status"] == "PAID"
