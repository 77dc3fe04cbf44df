"""The monitor and cashier orders no wallet committed to: there is no trade anywhere, so it
asks no channel; past expiry it closes them (one order.closed); a merchant's retry of the
CreateOrder is answered with the same order (its channel is not compared)."""

from __future__ import annotations

from typing import Any

from paymesh.merchant.v1 import pay_service_pb2
from paymesh.order_monitor.monitor import OrderMonitor
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import out_no
from tests.order_monitor.conftest import Clock
from tests.order_monitor.test_monitor import BACKOFF, events, rpcs, status_of


async def _cashier(merchant: Merchant, body: dict[str, Any]) -> dict[str, Any]:
    status, answer = await merchant.post("/v1/orders", body, pay_service_pb2.CreateOrderRequest)
    assert status == 200, answer
    order: dict[str, Any] = answer["order"]
    return order


async def test_unbound_cashier_orders_close_at_expiry_without_a_channel(
    mesh: Mesh, merchant: Merchant, monitor: OrderMonitor, clock: Clock
) -> None:
    body = {"out_trade_no": out_no("m"), "amount": 321, "subject": "counter",
            "method": "cashier", "expire_seconds": 60}  # fmt: skip
    order = await _cashier(merchant, body)
    oid = order["order_id"]
    again = await _cashier(merchant, body)  # a retry: the same order, no second one
    assert again["order_id"] == oid
    assert again["pay_data"] == order["pay_data"]

    report = await monitor.sweep_once()
    assert oid not in report.settled
    assert await status_of(mesh, oid) == "PENDING"
    clock.advance(120)  # past expiry
    report = await monitor.sweep_once()
    assert report.settled[oid] == "CLOSED"
    assert await status_of(mesh, oid) == "CLOSED"
    assert await events(mesh, oid) == ["order.closed"]
    assert await rpcs(mesh, oid) == []  # no channel was asked: none was ever chosen
    clock.advance(BACKOFF * 4)
    await monitor.sweep_once()
    assert await events(mesh, oid) == ["order.closed"]
