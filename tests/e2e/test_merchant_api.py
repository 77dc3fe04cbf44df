"""The merchant API over HTTP/JSON through Envoy, against the sandbox."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from paymesh.config import factory as config_factory
from paymesh.config.apps import SignType
from paymesh.dev.seed import DemoApp, seed_app
from paymesh.errors import AppNotFound
from paymesh.merchant.v1 import (
    pay_service_pb2,
    query_service_pb2,
    refund_service_pb2,
    transfer_service_pb2,
)
from tests.e2e.client import Merchant, reason
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import create_qr_order, eventually, out_no, query_order, sandbox

CreateOrder = pay_service_pb2.CreateOrderRequest
CloseOrder = pay_service_pb2.CloseOrderRequest
CreateRefund = refund_service_pb2.CreateRefundRequest
CreateTransfer = transfer_service_pb2.CreateTransferRequest


async def pay(http: aiohttp.ClientSession, mesh: Mesh, order_id: str) -> None:
    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay", {"channel": "wechat", "out_trade_no": order_id}
    )


async def paid_order(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession, amount: int
) -> dict[str, Any]:
    order = await create_qr_order(merchant, amount)
    await pay(http, mesh, order["order_id"])
    order = await query_order(merchant, order["order_id"], sync=True)
    assert order["status"] == "PAID"
    return order


async def channel_calls(mesh: Mesh, object_id: str, rpc: str) -> int:
    store = await mesh.store()
    async with store.engine.connect() as conn:
        result = await conn.execute(
            sa.text("SELECT COUNT(*) FROM channel_requests WHERE object_id = :o AND rpc = :r"),
            {"o": object_id, "r": rpc},
        )
        return int(result.scalar_one())


async def add_app(mesh: Mesh, **kw: Any) -> DemoApp:
    """Seed an app through our own config client; wait until the services have seen it."""
    app = await seed_app(mesh.repo, **kw)
    served = await config_factory.config_repository(mesh.server.context)

    async def seen() -> bool:
        try:
            current = await served.get_app(app.app_id)
        except AppNotFound:
            return False
        return bool(current.enabled == kw.get("enabled", True))

    await eventually(seen)
    return app


# ---------------------------------------------------------------- pay methods


@pytest.mark.parametrize(
    ("method", "extra", "check"),
    [
        ("qr", {}, lambda o: o["pay_data"]["code_url"]),
        ("h5", {"client_ip": "203.0.113.7"}, lambda o: o["pay_data"]["pay_url"]),
        ("app", {}, lambda o: o["pay_data"]["app_params"]["sign"] and o["pay_data"]["prepay_id"]),
        (
            "jsapi",
            {"payer_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            lambda o: (
                o["pay_data"]["app_params"]["paySign"]
                and o["pay_data"]["app_params"]["signType"] == "RSA"
                and o["pay_data"]["app_params"]["package"].startswith("prepay_id=")
            ),
        ),
    ],
)
async def test_every_wechat_method_returns_its_pay_data(
    merchant: Merchant, method: str, extra: dict[str, str], check: Any
) -> None:
    status, body = await merchant.post(
        "/v1/orders",
        {"out_trade_no": out_no(), "amount": 88, "subject": "s", "method": method, **extra},
        CreateOrder,
    )
    assert status == 200, body
    assert body["order"]["status"] == "PENDING"
    assert body["order"]["method"] == method
    assert check(body["order"])


# ---------------------------------------------------------------- idempotency


async def test_retry_returns_the_same_order_without_a_second_channel_call(
    mesh: Mesh, merchant: Merchant
) -> None:
    order = {"out_trade_no": out_no(), "amount": 100, "subject": "s", "method": "qr"}
    s1, b1 = await merchant.post("/v1/orders", order, CreateOrder)
    s2, b2 = await merchant.post("/v1/orders", order, CreateOrder)
    assert (s1, s2) == (200, 200)
    assert b1["order"]["order_id"] == b2["order"]["order_id"]
    assert await channel_calls(mesh, b1["order"]["order_id"], "Pay") == 1

    s3, b3 = await merchant.post("/v1/orders", {**order, "amount": 101}, CreateOrder)
    assert s3 == 409
    assert reason(b3) == "DUPLICATE_OUT_TRADE_NO"


async def test_fifty_concurrent_identical_creates_give_one_order_and_one_channel_call(
    mesh: Mesh, merchant: Merchant
) -> None:
    order = {"out_trade_no": out_no(), "amount": 100, "subject": "s", "method": "qr"}
    results = await asyncio.gather(
        *(merchant.post("/v1/orders", order, CreateOrder) for _ in range(50))
    )
    assert {s for s, _ in results} == {200}
    ids = {b["order"]["order_id"] for _, b in results}
    assert len(ids) == 1
    assert await channel_calls(mesh, ids.pop(), "Pay") == 1


async def test_channel_unavailable_leaves_the_order_pending_and_a_retry_charges_once(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    await sandbox(
        http,
        mesh.sandbox_url,
        "/_sandbox/faults",
        {
            "channel": "wechat",
            "fault": "http_500",
            "path": "/v3/pay/transactions/native",
            "count": 1,
        },
    )
    order = {"out_trade_no": out_no(), "amount": 100, "subject": "s", "method": "qr"}
    status, body = await merchant.post("/v1/orders", order, CreateOrder)
    assert status == 200, body
    assert body["order"]["status"] == "PENDING"
    assert not body["order"].get("pay_data", {}).get("code_url")
    status, again = await merchant.post("/v1/orders", order, CreateOrder)
    assert again["order"]["order_id"] == body["order"]["order_id"]
    assert await channel_calls(mesh, body["order"]["order_id"], "Pay") == 1


async def test_channel_timeout_is_pending_never_failed(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    await sandbox(
        http,
        mesh.sandbox_url,
        "/_sandbox/faults",
        {
            "channel": "wechat",
            "fault": "timeout",
            "seconds": 8,
            "process": True,
            "path": "/v3/pay/transactions/native",
            "count": 1,
        },
    )
    try:
        status, body = await merchant.post(
            "/v1/orders",
            {"out_trade_no": out_no(), "amount": 5, "subject": "s", "method": "qr"},
            CreateOrder,
        )
    finally:
        async with http.delete(f"{mesh.sandbox_url}/_sandbox/faults") as r:
            assert r.status == 200
    assert status == 200, body
    assert body["order"]["status"] == "PENDING"


# ---------------------------------------------------------------- errors


async def test_signature_and_timestamp_errors(mesh: Mesh, merchant: Merchant) -> None:
    order = {"out_trade_no": out_no(), "amount": 1, "subject": "s", "method": "qr"}
    signed = merchant.signed(order, CreateOrder)
    async with merchant.session.post(
        f"{mesh.edge_url}/v1/orders", json={**signed, "amount": 2}
    ) as r:
        assert r.status == 401
        assert reason(await r.json()) == "SIGNATURE_INVALID"
    status, body = await merchant.post(
        "/v1/orders", order, CreateOrder, timestamp=int(time.time()) - 301
    )
    assert status == 401
    assert reason(body) == "TIMESTAMP_EXPIRED"


async def test_app_errors(mesh: Mesh, http: aiohttp.ClientSession) -> None:
    order = {"out_trade_no": out_no(), "amount": 1, "subject": "s", "method": "qr"}
    ghost = Merchant(mesh.edge_url, "no-such-app", "HMAC-SHA256", "0123456789abcdef", http)
    status, body = await ghost.post("/v1/orders", order, CreateOrder)
    assert (status, reason(body)) == (404, "APP_NOT_FOUND")
    off = await add_app(mesh, app_id="disabled-app", enabled=False)
    status, body = await mesh.merchant(http, off).post("/v1/orders", order, CreateOrder)
    assert (status, reason(body)) == (403, "APP_DISABLED")


async def test_validation_and_routing_errors(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    base = {"out_trade_no": out_no(), "amount": 1, "subject": "s", "method": "qr"}
    status, body = await merchant.post("/v1/orders", {**base, "amount": -5}, CreateOrder)
    assert (status, reason(body)) == (400, "INVALID_ARGUMENT")
    wechat_only = await add_app(mesh, app_id="wechat-only", alipay_account=None)
    narrow = mesh.merchant(http, wechat_only)
    status, body = await narrow.post("/v1/orders", {**base, "method": "page"}, CreateOrder)
    assert (status, reason(body)) == (400, "CHANNEL_NOT_ENABLED")
    status, body = await merchant.post("/v1/orders", {**base, "channel": "unionpay"}, CreateOrder)
    assert (status, reason(body)) == (400, "CHANNEL_NOT_ENABLED")
    status, body = await merchant.get(
        "/v1/orders/P000000000000000000001",
        {},
        query_service_pb2.QueryOrderRequest,
        path_params={"order_id": "P000000000000000000001"},
    )
    assert (status, reason(body)) == (404, "ORDER_NOT_FOUND")


async def test_provider_refusal_is_channel_error_with_provider_code(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    # Paid at the provider but the callback was lost: closing it is refused (ORDERPAID).
    order = await create_qr_order(merchant, 60)
    oid = order["order_id"]
    await sandbox(
        http,
        mesh.sandbox_url,
        "/_sandbox/faults",
        {
            "channel": "wechat",
            "fault": "drop_callbacks",
            "out_trade_no": oid,
        },
    )
    await pay(http, mesh, oid)
    status, body = await merchant.post(f"/v1/orders/{oid}:close", {"order_id": oid}, CloseOrder)
    assert status == 400, body
    assert reason(body) == "CHANNEL_ERROR"
    assert body["details"][0]["metadata"]["provider_code"] == "ORDERPAID"
    assert (await query_order(merchant, oid))["status"] == "PENDING"  # never guessed
    assert (await query_order(merchant, oid, sync=True))["status"] == "PAID"


# ---------------------------------------------------------------- close


async def test_close_is_channel_first_and_idempotent(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    order = await create_qr_order(merchant, 70)
    oid = order["order_id"]
    for _ in range(2):
        status, body = await merchant.post(f"/v1/orders/{oid}:close", {"order_id": oid}, CloseOrder)
        assert status == 200, body
        assert body["order"]["status"] == "CLOSED"
    trades = await sandbox(http, mesh.sandbox_url, "/_sandbox/trades?channel=wechat")
    (trade,) = [t for t in trades["trades"] if t["out_trade_no"] == oid]
    assert trade["state"] == "CLOSED"
    events = await (await mesh.store()).list_events(oid)
    assert [e.event_type for e in events] == ["order.closed"]

    paid = await paid_order(mesh, merchant, http, 71)
    status, body = await merchant.post(
        f"/v1/orders/{paid['order_id']}:close", {"order_id": paid["order_id"]}, CloseOrder
    )
    assert (status, reason(body)) == (400, "ORDER_NOT_PAYABLE")


# ---------------------------------------------------------------- refunds


async def test_partial_then_full_refund_then_refund_exceeds_paid(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    order = await paid_order(mesh, merchant, http, 1000)
    oid = order["order_id"]
    r1 = {"order_id": oid, "out_refund_no": out_no("r"), "amount": 300, "reason": "partial"}
    status, body = await merchant.post("/v1/refunds", r1, CreateRefund)
    assert status == 200, body
    first = body["refund"]
    assert first["amount"] == "300"
    assert first["status"] in ("PENDING", "SUCCEEDED")
    status, again = await merchant.post("/v1/refunds", r1, CreateRefund)
    assert again["refund"]["refund_id"] == first["refund_id"]
    status, body = await merchant.post("/v1/refunds", {**r1, "amount": 301}, CreateRefund)
    assert (status, reason(body)) == (409, "DUPLICATE_OUT_REFUND_NO")

    r2 = {"out_trade_no": order["out_trade_no"], "out_refund_no": out_no("r"), "amount": 700}
    status, body = await merchant.post("/v1/refunds", r2, CreateRefund)
    assert status == 200, body
    status, body = await merchant.post(
        "/v1/refunds", {"order_id": oid, "out_refund_no": out_no("r"), "amount": 1}, CreateRefund
    )
    assert (status, reason(body)) == (400, "REFUND_EXCEEDS_PAID")

    async def refund_succeeded() -> bool:
        status, body = await merchant.get(
            "/v1/refunds:lookup",
            {"out_refund_no": r1["out_refund_no"], "sync": "true"},
            query_service_pb2.QueryRefundRequest,
        )
        assert status == 200, body
        return bool(body["refund"]["status"] == "SUCCEEDED")

    await eventually(refund_succeeded)
    order = await query_order(merchant, oid)
    assert order["status"] == "PAID"


async def test_refund_of_an_unpaid_order_is_refused(merchant: Merchant) -> None:
    order = await create_qr_order(merchant, 10)
    status, body = await merchant.post(
        "/v1/refunds",
        {"order_id": order["order_id"], "out_refund_no": out_no("r"), "amount": 10},
        CreateRefund,
    )
    assert (status, reason(body)) == (400, "ORDER_NOT_REFUNDABLE")


async def test_twenty_concurrent_refunds_never_exceed_the_paid_amount(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    order = await paid_order(mesh, merchant, http, 1000)
    oid = order["order_id"]
    results = await asyncio.gather(
        *(
            merchant.post(
                "/v1/refunds",
                {"order_id": oid, "out_refund_no": out_no("r"), "amount": 150},
                CreateRefund,
            )
            for _ in range(20)
        )
    )
    accepted = [b["refund"] for s, b in results if s == 200]
    refused = [b for s, b in results if s != 200]
    assert len(accepted) == 6  # 6 * 150 = 900 <= 1000 < 7 * 150
    assert all(reason(b) == "REFUND_EXCEEDS_PAID" for b in refused)
    assert sum(int(r["amount"]) for r in accepted if r["status"] != "FAILED") <= 1000
    store = await mesh.store()
    row = await store.get_order(oid)
    assert row is not None
    assert row.refunded_amount + row.pending_refund_amount == 900


# ---------------------------------------------------------------- transfers


async def test_transfer_create_query_and_idempotency(mesh: Mesh, merchant: Merchant) -> None:
    t = {
        "out_transfer_no": out_no("x"),
        "amount": 200,
        "payee_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "remark": "bonus",
    }
    status, body = await merchant.post("/v1/transfers", t, CreateTransfer)
    assert status == 200, body
    transfer = body["transfer"]
    assert transfer["status"] in ("PENDING", "SUCCEEDED")
    assert transfer["channel"] == "wechat"
    status, again = await merchant.post("/v1/transfers", t, CreateTransfer)
    assert again["transfer"]["transfer_id"] == transfer["transfer_id"]
    status, body = await merchant.post("/v1/transfers", {**t, "amount": 201}, CreateTransfer)
    assert (status, reason(body)) == (409, "DUPLICATE_OUT_TRANSFER_NO")
    tid = transfer["transfer_id"]

    async def transfer_succeeded() -> bool:
        status, body = await merchant.get(
            f"/v1/transfers/{tid}",
            {"sync": "true"},
            query_service_pb2.QueryTransferRequest,
            path_params={"transfer_id": tid},
        )
        assert status == 200, body
        return bool(body["transfer"]["status"] == "SUCCEEDED")

    await eventually(transfer_succeeded)
    assert await channel_calls(mesh, transfer["transfer_id"], "Transfer") == 1


# ---------------------------------------------------------------- sign types


def _rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.mark.parametrize("sign_type", ["MD5", "RSA2", "HMAC-SHA256"])
async def test_each_sign_type_accepts_good_and_rejects_wrong_or_stale(
    mesh: Mesh, http: aiohttp.ClientSession, sign_type: str
) -> None:
    app_id = f"app-{sign_type.lower().replace('-', '')}"
    if sign_type == "RSA2":
        private, public = _rsa_pair()
        await add_app(mesh, app_id=app_id, sign_type=SignType.RSA2, public_key_pem=public)
        key = private
        wrong = _rsa_pair()[0]
    else:
        app = await add_app(mesh, app_id=app_id, sign_type=SignType(sign_type))
        key, wrong = app.secret, app.secret + "x"
    order = {"out_trade_no": out_no(), "amount": 3, "subject": "签名 test", "method": "qr"}
    good = Merchant(mesh.edge_url, app_id, sign_type, key, http)
    status, body = await good.post("/v1/orders", order, CreateOrder)
    assert status == 200, body
    bad = Merchant(mesh.edge_url, app_id, sign_type, wrong, http)
    status, body = await bad.post("/v1/orders", {**order, "out_trade_no": out_no()}, CreateOrder)
    assert (status, reason(body)) == (401, "SIGNATURE_INVALID")
    status, body = await good.post(
        "/v1/orders",
        {**order, "out_trade_no": out_no()},
        CreateOrder,
        timestamp=int(time.time()) - 400,
    )
    assert (status, reason(body)) == (401, "TIMESTAMP_EXPIRED")


async def test_close_while_the_channel_is_unavailable_is_503_and_changes_nothing(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    order = await create_qr_order(merchant, 72)
    oid = order["order_id"]
    await sandbox(
        http,
        mesh.sandbox_url,
        "/_sandbox/faults",
        {
            "channel": "wechat",
            "fault": "http_500",
            "path": f"/v3/pay/transactions/out-trade-no/{oid}/close",
            "count": 1,
        },
    )
    status, body = await merchant.post(f"/v1/orders/{oid}:close", {"order_id": oid}, CloseOrder)
    assert (status, reason(body)) == (503, "CHANNEL_UNAVAILABLE")
    assert (await query_order(merchant, oid))["status"] == "PENDING"
    assert await (await mesh.store()).list_events(oid) == []


async def test_unknown_refund_and_transfer_are_not_found(merchant: Merchant) -> None:
    status, body = await merchant.get(
        "/v1/refunds:lookup", {"out_refund_no": out_no("r")}, query_service_pb2.QueryRefundRequest
    )
    assert (status, reason(body)) == (404, "REFUND_NOT_FOUND")
    status, body = await merchant.get(
        "/v1/transfers:lookup",
        {"out_transfer_no": out_no("x")},
        query_service_pb2.QueryTransferRequest,
    )
    assert (status, reason(body)) == (404, "TRANSFER_NOT_FOUND")
