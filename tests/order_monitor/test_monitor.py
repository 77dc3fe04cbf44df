"""The order monitor against the real mesh: missed callbacks, expiry, outages, races."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from paymesh.core.channel_client import ChannelClient
from paymesh.core.deps import CoreDeps
from paymesh.merchant.v1 import refund_service_pb2, transfer_service_pb2
from paymesh.order_monitor.monitor import OrderMonitor
from paymesh.runtime.server import start_server
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import create_qr_order, eventually, out_no, sandbox
from tests.order_monitor.conftest import Clock, MonitorFactory

BACKOFF = 10.0  # the monitors' first backoff (their interval)


async def fault(http: aiohttp.ClientSession, mesh: Mesh, **body: Any) -> None:
    await sandbox(http, mesh.sandbox_url, "/_sandbox/faults", {"channel": "wechat", **body})


async def pay(http: aiohttp.ClientSession, mesh: Mesh, order_id: str) -> None:
    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay", {"channel": "wechat", "out_trade_no": order_id}
    )


async def pay_without_callback(http: aiohttp.ClientSession, mesh: Mesh, order_id: str) -> None:
    """The payer pays; the provider's callback is lost (recorded as dropped, never sent)."""
    await fault(http, mesh, fault="drop_callbacks", out_trade_no=order_id, count=1)
    await pay(http, mesh, order_id)
    await wait_dropped(http, mesh, order_id)


async def wait_dropped(http: aiohttp.ClientSession, mesh: Mesh, subject: str) -> None:
    async def dropped() -> bool:
        answer = await sandbox(http, mesh.sandbox_url, f"/_sandbox/callbacks?subject={subject}")
        return any(d["dropped"] for d in answer["callbacks"])

    await eventually(dropped)


async def sandbox_items(http: aiohttp.ClientSession, mesh: Mesh, kind: str) -> list[Any]:
    answer = await sandbox(http, mesh.sandbox_url, "/_sandbox/trades?channel=wechat")
    items: list[Any] = answer[kind]
    return items


async def sandbox_trade(http: aiohttp.ClientSession, mesh: Mesh, order_id: str) -> Any:
    (trade,) = [
        t for t in await sandbox_items(http, mesh, "trades") if t["out_trade_no"] == order_id
    ]
    return trade


async def status_of(mesh: Mesh, order_id: str) -> str:
    order = await (await mesh.store()).get_order(order_id)
    assert order is not None
    return order.status


async def events(mesh: Mesh, aggregate_id: str) -> list[str]:
    return [e.event_type for e in await (await mesh.store()).list_events(aggregate_id)]


async def rpcs(mesh: Mesh, object_id: str) -> list[str]:
    """The channel RPCs made about an object, in order (the channel request log)."""
    store = await mesh.store()
    async with store.engine.connect() as conn:
        result = await conn.execute(
            sa.text(
                "SELECT rpc FROM channel_requests WHERE object_id = :o ORDER BY created_at, id"
            ),
            {"o": object_id},
        )
        return [str(r) for r in result.scalars()]


# ---------------------------------------------------------------- missed callbacks


async def test_missed_callback_is_settled_paid_with_one_event_and_backoff_in_between(
    mesh: Mesh,
    merchant: Merchant,
    http: aiohttp.ClientSession,
    monitor: OrderMonitor,
    clock: Clock,
) -> None:
    oid = (await create_qr_order(merchant, 101))["order_id"]

    report = await monitor.sweep_once()  # unpaid: asked, nothing to apply, backoff starts
    assert oid in report.checked
    assert oid not in report.settled
    assert await status_of(mesh, oid) == "PENDING"

    await pay_without_callback(http, mesh, oid)
    assert await status_of(mesh, oid) == "PENDING"

    report = await monitor.sweep_once()  # still backing off: not asked again yet
    assert oid in report.deferred
    assert oid not in report.checked

    clock.advance(BACKOFF)
    report = await monitor.sweep_once()
    assert report.settled[oid] == "PAID"
    assert await status_of(mesh, oid) == "PAID"
    assert await events(mesh, oid) == ["order.paid"]

    clock.advance(BACKOFF * 4)
    report = await monitor.sweep_once()  # settled: no longer swept
    assert oid not in report.checked
    assert await events(mesh, oid) == ["order.paid"]


async def test_channel_unavailable_leaves_the_order_pending_until_the_next_sweep(
    mesh: Mesh,
    merchant: Merchant,
    http: aiohttp.ClientSession,
    monitor: OrderMonitor,
    clock: Clock,
) -> None:
    oid = (await create_qr_order(merchant, 102))["order_id"]
    other = (await create_qr_order(merchant, 112))["order_id"]
    await pay_without_callback(http, mesh, oid)
    await pay_without_callback(http, mesh, other)
    await fault(
        http,
        mesh,
        fault="http_500",
        path=f"/v3/pay/transactions/out-trade-no/{oid}",
        method="GET",
        count=1,
    )

    report = await monitor.sweep_once()
    assert oid in report.failed
    assert oid not in report.settled
    assert await status_of(mesh, oid) == "PENDING"
    assert await events(mesh, oid) == []
    assert report.settled[other] == "PAID"  # one record's failure does not hold up others

    clock.advance(BACKOFF)
    report = await monitor.sweep_once()
    assert report.settled[oid] == "PAID"
    assert await events(mesh, oid) == ["order.paid"]


