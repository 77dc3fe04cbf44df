"""A certificate-mode Alipay account follows an Alipay certificate rotation, through Envoy
(issue #9). Alipay re-issues its public-key certificate and signs answers under the new one,
naming it in `alipay_cert_sn`; the channel downloads it (alipay.open.app.alipaycert.download),
checks it chains to the account's configured Alipay root, caches it and verifies with it, as
alipay-sdk-java's AbstractAlipayClient.checkResponseCertSign does. The sandbox's
`rotate_cert` fault rotates one app's certificate (`foreign_root`: a certificate of another
root with the same name, which must be refused: every outcome then stays unclear)."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
from pydantic import SecretStr

from paymesh.channels.alipay.config import AlipayAccount
from paymesh.channels.alipay.sign import private_key_pem, public_key_pem
from paymesh.config import factory as config_factory
from paymesh.config.apps import RouteTarget
from paymesh.dev.seed import DemoApp, seed_app
from paymesh.errors import AppNotFound, ConfigNotFound
from paymesh.merchant.v1 import pay_service_pb2, query_service_pb2, refund_service_pb2
from tests.channels.alipay.fakes import new_rsa_key
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import eventually, out_no, query_order, sandbox

CreateOrder = pay_service_pb2.CreateOrderRequest
CreateRefund = refund_service_pb2.CreateRefundRequest
LookupRefund = query_service_pb2.QueryRefundRequest


async def _cert_mode_app(mesh: Mesh, http: aiohttp.ClientSession) -> tuple[Merchant, str]:
    """A merchant app routed to a certificate-mode Alipay account of its own."""
    key = new_rsa_key()
    alipay_app_id = f"2021{uuid.uuid4().int % 10**12:012d}"
    reg = await sandbox(
        http,
        mesh.sandbox_url,
        "/_sandbox/merchants",
        {
            "channel": "alipay",
            "merchant_id": alipay_app_id,
            "public_key_pem": public_key_pem(key),
            "key_mode": "certificate",
        },
    )
    account = AlipayAccount(
        account_id=f"ali-cert-{uuid.uuid4().hex[:8]}",
        base_url=mesh.sandbox_url + reg["gateway_path"],
        app_id=alipay_app_id,
        seller_id=reg["seller_id"],
        private_key_pem=SecretStr(private_key_pem(key)),
        mode="certificate",
        app_cert_pem=reg["app_cert_pem"],
        alipay_public_cert_pem=reg["alipay_public_cert_pem"],
        alipay_root_cert_pem=reg["alipay_root_cert_pem"],
    )
    await mesh.repo.put_channel_account(account)
    app_id = f"certrot-{uuid.uuid4().hex[:8]}"
    demo: DemoApp = await seed_app(
        mesh.repo, app_id=app_id, secret=f"{app_id}-0123456789abcdef0123456789abcdef",
        notify_url=mesh.notify_url, alipay_account=account.account_id,
    )  # fmt: skip
    served = await config_factory.config_repository(mesh.server.context)

    async def seen() -> bool:
        try:
            await served.get_channel_account("alipay", account.account_id)
            return RouteTarget(channel="alipay", account_id=account.account_id) in (
                (await served.get_app(app_id)).routes.values()
            )
        except (AppNotFound, ConfigNotFound):
            return False

    await eventually(seen)
    return mesh.merchant(http, demo), alipay_app_id


async def _rotate(
    mesh: Mesh, http: aiohttp.ClientSession, alipay_app_id: str, **flags: bool
) -> str:
    body = {"channel": "alipay", "fault": "rotate_cert", "merchant_id": alipay_app_id, **flags}
    answer = await sandbox(http, mesh.sandbox_url, "/_sandbox/faults", body)
    return str(answer["fault"]["id"])


async def _downloads(mesh: Mesh, http: aiohttp.ClientSession, fault_id: str) -> int:
    faults = await sandbox(http, mesh.sandbox_url, "/_sandbox/faults?channel=alipay")
    (fault,) = [f for f in faults["faults"] if f["id"] == fault_id]
    return int(fault["extra"]["downloads"])


async def _clear(mesh: Mesh, http: aiohttp.ClientSession) -> None:
    async with http.delete(f"{mesh.sandbox_url}/_sandbox/faults?channel=alipay") as r:
        assert r.status == 200


async def _qr(merchant: Merchant, amount: int) -> tuple[int, dict[str, Any]]:
    body = {"out_trade_no": out_no(), "amount": amount, "subject": "s", "method": "qr",
            "channel": "alipay"}  # fmt: skip
    return await merchant.post("/v1/orders", body, CreateOrder)


async def _refund(merchant: Merchant, oid: str, amount: int) -> tuple[str, dict[str, Any]]:
    no = out_no("r")
    status, body = await merchant.post(
        "/v1/refunds", {"order_id": oid, "out_refund_no": no, "amount": amount}, CreateRefund
    )
    assert status == 200, body
    return no, body["refund"]


async def _refund_status(merchant: Merchant, no: str) -> str:
    status, body = await merchant.get(
        "/v1/refunds:lookup", {"out_refund_no": no, "sync": "true"}, LookupRefund
    )
    assert status == 200, body
    return str(body["refund"]["status"])


async def _pay_at_alipay(mesh: Mesh, http: aiohttp.ClientSession, oid: str, app: str) -> None:
    body = {"channel": "alipay", "out_trade_no": oid, "merchant_id": app}
    await sandbox(http, mesh.sandbox_url, "/_sandbox/pay", body)


async def test_cert_mode_payments_and_refunds_settle_after_an_alipay_cert_rotation(
    mesh: Mesh, http: aiohttp.ClientSession
) -> None:
    merchant, alipay_app_id = await _cert_mode_app(mesh, http)
    fault_id = await _rotate(mesh, http, alipay_app_id)
    try:
        status, body = await _qr(merchant, 1200)
        assert status == 200, body
        order = body["order"]
        assert order["status"] == "PENDING"
        assert order["pay_data"]["code_url"]  # the precreate answer verified (new cert)
        oid = order["order_id"]
        assert await _downloads(mesh, http, fault_id) == 1

        # the payment notify (signed with the new key) settles the order
        await _pay_at_alipay(mesh, http, oid, alipay_app_id)

        async def paid() -> bool:
            return bool((await query_order(merchant, oid))["status"] == "PAID")

        await eventually(paid)
        assert (await query_order(merchant, oid, sync=True))["status"] == "PAID"

        no, refund = await _refund(merchant, oid, 200)
        assert refund["status"] in ("PENDING", "SUCCEEDED")

        async def refunded() -> bool:
            return await _refund_status(merchant, no) == "SUCCEEDED"

        await eventually(refunded)
        assert (await query_order(merchant, oid))["refunded_amount"] in (200, "200")
        assert await _downloads(mesh, http, fault_id) == 1  # one download, then cached
    finally:
        await _clear(mesh, http)


async def test_a_rotated_cert_that_does_not_chain_changes_no_money_state(
    mesh: Mesh, http: aiohttp.ClientSession
) -> None:
    merchant, alipay_app_id = await _cert_mode_app(mesh, http)
    status, body = await _qr(merchant, 900)
    assert status == 200, body
    paid_id = body["order"]["order_id"]
    await _pay_at_alipay(mesh, http, paid_id, alipay_app_id)

    async def paid() -> bool:
        return bool((await query_order(merchant, paid_id))["status"] == "PAID")

    await eventually(paid)
    fault_id = await _rotate(mesh, http, alipay_app_id, foreign_root=True)
    try:
        # a new order: the precreate answer cannot be verified, so no pay data, PENDING
        status, body = await _qr(merchant, 300)
        assert status == 200, body
        assert body["order"]["status"] == "PENDING"
        assert not body["order"].get("pay_data", {}).get("code_url")
        assert await _downloads(mesh, http, fault_id) == 1  # asked once, refused

        # a refund: Alipay did refund, but its answer and its notify are unverifiable
        no, refund = await _refund(merchant, paid_id, 400)
        assert refund["status"] == "PENDING"
        assert await _refund_status(merchant, no) == "PENDING"
        order = await query_order(merchant, paid_id)
        assert order["status"] == "PAID"
        assert order.get("refunded_amount") in (None, 0, "0")
    finally:
        await _clear(mesh, http)

    # Alipay signs under the configured certificate again: the refund settles
    async def refunded() -> bool:
        return await _refund_status(merchant, no) == "SUCCEEDED"

    await eventually(refunded)
    assert (await query_order(merchant, paid_id))["refunded_amount"] in (400, "400")
