"""The crash gap of CreateOrder (issue 9): the order row is inserted before the channel is
asked, so a gateway that dies in between (or a channel answer that is lost) leaves a PENDING
order without pay data. Before the fix the merchant's idempotent retry returned that order
as it was: no code_url, nothing the payer could ever pay. Now the retry drives the same
channel call again (same out_trade_no, which the provider answers idempotently) and returns
the pay data; a barcode order is only asked about (its auth code is single-use)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import sqlalchemy as sa

from paymesh.core.db.models import ChannelRequest, PayOrder
from paymesh.core.db.orders import NewOrder
from paymesh.merchant.v1 import pay_service_pb2
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import eventually, out_no, query_order, sandbox

CreateOrder = pay_service_pb2.CreateOrderRequest


async def _backdate(mesh: Mesh, order_id: str) -> None:
    """As if it happened a minute ago: the first attempt's call cannot still be in flight
    (a retry within the edge's 30 s answers idempotently without a second call)."""
    then = datetime.now(UTC) - timedelta(minutes=1)
    async with (await mesh.store()).sessions() as s:
        await s.execute(
            sa.update(PayOrder).where(PayOrder.order_id == order_id).values(updated_at=then)
        )
        await s.commit()


async def _inserted_only(mesh: Mesh, merchant: Merchant, body: dict[str, Any]) -> str:
    """What a gateway that died right after the INSERT leaves behind."""
    app = await mesh.repo.get_app(merchant.app_id)
    target = app.routes[body["method"]]
    store = await mesh.store()
    created = await store.insert_order(
        NewOrder(
            app_id=merchant.app_id,
            out_trade_no=body["out_trade_no"],
            amount=body["amount"],
            channel=target.channel,
            account_id=target.account_id,
            method=body["method"],
            subject=body["subject"],
            notify_url=app.notify_url or "",
        )
    )
    assert created.created
    assert created.row.pay_data is None
    await _backdate(mesh, created.row.order_id)
    return created.row.order_id


async def test_retry_after_a_crash_between_insert_and_channel_returns_pay_data(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    body = {"out_trade_no": out_no(), "amount": 321, "subject": "crash gap", "method": "qr"}
    order_id = await _inserted_only(mesh, merchant, body)

    status, answer = await merchant.post("/v1/orders", body, CreateOrder)
    assert status == 200, answer
    order = answer["order"]
    assert order["order_id"] == order_id
    assert order["status"] == "PENDING"
    code_url = order["pay_data"]["code_url"]
    assert code_url, order

    # Now the answer is stored: a further retry is the plain idempotent answer.
    status, again = await merchant.post("/v1/orders", body, CreateOrder)
    assert status == 200
    assert again["order"]["pay_data"]["code_url"] == code_url
    assert (await query_order(merchant, order_id))["pay_data"]["code_url"] == code_url

    # And the trade at the provider is the one the payer pays: the order settles.
    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay", {"channel": "wechat", "out_trade_no": order_id}
    )

    async def paid() -> bool:
        return bool((await query_order(merchant, order_id))["status"] == "PAID")

    await eventually(paid)


async def test_retry_after_a_lost_channel_answer_returns_the_same_trade(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    # WeChat creates the trade but its answer is lost (a 5xx after processing).
    await sandbox(
        http,
        mesh.sandbox_url,
        "/_sandbox/faults",
        {"channel": "wechat", "fault": "http_500", "process": True, "count": 1,
         "path": "/v3/pay/transactions/native"},
    )  # fmt: skip
    body = {"out_trade_no": out_no(), "amount": 654, "subject": "lost answer", "method": "qr"}
    status, first = await merchant.post("/v1/orders", body, CreateOrder)
    assert status == 200, first
    assert first["order"]["status"] == "PENDING"
    assert "pay_data" not in first["order"]

    status, soon = await merchant.post("/v1/orders", body, CreateOrder)  # within 30 s
    assert status == 200, soon
    assert "pay_data" not in soon["order"]  # the first call may still be in flight
    await _backdate(mesh, first["order"]["order_id"])
    status, retry = await merchant.post("/v1/orders", body, CreateOrder)
    assert status == 200, retry
    assert retry["order"]["order_id"] == first["order"]["order_id"]
    assert retry["order"]["pay_data"]["code_url"]


async def test_barcode_retry_after_a_crash_asks_instead_of_paying_again(
    mesh: Mesh, merchant: Merchant
) -> None:
    body = {"out_trade_no": out_no(), "amount": 99, "subject": "crash gap", "method": "barcode",
            "auth_code": "281234567890123456"}  # fmt: skip
    order_id = await _inserted_only(mesh, merchant, body)
    status, answer = await merchant.post("/v1/orders", body, CreateOrder)
    assert status == 200, answer
    assert answer["order"]["order_id"] == order_id
    assert answer["order"]["status"] == "PENDING"  # Alipay never saw it: no second pay
    async with (await mesh.store()).sessions() as s:
        rpcs = (
            await s.execute(
                sa.select(ChannelRequest.rpc).where(ChannelRequest.object_id == order_id)
            )
        ).scalars()
        assert list(rpcs) == ["Query"]
