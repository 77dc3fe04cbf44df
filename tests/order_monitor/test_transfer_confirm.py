"""WeChat transfers waiting for the payee (WAIT_USER_CONFIRM), through Envoy (issue 9 item 4).

The transfer's pay data carries what wx.requestMerchantTransfer needs; the merchant can
cancel it until the payee confirms, and the monitor cancels it when the payee never does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp

from paymesh.merchant.v1 import query_service_pb2, transfer_service_pb2
from tests.e2e.client import Merchant, reason
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import eventually, out_no, sandbox
from tests.order_monitor.conftest import Clock, MonitorFactory
from tests.order_monitor.test_monitor import fault, sandbox_items

CreateTransfer = transfer_service_pb2.CreateTransferRequest
CancelTransfer = transfer_service_pb2.CancelTransferRequest


async def waiting_transfer(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession, amount: int
) -> dict[str, Any]:
    no = out_no("t")
    await fault(http, mesh, fault="confirm_transfers")
    body = {"out_transfer_no": no, "amount": amount, "payee_id": "oPayee1234", "remark": "bonus"}
    status, created = await merchant.post("/v1/transfers", body, CreateTransfer)
    assert status == 200, created
    transfer: dict[str, Any] = created["transfer"]
    assert transfer["status"] == "PENDING"
    assert transfer["channel_state"] == "WAIT_USER_CONFIRM"
    params = transfer["pay_data"]["app_params"]
    assert sorted(params) == ["appId", "mchId", "package"]
    assert all(params.values())
    return transfer


async def get_transfer(merchant: Merchant, transfer_id: str) -> dict[str, Any]:
    status, body = await merchant.get(
        f"/v1/transfers/{transfer_id}",
        {},
        query_service_pb2.QueryTransferRequest,
        path_params={"transfer_id": transfer_id},
    )
    assert status == 200, body
    found: dict[str, Any] = body["transfer"]
    return found


async def cancel(merchant: Merchant, transfer_id: str) -> tuple[int, dict[str, Any]]:
    return await merchant.post(
        f"/v1/transfers/{transfer_id}:cancel", {"transfer_id": transfer_id}, CancelTransfer
    )


async def sandbox_state(http: aiohttp.ClientSession, mesh: Mesh, transfer_id: str) -> str:
    (t,) = [
        t
        for t in await sandbox_items(http, mesh, "transfers")
        if t["out_transfer_no"] == transfer_id
    ]
    return str(t["state"])


async def test_merchant_cancels_a_transfer_the_payee_has_not_confirmed(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    transfer = await waiting_transfer(mesh, merchant, http, 120)
    tid = transfer["transfer_id"]
    status, body = await cancel(merchant, tid)
    assert status == 200, body
    assert body["transfer"]["channel_state"] in ("CANCELING", "CANCELLED")

    async def cancelled() -> bool:
        t = await get_transfer(merchant, tid)
        return bool(t["status"] == "FAILED")

    await eventually(cancelled, within=20)  # MCHTRANSFER.BILL.FINISHED, state CANCELLED
    t = await get_transfer(merchant, tid)
    assert t["channel_state"] == "CANCELLED"
    assert "pay_data" not in t  # nothing left to confirm
    assert await sandbox_state(http, mesh, tid) == "CANCELLED"
    status, again = await cancel(merchant, tid)  # idempotent
    assert (status, again["transfer"]["status"]) == (200, "FAILED")


async def test_a_confirmed_transfer_succeeds_and_is_no_longer_cancellable(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    transfer = await waiting_transfer(mesh, merchant, http, 130)
    tid = transfer["transfer_id"]
    await sandbox(
        http,
        mesh.sandbox_url,
        "/_sandbox/transfers/confirm",
        {"channel": "wechat", "out_transfer_no": tid},
    )

    async def succeeded() -> bool:
        return bool((await get_transfer(merchant, tid))["status"] == "SUCCEEDED")

    await eventually(succeeded, within=20)
    assert "pay_data" not in await get_transfer(merchant, tid)
    status, body = await cancel(merchant, tid)
    assert (status, reason(body)) == (400, "TRANSFER_NOT_CANCELLABLE"), body


async def test_monitor_cancels_a_transfer_never_confirmed(
    mesh: Mesh,
    merchant: Merchant,
    http: aiohttp.ClientSession,
    deps: Any,
    make_monitor: MonitorFactory,
    clock: Clock,
) -> None:
    monitor = make_monitor(deps)
    transfer = await waiting_transfer(mesh, merchant, http, 140)
    tid = transfer["transfer_id"]
    await monitor.sweep_once()  # young: asked, left waiting
    assert (await get_transfer(merchant, tid))["status"] == "PENDING"
    assert await sandbox_state(http, mesh, tid) == "WAIT_USER_CONFIRM"
    clock.advance(monitor.confirm_ttl.total_seconds() + timedelta(minutes=1).total_seconds())
    await monitor.sweep_once()  # past its confirmation window: cancelled at WeChat

    async def cancelled() -> bool:
        return bool((await get_transfer(merchant, tid))["status"] == "FAILED")

    await eventually(cancelled, within=20)
    assert await sandbox_state(http, mesh, tid) == "CANCELLED"