# ---------------------------------------------------------------- expiry


async def test_expired_unpaid_order_is_closed_at_the_channel_first(
    mesh: Mesh,
    merchant: Merchant,
    http: aiohttp.ClientSession,
    monitor: OrderMonitor,
    clock: Clock,
) -> None:
    oid = (await create_qr_order(merchant, 103, expire_seconds=60))["order_id"]
    clock.advance(120)  # past expiry
    sweeps = REGISTRY.get_sample_value("paymesh_monitor_sweeps_total", {"result": "ok"}) or 0
    settled = REGISTRY.get_sample_value("paymesh_monitor_settled_total", {"kind": "order"}) or 0

    report = await monitor.sweep_once()
    assert report.settled[oid] == "CLOSED"
    assert REGISTRY.get_sample_value("paymesh_monitor_sweeps_total", {"result": "ok"}) == sweeps + 1
    assert REGISTRY.get_sample_value("paymesh_monitor_settled_total", {"kind": "order"}) == (
        settled + 1
    )
    # It was overdue (PENDING past its expiry) when the sweep found it.
    assert (
        REGISTRY.get_sample_value("paymesh_monitor_overdue_records", {"kind": "order"}) or 0
    ) >= 1
    assert await status_of(mesh, oid) == "CLOSED"
    assert (await sandbox_trade(http, mesh, oid))["state"] == "CLOSED"
    assert await events(mesh, oid) == ["order.closed"]
    assert await rpcs(mesh, oid) == ["Pay", "Query", "Close"]

    clock.advance(BACKOFF * 4)
    await monitor.sweep_once()
    assert await events(mesh, oid) == ["order.closed"]


async def test_expired_but_paid_order_is_settled_paid_not_closed(
    mesh: Mesh,
    merchant: Merchant,
    http: aiohttp.ClientSession,
    monitor: OrderMonitor,
    clock: Clock,
) -> None:
    oid = (await create_qr_order(merchant, 104, expire_seconds=60))["order_id"]
    await pay_without_callback(http, mesh, oid)
    clock.advance(120)

    report = await monitor.sweep_once()
    assert report.settled[oid] == "PAID"
    assert await events(mesh, oid) == ["order.paid"]
    assert "Close" not in await rpcs(mesh, oid)
    assert (await sandbox_trade(http, mesh, oid))["state"] == "SUCCESS"


async def test_close_unavailable_leaves_the_expired_order_pending_then_closes(
    mesh: Mesh,
    merchant: Merchant,
    http: aiohttp.ClientSession,
    monitor: OrderMonitor,
    clock: Clock,
) -> None:
    oid = (await create_qr_order(merchant, 105, expire_seconds=60))["order_id"]
    await fault(http, mesh, fault="http_500", path=f"/v3/pay/transactions/out-trade-no/{oid}/close")
    clock.advance(120)

    report = await monitor.sweep_once()
    assert oid in report.failed
    assert await status_of(mesh, oid) == "PENDING"
    assert (await sandbox_trade(http, mesh, oid))["state"] == "NOTPAY"
    assert await events(mesh, oid) == []

    clock.advance(BACKOFF)
    report = await monitor.sweep_once()
    assert report.settled[oid] == "CLOSED"
    assert (await sandbox_trade(http, mesh, oid))["state"] == "CLOSED"
    assert await events(mesh, oid) == ["order.closed"]


class PaidBeforeClose(ChannelClient):
    """The payer pays (callback lost) between the monitor's query and its close."""

    def __init__(self, deps: CoreDeps, mesh: Mesh, http: aiohttp.ClientSession) -> None:
        super().__init__(mesh.server.context, deps.store)
        self.mesh, self.http = mesh, http

    async def call(self, rpc: str, request: Any, *, kind: str, object_id: str) -> Any:
        if rpc == "Close":
            await pay_without_callback(self.http, self.mesh, object_id)
        return await super().call(rpc, request, kind=kind, object_id=object_id)


async def test_close_refused_because_paid_meanwhile_is_queried_again_never_closed(
    mesh: Mesh,
    merchant: Merchant,
    http: aiohttp.ClientSession,
    deps: CoreDeps,
    make_monitor: MonitorFactory,
    clock: Clock,
) -> None:
    oid = (await create_qr_order(merchant, 106, expire_seconds=60))["order_id"]
    racing = make_monitor(dataclasses.replace(deps, channels=PaidBeforeClose(deps, mesh, http)))
    clock.advance(120)

    report = await racing.sweep_once()  # Query: NOTPAY; payer pays; Close: ORDERPAID
    assert oid in report.failed
    assert await status_of(mesh, oid) == "PENDING"
    assert await events(mesh, oid) == []

    clock.advance(BACKOFF)
    report = await racing.sweep_once()
    assert report.settled[oid] == "PAID"
    assert await events(mesh, oid) == ["order.paid"]
    assert await rpcs(mesh, oid) == ["Pay", "Query", "Close", "Query"]


