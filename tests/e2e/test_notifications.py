"""Merchant notifications end to end: callback -> outbox -> relay -> bus -> notifier -> merchant."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from paymesh.config import factory as config_factory
from paymesh.config.apps import SignType
from paymesh.core.deps import build_core_deps
from paymesh.core.signing import canonical_from_mapping, verify
from paymesh.dev.seed import seed_app
from paymesh.errors import AppNotFound
from paymesh.events.v1.events_pb2 import Notification
from paymesh.ops.v1 import notify_admin_service_pb2 as admin_pb
from paymesh.ops.v1 import notify_admin_service_pb2_grpc as admin_grpc
from paymesh.order_monitor.monitor import OrderMonitor
from paymesh.runtime.status import error_info
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import create_qr_order, eventually, sandbox


def received(mesh: Mesh, order_id: str) -> list[dict[str, Any]]:
    return [r.body for r in mesh.demo_merchant.received if r.body.get("order_id") == order_id]


async def _paid_and_notified(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession, **fault: Any
) -> str:
    order = await create_qr_order(
        merchant, 1234, notify_url=mesh.notify_url, metadata={"cart": "42"}
    )
    oid = str(order["order_id"])
    if fault:
        await sandbox(
            http,
            mesh.sandbox_url,
            "/_sandbox/faults",
            {"channel": "wechat", "out_trade_no": oid, **fault},
        )
    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay", {"channel": "wechat", "out_trade_no": oid}
    )

    async def notified() -> bool:
        return bool(received(mesh, oid))

    await eventually(notified, within=20)
    await asyncio.sleep(1.0)  # room for a duplicate to show up, if the pipeline made one
    return oid


async def test_a_paid_order_is_notified_exactly_once_signed(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    oid = await _paid_and_notified(mesh, merchant, http)
    (body,) = received(mesh, oid)
    assert body["event_type"] == "order.paid"
    assert body["status"] == "PAID"
    assert body["amount"] in (1234, "1234")
    assert body["metadata"] == {"cart": "42"}
    assert body["sign_type"] == mesh.app.sign_type
    (rec,) = [r for r in mesh.demo_merchant.received if r.body.get("order_id") == oid]
    assert rec.verified  # the demo merchant checked the signature with the app secret


async def test_five_concurrent_callbacks_still_notify_once(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    oid = await _paid_and_notified(mesh, merchant, http, fault="duplicate_callbacks", times=5)
    assert [b["event_type"] for b in received(mesh, oid)] == ["order.paid"]


async def test_nats_down_during_payment_is_delivered_after_restart(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession, nats_server: Any
) -> None:
    if mesh.backend != "mariadb+etcd":
        return  # the embedded column has no NATS to stop; its bus is in-process
    order = await create_qr_order(merchant, 55, notify_url=mesh.notify_url)
    oid = str(order["order_id"])
    nats_server.stop()
    try:
        await sandbox(
            http, mesh.sandbox_url, "/_sandbox/pay", {"channel": "wechat", "out_trade_no": oid}
        )

        async def paid_in_db() -> bool:
            row = await (await mesh.store()).get_order(oid)
            return row is not None and row.status == "PAID"

        await eventually(paid_in_db)  # the commit does not wait for NATS
        await asyncio.sleep(1.0)
        assert received(mesh, oid) == []
    finally:
        nats_server.start()

    async def notified() -> bool:
        return bool(received(mesh, oid))

    await eventually(notified, within=30)
    await asyncio.sleep(1.0)
    assert [b["event_type"] for b in received(mesh, oid)] == ["order.paid"]


async def test_operator_resend_over_grpc(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    oid = await _paid_and_notified(mesh, merchant, http)
    (first,) = received(mesh, oid)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.server.port}") as channel:
        admin = admin_grpc.NotifyAdminServiceStub(channel)
        resp = await admin.ResendEvent(admin_pb.ResendEventRequest(event_id=first["event_id"]))
        assert resp.message_id.startswith(first["event_id"])

        async def twice() -> bool:
            return len(received(mesh, oid)) == 2

        await eventually(twice, within=20)
        again = received(mesh, oid)[1]
        assert again["event_id"] == first["event_id"]  # same event, so the merchant can dedupe

        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await admin.ResendEvent(admin_pb.ResendEventRequest(event_id="E404"))
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND
        info = error_info(exc.value)
        assert info is not None
        assert info.reason == "EVENT_NOT_FOUND"

        failed = await admin.ResendFailedEvents(
            admin_pb.ResendFailedEventsRequest(app_id=mesh.app.app_id)
        )
        assert list(failed.event_ids) == []  # every event of the demo app was delivered


async def test_expired_order_closed_by_the_monitor_is_notified_as_closed(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    order = await create_qr_order(merchant, 66, notify_url=mesh.notify_url, expire_seconds=60)
    oid = str(order["order_id"])
    deps = await build_core_deps(mesh.server.context)
    later = datetime.now(UTC) + timedelta(minutes=5)  # past the order's expiry
    monitor = OrderMonitor(deps, pending_after=timedelta(0), clock=lambda: later)
    await monitor.sweep_once()

    async def notified() -> bool:
        return bool(received(mesh, oid))

    await eventually(notified, within=20)
    (body,) = received(mesh, oid)
    assert body["event_type"] == "order.closed"
    assert body["status"] == "CLOSED"


async def test_rsa2_app_notifications_are_signed_with_paymesh_key(
    mesh: Mesh, http: aiohttp.ClientSession
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    await seed_app(mesh.repo, app_id="rsa2-notify", sign_type=SignType.RSA2, public_key_pem=public)
    served = await config_factory.config_repository(mesh.server.context)

    async def app_seen() -> bool:
        try:
            await served.get_app("rsa2-notify")
        except AppNotFound:
            return False
        return True

    await eventually(app_seen)
    rsa_merchant = Merchant(mesh.edge_url, "rsa2-notify", "RSA2", private, http)
    oid = await _paid_and_notified(mesh, rsa_merchant, http)
    body = received(mesh, oid)[0]
    assert body["sign_type"] == "RSA2"
    canonical = canonical_from_mapping(body, Notification)
    assert verify(canonical, "RSA2", body["sign"], mesh.notify_public_key_pem)
    assert not verify(canonical, "RSA2", body["sign"], public)  # not the merchant's own key
