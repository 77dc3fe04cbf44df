"""The merchant API's limits and nonce through Envoy, on MariaDB (strict mode) and SQLite.

Each free-text field at its limit is stored intact; one character past it is
INVALID_ARGUMENT naming the field, and nothing is stored.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from paymesh.gateway.validation import MAX_LENGTH, MAX_METADATA_KEY, MAX_METADATA_VALUE
from paymesh.merchant.v1 import (
    pay_service_pb2,
    query_service_pb2,
    refund_service_pb2,
    transfer_service_pb2,
)
from tests.e2e.client import Merchant, reason
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import create_qr_order, out_no, query_order, sandbox

CreateOrder = pay_service_pb2.CreateOrderRequest
CloseOrder = pay_service_pb2.CloseOrderRequest
CreateRefund = refund_service_pb2.CreateRefundRequest
CreateTransfer = transfer_service_pb2.CreateTransferRequest


def text(n: int) -> str:
    return ("支付x" * n)[:n]  # multi-byte characters: limits count characters


def url(n: int) -> str:
    head = "https://shop.example/"
    return head + "u" * (n - len(head))


def merchant_no(n: int) -> str:
    return (out_no() + "-" * n)[:n]


VALUE = {
    "subject": text,
    "description": text,
    "notify_url": url,
    "return_url": url,
    "client_ip": text,
    "payer_id": text,
    "auth_code": text,
    "out_trade_no": merchant_no,
    "reason": text,
    "out_refund_no": merchant_no,
    "payee_id": text,
    "payee_name": text,
    "remark": text,
    "out_transfer_no": merchant_no,
}
ORDER_FIELDS = [
    "subject",
    "description",
    "notify_url",
    "return_url",
    "client_ip",
    "payer_id",
    "out_trade_no",
]


def _expect_invalid(status: int, body: dict[str, Any], field: str) -> None:
    assert (status, reason(body)) == (400, "INVALID_ARGUMENT"), body
    (info,) = [d for d in body["details"] if d["@type"].endswith("ErrorInfo")]
    assert info["metadata"]["field"] == field


@pytest.mark.parametrize("field", ORDER_FIELDS)
async def test_order_fields_at_the_limit_are_stored_and_one_past_is_refused(
    mesh: Mesh, merchant: Merchant, field: str
) -> None:
    store = await mesh.store()
    limit = MAX_LENGTH[field]
    for n, ok in ((limit, True), (limit + 1, False)):
        order: dict[str, Any] = {
            "out_trade_no": out_no(),
            "amount": 1,
            "subject": "limits",
            "method": "qr",
        }
        order[field] = VALUE[field](n)
        status, body = await merchant.post("/v1/orders", order, CreateOrder)
        row = await store.get_order_by_out_trade_no(mesh.app.app_id, order["out_trade_no"])
        if ok:
            assert status == 200, body
            assert row is not None
            assert getattr(row, field) == order[field]
        else:
            _expect_invalid(status, body, field)
            if field != "out_trade_no":
                assert row is None


async def test_metadata_at_its_caps_is_stored_and_past_them_refused(
    mesh: Mesh, merchant: Merchant
) -> None:
    store = await mesh.store()
    full = {f"k{i:02d}" + "m" * (MAX_METADATA_KEY - 3): text(MAX_METADATA_VALUE) for i in range(20)}
    base = {"amount": 1, "subject": "md", "method": "qr"}
    no = out_no()
    status, body = await merchant.post(
        "/v1/orders", {**base, "out_trade_no": no, "metadata": full}, CreateOrder
    )
    assert status == 200, body
    row = await store.get_order_by_out_trade_no(mesh.app.app_id, no)
    assert row is not None
    assert row.meta == full
    too_many = {**full, "extra": "v"}
    too_long = {"k": text(MAX_METADATA_VALUE + 1)}
    for md, field in ((too_many, "metadata"), (too_long, "metadata.k")):
        no = out_no()
        status, body = await merchant.post(
            "/v1/orders", {**base, "out_trade_no": no, "metadata": md}, CreateOrder
        )
        _expect_invalid(status, body, field)
        assert await store.get_order_by_out_trade_no(mesh.app.app_id, no) is None


async def test_refund_fields_at_the_limit_and_one_past(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    store = await mesh.store()
    order = await create_qr_order(merchant, 500)
    await sandbox(
        http,
        mesh.sandbox_url,
        "/_sandbox/pay",
        {"channel": "wechat", "out_trade_no": order["order_id"]},
    )
    assert (await query_order(merchant, order["order_id"], sync=True))["status"] == "PAID"
    for field in ("reason", "notify_url", "out_refund_no"):
        limit = MAX_LENGTH[field]
        for n, ok in ((limit, True), (limit + 1, False)):
            refund: dict[str, Any] = {
                "order_id": order["order_id"],
                "out_refund_no": out_no("r"),
                "amount": 1,
            }
            refund[field] = VALUE[field](n)
            status, body = await merchant.post("/v1/refunds", refund, CreateRefund)
            row = await store.get_refund_by_out_refund_no(mesh.app.app_id, refund["out_refund_no"])
            if ok:
                assert status == 200, body
                assert row is not None
                assert getattr(row, field) == refund[field]
            else:
                _expect_invalid(status, body, field)
                if field != "out_refund_no":
                    assert row is None


@pytest.mark.parametrize("field", ["payee_id", "payee_name", "remark", "notify_url"])
async def test_transfer_fields_at_the_limit_and_one_past(
    mesh: Mesh, merchant: Merchant, field: str
) -> None:
    store = await mesh.store()
    limit = MAX_LENGTH[field]
    for n, ok in ((limit, True), (limit + 1, False)):
        transfer: dict[str, Any] = {
            "out_transfer_no": out_no("x"),
            "amount": 1,
            "payee_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        }
        transfer[field] = VALUE[field](n)
        status, body = await merchant.post("/v1/transfers", transfer, CreateTransfer)
        row = await store.get_transfer_by_out_transfer_no(
            mesh.app.app_id, transfer["out_transfer_no"]
        )
        if ok:
            # The provider may refuse such a payee; the row is stored either way.
            assert status in (200, 400), body
            assert row is not None
            assert getattr(row, field) == transfer[field]
        else:
            _expect_invalid(status, body, field)
            assert row is None


async def test_mutating_request_without_nonce_is_refused_and_changes_nothing(
    mesh: Mesh, merchant: Merchant
) -> None:
    store = await mesh.store()
    no = out_no()
    order = {"out_trade_no": no, "amount": 1, "subject": "s", "method": "qr", "nonce": ""}
    status, body = await merchant.post("/v1/orders", order, CreateOrder)
    _expect_invalid(status, body, "nonce")
    assert await store.get_order_by_out_trade_no(mesh.app.app_id, no) is None


async def test_a_signed_query_url_does_not_authorise_close_order(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    order = await create_qr_order(merchant, 5)
    oid = order["order_id"]
    # What a GET /v1/orders/{id} signs: order_id, app_id, timestamp, sign_type.
    query = merchant.signed({"order_id": oid}, query_service_pb2.QueryOrderRequest)
    async with http.post(f"{mesh.edge_url}/v1/orders/{oid}:close", json=query) as r:
        status, body = r.status, await r.json()
    _expect_invalid(status, body, "nonce")
    assert (await query_order(merchant, oid))["status"] == "PENDING"
    # With the nonce the close signs its own operation and goes through.
    status, body = await merchant.post(f"/v1/orders/{oid}:close", {"order_id": oid}, CloseOrder)
    assert status == 200, body
    assert body["order"]["status"] == "CLOSED"