# ---------------------------------------------------------------- races


async def test_monitors_racing_the_callback_give_one_event(
    mesh: Mesh,
    merchant: Merchant,
    http: aiohttp.ClientSession,
    deps: CoreDeps,
    make_monitor: MonitorFactory,
) -> None:
    oid = (await create_qr_order(merchant, 107))["order_id"]
    await fault(http, mesh, fault="duplicate_callbacks", times=3, out_trade_no=oid, count=1)
    a, b = make_monitor(deps), make_monitor(deps)  # two replicas
    await pay(http, mesh, oid)  # the callbacks are on their way
    reports = await asyncio.gather(a.sweep_once(), b.sweep_once())

    async def callbacks_answered() -> bool:
        answer = await sandbox(http, mesh.sandbox_url, f"/_sandbox/callbacks?subject={oid}")
        ds = answer["callbacks"]
        return len(ds) == 3 and all(d["attempts"] for d in ds)

    await eventually(callbacks_answered)
    assert await status_of(mesh, oid) == "PAID"
    assert await events(mesh, oid) == ["order.paid"]
    assert sum(oid in r.settled for r in reports) <= 1


# ---------------------------------------------------------------- refunds and transfers


async def test_pending_refund_is_settled_by_the_monitor(
    mesh: Mesh,
    merchant: Merchant,
    http: aiohttp.ClientSession,
    monitor: OrderMonitor,
    clock: Clock,
) -> None:
    oid = (await create_qr_order(merchant, 500))["order_id"]
    await pay_without_callback(http, mesh, oid)
    assert (await monitor.sweep_once()).settled[oid] == "PAID"

    # The refund's callback (filtered by the refunded order) will be lost.
    await fault(http, mesh, fault="drop_callbacks", out_trade_no=oid, count=1)
    status, body = await merchant.post(
        "/v1/refunds",
        {"order_id": oid, "out_refund_no": out_no("r"), "amount": 200},
        refund_service_pb2.CreateRefundRequest,
    )
    assert status == 200, body
    rid = body["refund"]["refund_id"]
    assert body["refund"]["status"] == "PENDING"  # the provider is still processing it

    async def done_at_provider() -> bool:
        refunds = await sandbox_items(http, mesh, "refunds")
        return any(r["out_refund_no"] == rid and r["status"] == "SUCCEEDED" for r in refunds)

    await eventually(done_at_provider)
    await wait_dropped(http, mesh, rid)
    store = await mesh.store()
    refund = await store.get_refund(rid)
    assert refund is not None
    assert refund.status == "PENDING"

    clock.advance(BACKOFF)
    report = await monitor.sweep_once()
    assert report.settled[rid] == "SUCCEEDED"
    assert await events(mesh, rid) == ["refund.succeeded"]
    order = await store.get_order(oid)
    assert order is not None
    assert (order.refunded_amount, order.pending_refund_amount) == (200, 0)


async def test_pending_transfer_is_settled_by_the_monitor(
    mesh: Mesh,
    merchant: Merchant,
    http: aiohttp.ClientSession,
    monitor: OrderMonitor,
    clock: Clock,
) -> None:
    status, body = await merchant.post(
        "/v1/transfers",
        {
            "out_transfer_no": out_no("x"),
            "amount": 300,
            "payee_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            "remark": "bonus",
        },
        transfer_service_pb2.CreateTransferRequest,
    )
    assert status == 200, body
    tid = body["transfer"]["transfer_id"]
    assert body["transfer"]["status"] == "PENDING"  # the provider finishes it in a second
    await fault(http, mesh, fault="drop_callbacks", out_trade_no=tid, count=1)
    await wait_dropped(http, mesh, tid)
    store = await mesh.store()
    transfer = await store.get_transfer(tid)
    assert transfer is not None
    assert transfer.status == "PENDING"

    clock.advance(BACKOFF)
    report = await monitor.sweep_once()
    assert report.settled[tid] == "SUCCEEDED"
    assert await events(mesh, tid) == ["transfer.succeeded"]


# ---------------------------------------------------------------- the service


async def test_monitor_service_settles_in_the_background_and_stops_with_the_process(
    mesh: Mesh,
    merchant: Merchant,
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    oid = (await create_qr_order(merchant, 108))["order_id"]
    await pay_without_callback(http, mesh, oid)
    monkeypatch.setenv("PAYMESH_MONITOR_PENDING_AFTER", "0")
    monkeypatch.setenv("PAYMESH_MONITOR_INTERVAL", "0.2")
    settings = mesh.server.context.settings.model_copy(update={"listen": "127.0.0.1:0"})
    running = await start_server(["monitor"], settings)
    try:
        assert running.grpc_services == ["paymesh.merchant.v1.InfoService"]  # none of its own

        async def paid() -> bool:
            return await status_of(mesh, oid) == "PAID"

        await eventually(paid)
    finally:
        await running.drain(1)
    assert await events(mesh, oid) == ["order.paid"]
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "order-monitor"]
