"""Unclear refund and transfer outcomes never become failures (issue 9 item 3, the merchant API contract).

Through Envoy against the sandbox, with the monitor on the mesh: WeChat ABNORMAL keeps the
refund PENDING with its money reserved until it completes (no second refund can double
it); a code-less 408 from an intermediary is not a refusal; a refund or transfer the
provider never received is resubmitted with the same merchant number, once per "not
found", within a budget, each resubmission recorded.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from paymesh.merchant.v1 import query_service_pb2, refund_service_pb2, transfer_service_pb2
from paymesh.order_monitor.monitor import OrderMonitor
from tests.e2e.client import Merchant, reason
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import create_qr_order, eventually, out_no, query_order
from tests.order_monitor.conftest import Clock, MonitorFactory
from tests.order_monitor.test_monitor import BACKOFF, fault, pay, rpcs, sandbox_items

CreateRefund = refund_service_pb2.CreateRefundRequest
CreateTransfer = transfer_service_pb2.CreateTransferRequest
REFUNDS = "/v3/refund/domestic/refunds"
BILLS = "/v3/fund-app/mch-transfer/transfer-bills"


async def paid_order(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession, amount: int
) -> dict[str, Any]:
    order = await create_qr_order(merchant, amount)
    await pay(http, mesh, order["order_id"])
    order = await query_order(merchant, order["order_id"], sync=True)
    assert order["status"] == "PAID"
    return order


async def refund(merchant: Merchant, order_id: str, amount: int) -> tuple[int, dict[str, Any]]:
    body = {"order_id": order_id, "out_refund_no": out_no("r"), "amount": amount}
    return await merchant.post("/v1/refunds", body, CreateRefund)


async def get_refund(merchant: Merchant, refund_id: str) -> dict[str, Any]:
    status, body = await merchant.get(
        f"/v1/refunds/{refund_id}",
        {},
        query_service_pb2.QueryRefundRequest,
        path_params={"refund_id": refund_id},
    )
    assert status == 200, body
    found: dict[str, Any] = body["refund"]
    return found


async def sandbox_refunds(http: aiohttp.ClientSession, mesh: Mesh, order_id: str) -> list[Any]:
    return [r for r in await sandbox_items(http, mesh, "refunds") if r["out_trade_no"] == order_id]


async def sandbox_refunded(http: aiohttp.ClientSession, mesh: Mesh, order_id: str) -> int:
    (trade,) = [
        t for t in await sandbox_items(http, mesh, "trades") if t["out_trade_no"] == order_id
    ]
    return int(trade["refunded_amount"])


async def test_abnormal_refund_stays_reserved_and_completes_without_a_double_refund(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    order = await paid_order(mesh, merchant, http, 1000)
    oid = order["order_id"]
    # WeChat answers ABNORMAL (user's card frozen); the merchant sorts it out, it succeeds.
    await fault(http, mesh, fault="fail_refunds", out_trade_no=oid, succeed_after=4.0)
    status, body = await refund(merchant, oid, 1000)
    assert status == 200, body
    first = body["refund"]

    async def abnormal() -> bool:
        r = await get_refund(merchant, first["refund_id"])
        return bool(r.get("channel_state") == "ABNORMAL")

    await eventually(abnormal)  # REFUND.ABNORMAL callback: PENDING, not FAILED
    assert (await get_refund(merchant, first["refund_id"]))["status"] == "PENDING"
    # the money stays reserved: a second full refund is refused by paymesh
    status, body = await refund(merchant, oid, 1000)
    assert (status, reason(body)) == (400, "REFUND_EXCEEDS_PAID"), body

    async def succeeded() -> bool:
        r = await get_refund(merchant, first["refund_id"])
        return bool(r["status"] == "SUCCEEDED")

    await eventually(succeeded, within=20)
    assert (await get_refund(merchant, first["refund_id"]))["channel_state"] == "SUCCESS"
    assert await sandbox_refunded(http, mesh, oid) == 1000  # never more than captured
    assert (await query_order(merchant, oid))["refunded_amount"] == "1000"


async def test_codeless_408_is_not_a_refusal(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession, monitor: OrderMonitor
) -> None:
    order = await paid_order(mesh, merchant, http, 500)
    oid = order["order_id"]
    # the refund reaches WeChat and is accepted; a proxy answers a bare 408 instead
    await fault(http, mesh, fault="raw_status", status=408, process=True, path=REFUNDS)
    status, body = await refund(merchant, oid, 500)
    assert status == 200, body
    pending = body["refund"]
    assert pending["status"] == "PENDING"
    status, body = await refund(merchant, oid, 1)
    assert (status, reason(body)) == (400, "REFUND_EXCEEDS_PAID"), body

    async def settled() -> bool:
        await monitor.sweep_once()
        r = await get_refund(merchant, pending["refund_id"])
        return bool(r["status"] == "SUCCEEDED")

    await eventually(settled, within=20)
    assert [r["amount"] for r in await sandbox_refunds(http, mesh, oid)] == [500]


async def test_refund_never_received_is_resubmitted_once_with_the_same_number(
    mesh: Mesh,
    merchant: Merchant,
    http: aiohttp.ClientSession,
    monitor: OrderMonitor,
) -> None:
    order = await paid_order(mesh, merchant, http, 700)
    oid = order["order_id"]
    # WeChat's system error before it recorded anything: the refund never happened
    await fault(http, mesh, fault="http_500", process=False, path=REFUNDS, method="POST")
    status, body = await refund(merchant, oid, 700)
    assert status == 200, body
    rid = body["refund"]["refund_id"]
    assert body["refund"]["status"] == "PENDING"
    assert await sandbox_refunds(http, mesh, oid) == []

    report = await monitor.sweep_once()  # asks: "not found" -> resubmits the same refund
    assert rid in report.checked
    store = await mesh.store()
    row = await store.get_refund(rid)
    assert row is not None
    assert row.submit_attempts == 1
    assert row.pending_reason.startswith("resubmit 1/")
    calls = await rpcs(mesh, rid)
    assert calls.count("Refund") == 2  # the lost submission and one resubmission
    assert calls.index("QueryRefund") < len(calls) - 1 - calls[::-1].index("Refund")

    async def succeeded() -> bool:
        return bool((await get_refund(merchant, rid))["status"] == "SUCCEEDED")

    await eventually(succeeded, within=20)  # the REFUND.SUCCESS callback of the resubmission
    (at_provider,) = await sandbox_refunds(http, mesh, oid)
    assert (at_provider["out_refund_no"], at_provider["amount"]) == (rid, 700)
    assert await sandbox_refunded(http, mesh, oid) == 700


async def test_resubmissions_stop_at_the_budget_with_a_recorded_reason(
    mesh: Mesh,
    merchant: Merchant,
    http: aiohttp.ClientSession,
    deps: Any,
    make_monitor: MonitorFactory,
    clock: Clock,
) -> None:
    monitor = make_monitor(deps)
    monitor.resubmit_budget = 1
    order = await paid_order(mesh, merchant, http, 300)
    oid = order["order_id"]
    # every submission fails before WeChat records it
    await fault(http, mesh, fault="http_500", process=False, path=REFUNDS, method="POST", count=3)
    status, body = await refund(merchant, oid, 300)
    rid = body["refund"]["refund_id"]
    await monitor.sweep_once()  # resubmission 1/1, lost again
    clock.advance(BACKOFF)
    await monitor.sweep_once()  # budget spent: no third submission, a reason instead
    clock.advance(BACKOFF * 2)
    await monitor.sweep_once()
    await http.delete(f"{mesh.sandbox_url}/_sandbox/faults")
    row = await (await mesh.store()).get_refund(rid)
    assert row is not None
    assert (row.status, row.submit_attempts) == ("PENDING", 1)
    assert "needs a person" in row.pending_reason
    assert (await rpcs(mesh, rid)).count("Refund") == 2
    assert await sandbox_refunds(http, mesh, oid) == []
    # the money stays reserved while a person looks
    status, body = await refund(merchant, oid, 1)
    assert (status, reason(body)) == (400, "REFUND_EXCEEDS_PAID"), body


async def test_transfer_never_received_is_resubmitted_with_the_same_bill_number(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession, monitor: OrderMonitor
) -> None:
    await fault(http, mesh, fault="http_500", process=False, path=BILLS, method="POST")
    body = {
        "out_transfer_no": out_no("t"),
        "amount": 88,
        "payee_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "remark": "reward",
    }
    status, created = await merchant.post("/v1/transfers", body, CreateTransfer)
    assert status == 200, created
    tid = created["transfer"]["transfer_id"]
    assert created["transfer"]["status"] == "PENDING"

    async def succeeded() -> bool:
        await monitor.sweep_once()
        _, got = await merchant.get(
            f"/v1/transfers/{tid}",
            {"sync": "true"},
            query_service_pb2.QueryTransferRequest,
            path_params={"transfer_id": tid},
        )
        return bool(got["transfer"]["status"] == "SUCCEEDED")

    await eventually(succeeded, within=20)
    at_provider = [
        t for t in await sandbox_items(http, mesh, "transfers") if t["out_transfer_no"] == tid
    ]
    assert [t["amount"] for t in at_provider] == [88]
    assert (await rpcs(mesh, tid)).count("Transfer") == 2
