"""The whole merchant flow for UnionPay (ACP 5.1.0) through Envoy: create (app tn, page and
h5 forms), pay at the sandbox, backUrl notify through /v1/callbacks/unionpay/..., merchant
notification, refund settled by UnionPay's refund notify, a forged notify refused."""

from __future__ import annotations

from typing import Any

import aiohttp

from paymesh.config import factory as config_factory
from paymesh.config.apps import RouteTarget
from paymesh.dev.seed import UNIONPAY_ACCOUNT, DemoApp
from paymesh.errors import AppNotFound
from paymesh.merchant.v1 import (
    pay_service_pb2,
    query_service_pb2,
    refund_service_pb2,
    transfer_service_pb2,
)
from tests.e2e.client import Merchant, reason
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import eventually, out_no, query_order, sandbox


async def _order(merchant: Merchant, method: str, amount: int, **extra: str) -> dict[str, str]:
    status, body = await merchant.post(
        "/v1/orders",
        {
            "out_trade_no": out_no(),
            "amount": amount,
            "subject": "银联 test",
            "method": method,
            "channel": "unionpay",
            **extra,
        },
        pay_service_pb2.CreateOrderRequest,
    )
    assert status == 200, body
    order: dict[str, str] = body["order"]
    assert order["channel"] == "unionpay"
    assert order["status"] == "PENDING"
    return order


async def test_unionpay_app_order_paid_notified_and_refunded(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    order = await _order(merchant, "app", 2500, notify_url=mesh.notify_url)
    assert order["pay_data"]["app_params"]["tn"].isdigit()  # type: ignore[index]
    oid = order["order_id"]

    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay", {"channel": "unionpay", "out_trade_no": oid}
    )

    async def paid() -> bool:
        return bool((await query_order(merchant, oid))["status"] == "PAID")

    await eventually(paid)

    async def delivered() -> list[dict[str, Any]]:
        answer = await sandbox(http, mesh.sandbox_url, "/_sandbox/callbacks")
        return [
            d
            for d in answer["callbacks"]
            if d["channel"] == "unionpay" and d["subject"] == oid and d["delivered"]
        ]

    # The order is PAID when the callback's transition commits; the sandbox records the
    # delivery when the answer reaches it, a moment later.
    async def any_delivered() -> bool:
        return bool(await delivered())

    await eventually(any_delivered)
    (notify,) = await delivered()
    assert notify["delivered"]
    assert "/v1/callbacks/unionpay/" in notify["url"]
    assert notify["attempts"][-1]["status"] == 200

    async def merchant_notified() -> bool:
        return any(r.body.get("order_id") == oid for r in mesh.demo_merchant.received)

    await eventually(merchant_notified, within=20)

    refund_no = out_no("r")
    status, body = await merchant.post(
        "/v1/refunds",
        {"order_id": oid, "out_refund_no": refund_no, "amount": 1000},
        refund_service_pb2.CreateRefundRequest,
    )
    assert status == 200, body
    assert body["refund"]["status"] == "PENDING"  # UnionPay accepted it (respCode 00)

    async def refunded() -> bool:  # settled by UnionPay's refund notify (txnType 04)
        status, body = await merchant.get(
            "/v1/refunds:lookup", {"out_refund_no": refund_no},
            query_service_pb2.QueryRefundRequest,
        )  # fmt: skip
        assert status == 200, body
        return bool(body["refund"]["status"] == "SUCCEEDED")

    await eventually(refunded)


async def test_unionpay_page_and_h5_are_signed_forms_for_the_payer(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    for method, channel_type in (("page", "07"), ("h5", "08")):
        order = await _order(merchant, f"{method}", 100, return_url="https://shop.example/done")
        form = order["pay_data"]["form_html"]  # type: ignore[index]
        assert f"{mesh.sandbox_url}/gateway/api/frontTransReq.do" in form
        assert f'name="channelType" value="{channel_type}"' in form
        assert 'name="signature"' in form
        # the order is still PENDING at UnionPay's side: nothing submitted yet (respCode 34)
        synced = await query_order(merchant, order["order_id"], sync=True)
        assert synced["status"] == "PENDING"


async def test_unionpay_forged_notify_changes_nothing(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    order = await _order(merchant, "app", 700)
    oid = order["order_id"]
    probe = {"channel": "unionpay", "fault": "probe_callback", "out_trade_no": oid,
             "merchant_id": "777290058110048"}  # fmt: skip
    (delivery,) = (await sandbox(http, mesh.sandbox_url, "/_sandbox/faults", probe))["deliveries"]
    assert delivery["attempts"][-1]["status"] != 200
    assert (await query_order(merchant, oid))["status"] == "PENDING"


async def test_unionpay_transfer_reaches_the_channel_and_fails_not_enabled(
    mesh: Mesh, http: aiohttp.ClientSession
) -> None:
    """An app whose transfer route names a UnionPay account: the channel answers
    UNIMPLEMENTED, the merchant sees CHANNEL_NOT_ENABLED and the transfer ends FAILED."""
    demo = await mesh.repo.get_app(mesh.app.app_id)
    target = RouteTarget(channel="unionpay", account_id=UNIONPAY_ACCOUNT)
    payouts = demo.model_copy(
        update={"app_id": "up-payouts", "routes": {**demo.routes, "transfer": target}}
    )
    await mesh.repo.put_app(payouts)
    served = await config_factory.config_repository(mesh.server.context)

    async def seen() -> bool:
        try:
            app = await served.get_app("up-payouts")
        except AppNotFound:
            return False
        return app.routes.get("transfer") == target

    await eventually(seen)
    merchant = mesh.merchant(http, DemoApp("up-payouts", mesh.app.sign_type, mesh.app.secret))
    out_transfer_no = out_no("t")
    status, body = await merchant.post(
        "/v1/transfers",
        {"out_transfer_no": out_transfer_no, "amount": 100, "payee_id": "6216261000000000018"},
        transfer_service_pb2.CreateTransferRequest,
    )
    assert (status, reason(body)) == (400, "CHANNEL_NOT_ENABLED"), body
    assert "no transfers" in body["message"]
    status, body = await merchant.get(
        "/v1/transfers:lookup", {"out_transfer_no": out_transfer_no},
        query_service_pb2.QueryTransferRequest,
    )  # fmt: skip
    assert status == 200, body
    assert body["transfer"]["status"] == "FAILED"


async def test_unionpay_transfer_is_channel_not_enabled(mesh: Mesh, merchant: Merchant) -> None:
    status, body = await merchant.post(
        "/v1/transfers",
        {"out_transfer_no": out_no("t"), "amount": 100, "payee_id": "x", "channel": "unionpay"},
        transfer_service_pb2.CreateTransferRequest,
    )
    assert (status, reason(body)) == (400, "CHANNEL_NOT_ENABLED")
