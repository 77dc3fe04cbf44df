"""Late payments through Envoy (issue 9.2, the merchant API's "Late payments" contract).

An Alipay page/h5/app order is a signed URL: the trade exists at Alipay only once the payer
opens it, so a merchant's close before that answers ACQ.TRADE_NOT_EXIST and paymesh closes the
order, yet the URL stays payable until its time_expire. Before issue 9 the payment that followed
was refused as a stale transition: Alipay retried for a day and the money had no owner. Now it
is recorded, the app's policy applied (refund by default, or accept) and the merchant told with
`order.late_paid`; when the notify is lost, the monitor's late sweep finds it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from paymesh.config import factory as config_factory
from paymesh.config.apps import LatePaymentPolicy
from paymesh.dev.seed import seed_app
from paymesh.gateway.deps import build_deps
from paymesh.merchant.v1 import pay_service_pb2
from paymesh.order_monitor.monitor import OrderMonitor
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import eventually, out_no, query_order, sandbox

CloseOrder = pay_service_pb2.CloseOrderRequest


async def _app(mesh: Mesh, http: aiohttp.ClientSession, policy: LatePaymentPolicy) -> Merchant:
    app_id = f"late-{policy.value}"
    secret = (
        f"{app_id}-0123456789abcdef0123456789abcdef"  # fixed: seeding again must not change the key
    )
    demo = await seed_app(mesh.repo, app_id=app_id, secret=secret, notify_url=mesh.notify_url)
    config = await mesh.repo.get_app(app_id)
    await mesh.repo.put_app(config.model_copy(update={"late_payment": policy}))
    served = await config_factory.config_repository(mesh.server.context)

    async def seen() -> bool:
        try:
            return (await served.get_app(app_id)).late_payment is policy
        except Exception:
            return False

    await eventually(seen)
    return mesh.merchant(http, demo)


async def _closed_signed_order(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession, method: str, amount: int
) -> tuple[str, str]:
    """An Alipay page/h5/app order closed by the merchant before the payer opened its URL;
    returns (order_id, the URL the payer still holds)."""
    status, body = await merchant.post(
        "/v1/orders",
        {"out_trade_no": out_no(), "amount": amount, "subject": "late", "method": method,
         "channel": "alipay"},
        pay_service_pb2.CreateOrderRequest,
    )  # fmt: skip
    assert status == 200, body
    order = body["order"]
    oid, pay_data = order["order_id"], order["pay_data"]
    if method == "app":
        url = f"{mesh.sandbox_url}/gateway.do?{pay_data['app_params']['order_string']}"
    else:
        url = pay_data["pay_url"]
    status, body = await merchant.post(f"/v1/orders/{oid}:close", {"order_id": oid}, CloseOrder)
    assert status == 200, body
    assert body["order"]["status"] == "CLOSED"  # Alipay never saw it: ACQ.TRADE_NOT_EXIST
    return oid, url


async def _payer_pays(mesh: Mesh, http: aiohttp.ClientSession, oid: str, url: str) -> None:
    async with http.get(url, allow_redirects=False) as r:  # still payable: time_expire ahead
        assert r.status == 302, await r.text()
    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay", {"channel": "alipay", "out_trade_no": oid}
    )


def _late_notices(mesh: Mesh, oid: str) -> list[dict[str, Any]]:
    return [
        r.body
        for r in mesh.demo_merchant.received
        if r.body.get("order_id") == oid and r.body.get("event_type") == "order.late_paid"
    ]


async def _sandbox_trade(http: aiohttp.ClientSession, mesh: Mesh, oid: str) -> dict[str, Any]:
    trades = (await sandbox(http, mesh.sandbox_url, "/_sandbox/trades?channel=alipay"))["trades"]
    (trade,) = [t for t in trades if t["out_trade_no"] == oid]
    return dict(trade)


@pytest.mark.parametrize("method", ["page", "h5", "app"])
async def test_payment_after_close_is_refunded_by_default(
    mesh: Mesh, http: aiohttp.ClientSession, method: str
) -> None:
    merchant = await _app(mesh, http, LatePaymentPolicy.REFUND)
    oid, url = await _closed_signed_order(mesh, merchant, http, method, 2500)
    await _payer_pays(mesh, http, oid, url)

    async def told() -> bool:
        return bool(_late_notices(mesh, oid))

    await eventually(told, within=20)
    (notice,) = _late_notices(mesh, oid)
    trade = await _sandbox_trade(http, mesh, oid)
    assert notice["amount"] == 2500
    assert notice["channel_trade_no"] == trade["channel_trade_no"]
    assert notice["status"] == "CLOSED"
    refund_id = notice["refund_id"]
    store = await mesh.store()
    refund = await store.get_refund(refund_id)
    assert refund is not None
    assert (refund.reason, refund.amount, refund.status) == ("late payment", 2500, "SUCCEEDED")
    order = await query_order(merchant, oid)
    assert order["status"] == "CLOSED"  # the order keeps its status
    assert int(order["refunded_amount"]) == 2500
    # QueryOrder shows the late payment and what became of it
    shown = order["late_payment"]
    assert int(shown["amount"]) == 2500
    assert shown["channel_trade_no"] == trade["channel_trade_no"]
    assert (shown["policy"], shown["refund_id"]) == ("refund", refund_id)
    assert shown["order_status"] == "CLOSED"
    assert shown["paid_at"]
    # The money went back at the provider, and Alipay got its "success".
    refunds = (await sandbox(http, mesh.sandbox_url, "/_sandbox/trades?channel=alipay"))["refunds"]
    assert [r["amount"] for r in refunds if r["out_trade_no"] == oid] == [2500]
    ds = (await sandbox(http, mesh.sandbox_url, "/_sandbox/callbacks"))["callbacks"]
    pay_notifies = [d for d in ds if d["subject"] == oid]
    assert pay_notifies
    assert pay_notifies[0]["delivered"]
    late = await store.get_late_payment(oid)
    assert late is not None
    assert late.policy == "refund"
    assert late.refund_id == refund_id


async def test_payment_after_close_is_accepted_when_the_app_says_so(
    mesh: Mesh, http: aiohttp.ClientSession
) -> None:
    merchant = await _app(mesh, http, LatePaymentPolicy.ACCEPT)
    oid, url = await _closed_signed_order(mesh, merchant, http, "page", 3100)
    await _payer_pays(mesh, http, oid, url)

    async def told() -> bool:
        return bool(_late_notices(mesh, oid))

    await eventually(told, within=20)
    (notice,) = _late_notices(mesh, oid)
    trade = await _sandbox_trade(http, mesh, oid)
    assert notice["status"] == "PAID"
    assert notice["channel_trade_no"] == trade["channel_trade_no"]
    assert "refund_id" not in notice
    order = await query_order(merchant, oid)
    assert order["status"] == "PAID"
    assert order["channel_trade_no"] == trade["channel_trade_no"]
    assert order["late_payment"]["policy"] == "accept"
    assert not order["late_payment"].get("refund_id")
    assert trade["status"] == "PAID"  # nothing refunded at the provider


async def test_monitor_finds_a_late_payment_whose_notify_was_lost(
    mesh: Mesh, http: aiohttp.ClientSession
) -> None:
    merchant = await _app(mesh, http, LatePaymentPolicy.REFUND)
    oid, url = await _closed_signed_order(mesh, merchant, http, "h5", 1800)
    never_paid, _ = await _closed_signed_order(mesh, merchant, http, "page", 1900)
    await sandbox(
        http,
        mesh.sandbox_url,
        "/_sandbox/faults",
        {"channel": "alipay", "fault": "drop_callbacks", "out_trade_no": oid, "count": 1},
    )
    await _payer_pays(mesh, http, oid, url)
    store = await mesh.store()
    assert await store.get_late_payment(oid) is None  # nobody told paymesh
    deps = await build_deps(mesh.server.context)
    monitor = OrderMonitor(deps, pending_after=timedelta(hours=1))
    report = await monitor.sweep_once()
    assert {oid, never_paid} <= set(report.checked)
    assert await store.get_late_payment(never_paid) is None
    late = await store.get_late_payment(oid)
    assert late is not None
    assert late.refund_id
    refund = await store.get_refund(late.refund_id)
    assert refund is not None
    assert refund.status == "SUCCEEDED"
    # Once the provider can no longer take a payment (expiry + margin passed), a closed order
    # is no longer asked about; one with its late payment recorded is not asked again.
    assert never_paid in (await monitor.sweep_once()).deferred  # backoff, still watched
    after = datetime.now(UTC) + timedelta(hours=1)
    stale = OrderMonitor(deps, pending_after=timedelta(hours=1), clock=lambda: after)
    swept = await stale.sweep_once()
    assert never_paid not in swept.checked + swept.deferred
    assert oid not in swept.checked + swept.deferred

    async def told() -> bool:
        return bool(_late_notices(mesh, oid))

    await eventually(told, within=20)


async def test_close_after_the_payer_opened_the_url_closes_the_trade_at_alipay(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    """Where the trade exists at Alipay (the payer opened the URL), close closes it there:
    the payer can no longer pay, so there is nothing late to handle."""
    status, body = await merchant.post(
        "/v1/orders",
        {"out_trade_no": out_no(), "amount": 800, "subject": "s", "method": "page",
         "channel": "alipay"},
        pay_service_pb2.CreateOrderRequest,
    )  # fmt: skip
    assert status == 200, body
    oid, url = body["order"]["order_id"], body["order"]["pay_data"]["pay_url"]
    async with http.get(url, allow_redirects=False) as r:
        assert r.status == 302
    assert (await _sandbox_trade(http, mesh, oid))["status"] == "PENDING"
    status, body = await merchant.post(f"/v1/orders/{oid}:close", {"order_id": oid}, CloseOrder)
    assert status == 200, body
    assert body["order"]["status"] == "CLOSED"
    assert (await _sandbox_trade(http, mesh, oid))["status"] == "CLOSED"
    async with http.post(
        f"{mesh.sandbox_url}/_sandbox/pay", json={"channel": "alipay", "out_trade_no": oid}
    ) as r:
        assert r.status >= 400  # closed at the provider: not payable
    assert not (await _sandbox_trade(http, mesh, oid))["paid_at"]
    assert await (await mesh.store()).get_late_payment(oid) is None


async def _wechat_closed_while_paid(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession, amount: int, *, lose_notify: bool
) -> str:
    """A WeChat QR order the merchant closes while the payer's payment is in flight: WeChat
    answers the close 204 and the payment still goes through (`pay_during_close`)."""
    status, body = await merchant.post(
        "/v1/orders",
        {"out_trade_no": out_no(), "amount": amount, "subject": "late", "method": "qr",
         "channel": "wechat"},
        pay_service_pb2.CreateOrderRequest,
    )  # fmt: skip
    assert status == 200, body
    oid = body["order"]["order_id"]
    race = {"channel": "wechat", "fault": "pay_during_close", "out_trade_no": oid}
    await sandbox(http, mesh.sandbox_url, "/_sandbox/faults", {**race, "seconds": 0.3})
    if lose_notify:
        lost = {"channel": "wechat", "fault": "drop_callbacks", "out_trade_no": oid, "count": 1}
        await sandbox(http, mesh.sandbox_url, "/_sandbox/faults", lost)
    status, body = await merchant.post(f"/v1/orders/{oid}:close", {"order_id": oid}, CloseOrder)
    assert status == 200, body
    assert body["order"]["status"] == "CLOSED"
    return str(oid)


async def _wechat_refunds(http: aiohttp.ClientSession, mesh: Mesh, oid: str) -> list[int]:
    got = (await sandbox(http, mesh.sandbox_url, "/_sandbox/trades?channel=wechat"))["refunds"]
    return [r["amount"] for r in got if r["out_trade_no"] == oid and r["status"] == "SUCCEEDED"]


async def test_wechat_payment_for_a_closed_order_is_refunded_not_lost(
    mesh: Mesh, http: aiohttp.ClientSession
) -> None:
    """WeChat's TRANSACTION.SUCCESS for an order paymesh closed: before issue 9 it was a
    stale transition, refused, retried by WeChat and the money had no owner."""
    merchant = await _app(mesh, http, LatePaymentPolicy.REFUND)
    oid = await _wechat_closed_while_paid(mesh, merchant, http, 4200, lose_notify=False)

    async def told() -> bool:
        return bool(_late_notices(mesh, oid))

    await eventually(told, within=20)
    (notice,) = _late_notices(mesh, oid)
    trades = (await sandbox(http, mesh.sandbox_url, "/_sandbox/trades?channel=wechat"))["trades"]
    (trade,) = [t for t in trades if t["out_trade_no"] == oid]
    assert trade["status"] == "PAID"  # the money was taken at WeChat
    assert (notice["amount"], notice["status"]) == (4200, "CLOSED")
    assert notice["channel_trade_no"] == trade["channel_trade_no"]

    async def refunded() -> bool:
        return await _wechat_refunds(http, mesh, oid) == [4200]

    await eventually(refunded, within=20)  # and given back there, once
    order = await query_order(merchant, oid)
    assert order["status"] == "CLOSED"
    assert order["late_payment"]["policy"] == "refund"
    assert order["late_payment"]["refund_id"] == notice["refund_id"]
    # WeChat got its success answer: the notify is not retried for a day
    ds = (await sandbox(http, mesh.sandbox_url, "/_sandbox/callbacks"))["callbacks"]
    pay_notifies = [d for d in ds if d["subject"] == oid]
    assert pay_notifies
    assert pay_notifies[0]["delivered"]


async def test_monitor_finds_a_wechat_late_payment_whose_notify_was_lost(
    mesh: Mesh, http: aiohttp.ClientSession
) -> None:
    merchant = await _app(mesh, http, LatePaymentPolicy.REFUND)
    oid = await _wechat_closed_while_paid(mesh, merchant, http, 1300, lose_notify=True)

    async def paid_at_wechat() -> bool:
        trades = await sandbox(http, mesh.sandbox_url, "/_sandbox/trades?channel=wechat")
        return any(t["out_trade_no"] == oid and t["paid_at"] for t in trades["trades"])

    await eventually(paid_at_wechat, within=10)
    store = await mesh.store()
    assert await store.get_late_payment(oid) is None  # nobody told paymesh
    deps = await build_deps(mesh.server.context)
    report = await OrderMonitor(deps, pending_after=timedelta(hours=1)).sweep_once()
    assert oid in report.checked
    late = await store.get_late_payment(oid)
    assert late is not None
    assert (late.amount, late.policy) == (1300, "refund")
    assert late.refund_id
    refund = await store.get_refund(late.refund_id)
    assert refund is not None
    assert refund.amount == 1300

    async def refunded() -> bool:
        return await _wechat_refunds(http, mesh, oid) == [1300]

    await eventually(refunded, within=20)
