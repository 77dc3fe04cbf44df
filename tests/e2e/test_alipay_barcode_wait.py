"""Alipay barcode payments whose outcome is not known at once (issue 9.4). Alipay's 当面付
guidance: on 10003 (等待用户付款: the payer confirms with a password) or 20000 / an unknown
outcome, poll alipay.trade.query for about 30 s, then cancel with alipay.trade.cancel what is
still unpaid (cancel, not close: it also reverses a payment that went through). Before, such
an order stayed PENDING until its expiry and was then *closed*. The sandbox answers 10003 for
auth codes starting 10003 and 20000 for those starting 20000 (the trade exists, open)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from paymesh.gateway.deps import build_deps
from paymesh.merchant.v1 import pay_service_pb2
from paymesh.order_monitor.monitor import OrderMonitor
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import out_no, query_order, sandbox


async def _barcode(merchant: Merchant, auth_code: str, amount: int) -> dict[str, Any]:
    body = {"out_trade_no": out_no(), "amount": amount, "subject": "barcode",
            "method": "barcode", "channel": "alipay", "auth_code": auth_code}  # fmt: skip
    status, answer = await merchant.post("/v1/orders", body, pay_service_pb2.CreateOrderRequest)
    assert status == 200, answer
    order: dict[str, Any] = answer["order"]
    return order


async def _trade(http: aiohttp.ClientSession, mesh: Mesh, oid: str) -> dict[str, Any]:
    trades = (await sandbox(http, mesh.sandbox_url, "/_sandbox/trades?channel=alipay"))["trades"]
    (trade,) = [t for t in trades if t["out_trade_no"] == oid]
    return dict(trade)


async def _sweep(mesh: Mesh, after: timedelta) -> None:
    deps = await build_deps(mesh.server.context)
    at = datetime.now(UTC) + after
    await OrderMonitor(deps, clock=lambda: at).sweep_once()


@pytest.mark.parametrize("auth_code", ["100031234567890123", "200001234567890123"])
async def test_unconfirmed_barcode_is_polled_then_cancelled_after_30_seconds(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession, auth_code: str
) -> None:
    order = await _barcode(merchant, auth_code, 880)
    oid = order["order_id"]
    assert order["status"] == "PENDING"  # never FAILED on 10003 / 20000
    # polled within the wait: still waiting for the payer, nothing cancelled
    await _sweep(mesh, timedelta(seconds=10))
    assert (await query_order(merchant, oid))["status"] == "PENDING"
    assert (await _trade(http, mesh, oid))["status"] == "PENDING"
    # past ~30 s still unpaid: cancelled at Alipay, then CLOSED here
    await _sweep(mesh, timedelta(seconds=31))
    assert (await query_order(merchant, oid))["status"] == "CLOSED"
    assert (await _trade(http, mesh, oid))["status"] == "CLOSED"


async def test_barcode_confirmed_within_the_wait_is_paid_not_cancelled(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    order = await _barcode(merchant, "100039876543210987", 990)
    oid = order["order_id"]
    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay", {"channel": "alipay", "out_trade_no": oid}
    )
    await _sweep(mesh, timedelta(seconds=31))
    assert (await query_order(merchant, oid))["status"] == "PAID"
    assert (await _trade(http, mesh, oid))["status"] == "PAID"
