"""WeChat pay data expires (issue 9 item 4): a prepay_id (app/jsapi) and a Native code_url are
valid for 2 hours, an h5_url for 5 minutes (WeChat Pay v3 docs: JSAPI下单, H5下单). The
channel states the end as ``pay_data.expires_at``. A repeated CreateOrder (same out_trade_no,
same parameters) within it is the plain idempotent answer, no channel call; after it, the
order call is made again with the same out_trade_no and the fresh pay data is stored and
returned. Aged here by moving the stored ``expires_at`` into the past."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from paymesh.core.db.models import ChannelRequest, OrderStatus, PayOrder
from paymesh.merchant.v1 import pay_service_pb2
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import out_no

CreateOrder = pay_service_pb2.CreateOrderRequest


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


async def _pay_calls(mesh: Mesh, order_id: str) -> int:
    async with (await mesh.store()).sessions() as s:
        rpcs = await s.execute(
            sa.select(ChannelRequest.rpc).where(ChannelRequest.object_id == order_id)
        )
        return sum(1 for rpc in rpcs.scalars() if rpc == "Pay")


async def _age(mesh: Mesh, order_id: str) -> None:
    """As if the pay data had been issued long ago: its stated end is past, and the row has
    not moved since (no earlier call can still be in flight)."""
    async with (await mesh.store()).sessions() as s:
        row = (
            await s.execute(sa.select(PayOrder).where(PayOrder.order_id == order_id))
        ).scalar_one()
        pay_data: dict[str, Any] = dict(row.pay_data or {})
        pay_data["expires_at"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        await s.execute(
            sa.update(PayOrder)
            .where(PayOrder.order_id == order_id)
            .values(pay_data=pay_data, updated_at=datetime.now(UTC) - timedelta(minutes=5))
        )
        await s.commit()


async def test_expired_prepay_data_is_renewed_on_a_repeat(mesh: Mesh, merchant: Merchant) -> None:
    body = {"out_trade_no": out_no(), "amount": 432, "subject": "expiry", "method": "app"}
    status, first = await merchant.post("/v1/orders", body, CreateOrder)
    assert status == 200, first
    order = first["order"]
    order_id = order["order_id"]
    pay_data = order["pay_data"]
    issued = _at(pay_data["expires_at"]) - datetime.now(UTC)
    assert timedelta(hours=1, minutes=59) < issued <= timedelta(hours=2)
    assert await _pay_calls(mesh, order_id) == 1

    # Within validity: the stored answer, no channel call.
    status, again = await merchant.post("/v1/orders", body, CreateOrder)
    assert status == 200, again
    assert again["order"]["pay_data"] == pay_data
    assert await _pay_calls(mesh, order_id) == 1

    await _age(mesh, order_id)
    status, renewed = await merchant.post("/v1/orders", body, CreateOrder)
    assert status == 200, renewed
    assert renewed["order"]["order_id"] == order_id
    assert renewed["order"]["status"] == "PENDING"
    fresh = renewed["order"]["pay_data"]
    assert fresh != pay_data
    assert fresh["prepay_id"]
    assert fresh["app_params"]["sign"] != pay_data["app_params"]["sign"]  # signed anew
    assert _at(fresh["expires_at"]) > datetime.now(UTC) + timedelta(hours=1)
    assert await _pay_calls(mesh, order_id) == 2

    # The fresh data is stored: the next repeat is the plain answer again.
    status, stored = await merchant.post("/v1/orders", body, CreateOrder)
    assert status == 200
    assert stored["order"]["pay_data"] == fresh
    assert await _pay_calls(mesh, order_id) == 2


async def test_h5_url_is_valid_for_five_minutes(mesh: Mesh, merchant: Merchant) -> None:
    body = {"out_trade_no": out_no(), "amount": 77, "subject": "expiry", "method": "h5",
            "client_ip": "203.0.113.7"}  # fmt: skip
    status, first = await merchant.post("/v1/orders", body, CreateOrder)
    assert status == 200, first
    left = _at(first["order"]["pay_data"]["expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=4) < left <= timedelta(minutes=5)


async def test_a_paid_order_never_renews(mesh: Mesh, merchant: Merchant) -> None:
    body = {"out_trade_no": out_no(), "amount": 55, "subject": "expiry", "method": "qr"}
    status, first = await merchant.post("/v1/orders", body, CreateOrder)
    assert status == 200, first
    order_id = first["order"]["order_id"]
    async with (await mesh.store()).sessions() as s:
        await s.execute(
            sa.update(PayOrder)
            .where(PayOrder.order_id == order_id)
            .values(status=OrderStatus.PAID.value)
        )
        await s.commit()
    await _age(mesh, order_id)
    status, again = await merchant.post("/v1/orders", body, CreateOrder)
    assert status == 200, again
    assert again["order"]["status"] == "PAID"
    assert await _pay_calls(mesh, order_id) == 1


async def test_concurrent_repeats_renew_once(mesh: Mesh, merchant: Merchant) -> None:
    body = {"out_trade_no": out_no(), "amount": 66, "subject": "expiry", "method": "qr"}
    status, first = await merchant.post("/v1/orders", body, CreateOrder)
    assert status == 200, first
    order_id = first["order"]["order_id"]
    await _age(mesh, order_id)
    answers = await asyncio.gather(
        *(merchant.post("/v1/orders", body, CreateOrder) for _ in range(4))
    )
    assert all(status == 200 for status, _ in answers), answers
    assert await _pay_calls(mesh, order_id) == 2  # one retry won the claim
