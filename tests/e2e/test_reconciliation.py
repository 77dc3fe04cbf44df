"""Reconciliation end to end, on both storage columns: a day of mixed traffic on its own
WeChat account (payments, partial refunds, a callback lost on purpose, a late payment) and
the sandbox's injected bill discrepancies reconcile to exactly those mismatches; the PENDING
order the bill shows paid is settled and its merchant notified once; re-running is
idempotent; operators accept and repair with an audit log; fixing the provider's side and
re-running shows the rest resolved; the settlement summary adds up."""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import datetime
from typing import Any

import aiohttp
import grpc
import pytest

from paymesh.channel.v1.channel_pb2 import AccountRef
from paymesh.channel.v1.channel_service_pb2 import DownloadBillRequest
from paymesh.channel.v1.channel_service_pb2_grpc import ChannelServiceStub
from paymesh.channels.billfile import CHINA
from paymesh.console.audit import AuditLog
from paymesh.core.db.models import RefundStatus
from paymesh.core.deps import build_core_deps
from paymesh.dev.seed import private_key_pem, seed_app, seed_wechat
from paymesh.merchant.v1 import pay_service_pb2, query_service_pb2, refund_service_pb2
from paymesh.ops.v1 import reconciliation_service_pb2 as rpc
from paymesh.ops.v1 import reconciliation_service_pb2_grpc as rpc_grpc
from paymesh.recon.models import ReconRun
from paymesh.recon.runner import Reconciler
from paymesh.recon.scheduler import ReconScheduler
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import create_qr_order, eventually, out_no, query_order, sandbox

ACCOUNT = "wechat-recon"


async def _paid(mesh: Mesh, http: aiohttp.ClientSession, m: Merchant, amount: int) -> str:
    order = await create_qr_order(m, amount, notify_url=mesh.notify_url)
    oid = str(order["order_id"])
    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay", {"channel": "wechat", "out_trade_no": oid}
    )

    async def paid() -> bool:
        return bool((await query_order(m, oid))["status"] == "PAID")

    await eventually(paid)
    return oid


async def _refund(m: Merchant, order_id: str, amount: int) -> str:
    body = {"order_id": order_id, "out_refund_no": out_no("r"), "amount": amount}
    status, answer = await m.post("/v1/refunds", body, refund_service_pb2.CreateRefundRequest)
    assert status == 200, answer
    refund_id = str(answer["refund"]["refund_id"])

    async def succeeded() -> bool:
        status, got = await m.get(
            f"/v1/refunds/{refund_id}", {"sync": "true"}, query_service_pb2.QueryRefundRequest,
            path_params={"refund_id": refund_id},
        )  # fmt: skip
        return status == 200 and got["refund"]["status"] == "SUCCEEDED"

    await eventually(succeeded)
    return refund_id


async def _fault(http: aiohttp.ClientSession, mesh: Mesh, **fault: Any) -> None:
    await sandbox(http, mesh.sandbox_url, "/_sandbox/faults", {"channel": "wechat", **fault})


def _received(mesh: Mesh, order_id: str) -> list[str]:
    return [
        str(r.body.get("event_type"))
        for r in mesh.demo_merchant.received
        if r.body.get("order_id") == order_id
    ]


def suffix_in(key: str, mismatches: dict[tuple[str, str], Any]) -> bool:
    return key.rsplit("/", 1)[-1] in {m.mismatch_id for m in mismatches.values()}


def _kinds(mismatches: Any) -> dict[tuple[str, str], Any]:
    return {(m.kind, m.object_id): m for m in mismatches}


async def test_a_day_of_traffic_reconciles_to_exactly_the_injected_mismatches(
    mesh: Mesh, http: aiohttp.ClientSession
) -> None:
    suffix = uuid.uuid4().hex[:6]
    await seed_wechat(mesh.repo, mesh.sandbox_url, private_key_pem(), ACCOUNT,
                      mchid=f"19{uuid.uuid4().int % 10**8:08d}", appid=f"wxrecon{suffix}")  # fmt: skip
    app = await seed_app(mesh.repo, app_id=f"recon-{suffix}", wechat_account=ACCOUNT,
                         alipay_account=None)  # fmt: skip
    m = mesh.merchant(http, app)

    async def ready() -> bool:  # the services see the new app and account (config watch)
        status, _ = await m.post(
            "/v1/orders",
            {"out_trade_no": out_no(), "amount": 1, "subject": "warm-up", "method": "qr"},
            pay_service_pb2.CreateOrderRequest,
        )
        return status == 200

    await eventually(ready)
    store = await mesh.store()
    today = datetime.now(CHINA).date().isoformat()

    plain = await _paid(mesh, http, m, 1000)
    refunded = await _paid(mesh, http, m, 2000)
    kept_refund = await _refund(m, refunded, 300)
    missing_refund = await _refund(m, refunded, 200)
    off_by_one = await _paid(mesh, http, m, 1500)
    revoked = await _paid(mesh, http, m, 700)

    lost = str((await create_qr_order(m, 880, notify_url=mesh.notify_url))["order_id"])
    await _fault(http, mesh, fault="drop_callbacks", out_trade_no=lost, count=1)
    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay", {"channel": "wechat", "out_trade_no": lost}
    )
    late = str((await create_qr_order(m, 660, notify_url=mesh.notify_url))["order_id"])
    await _fault(http, mesh, fault="drop_callbacks", out_trade_no=late, count=1)
    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay", {"channel": "wechat", "out_trade_no": late}
    )
    # paymesh closed it (expiry) while the payer was paying: the payment is late
    assert (await store.mark_closed(late)).changed
    await mesh.sandbox.state.idle()
    assert (await query_order(m, lost))["status"] == "PENDING"

    unknown = "PNEVER" + suffix.upper()
    await _fault(http, mesh, fault="bill_unknown_trade", out_trade_no=unknown, amount=123)
    await _fault(http, mesh, fault="bill_amount_off", out_trade_no=off_by_one)
    await _fault(http, mesh, fault="bill_status_differs", out_trade_no=revoked)
    await _fault(http, mesh, fault="bill_refund_missing", out_refund_no=missing_refund)

    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.server.port}") as channel:
        ops = rpc_grpc.ReconciliationServiceStub(channel)
        run = await ops.RunReconciliation(
            rpc.RunReconciliationRequest(channel="wechat", account_id=ACCOUNT, bill_date=today)
        )
        found = _kinds(run.mismatches)
        assert sorted(found) == sorted(
            [
                ("PROVIDER_ONLY", lost),
                ("PROVIDER_ONLY", late),
                ("PROVIDER_ONLY", unknown),
                ("AMOUNT_DIFFERS", off_by_one),
                ("STATUS_DIFFERS", revoked),
                ("REFUND_DIFFERS", missing_refund),
            ]
        ), found
        assert run.run.status == "DONE"
        assert (run.run.mismatch_count, run.run.open_count) == (6, 4)
        # the fund flow bill came too and agrees with the trade bill (the injected line
        # discrepancies are the provider's, in both its files): no FUND_FLOW_DIFFERS
        assert run.run.fund_flow
        assert run.run.fund_flow_lines > 0
        # the lost callback: settled from the bill through the normal transition
        settled = found[("PROVIDER_ONLY", lost)]
        assert (settled.status, settled.resolution) == ("RESOLVED", "settled")
        assert [a.action for a in settled.actions] == ["settle"]
        assert (await query_order(m, lost))["status"] == "PAID"
        # the late payment: recorded as one, the app's policy (refund) applied
        assert found[("PROVIDER_ONLY", late)].status == "RESOLVED"
        late_row = await store.get_late_payment(late)
        assert late_row is not None
        assert late_row.amount == 660
        amount_off = found[("AMOUNT_DIFFERS", off_by_one)]
        assert (amount_off.ours_amount, amount_off.provider_amount) == (1500, 1501)

        async def notified() -> bool:
            return _received(mesh, lost) == ["order.paid"]

        await eventually(notified)

        async def late_refund_done() -> bool:
            refund = await store.get_refund(late_row.refund_id)
            return refund is not None and refund.status == RefundStatus.SUCCEEDED.value

        await eventually(late_refund_done)

        # re-running is idempotent: the same run, the settled ones stay settled
        again = await ops.RunReconciliation(
            rpc.RunReconciliationRequest(channel="wechat", account_id=ACCOUNT, bill_date=today)
        )
        assert again.run.run_id == run.run.run_id
        assert again.run.attempts == 2
        assert (again.run.mismatch_count, again.run.open_count) == (4, 4)
        assert {(x.kind, x.object_id): x.status for x in again.mismatches} == {
            **{k: "OPEN" for k in found if k[1] not in (lost, late)},
            ("PROVIDER_ONLY", lost): "RESOLVED",
            ("PROVIDER_ONLY", late): "RESOLVED",
        }
        assert _received(mesh, lost) == ["order.paid"]  # notified once

        # operators: accept the unknown trade with a note (two operators at once: one closes
        # it, the other's action is recorded as unchanged), repair the refund
        by_id = _kinds(again.mismatches)
        notes = {"ops-alice": "not ours: provider ticket 42", "ops-carol": "seen, not ours"}
        answers = await asyncio.gather(
            *(
                ops.ResolveMismatch(
                    rpc.ResolveMismatchRequest(
                        mismatch_id=by_id[("PROVIDER_ONLY", unknown)].mismatch_id,
                        action=rpc.RESOLVE_ACTION_ACCEPT,
                        note=note,
                        actor=actor,
                    )
                )
                for actor, note in notes.items()
            )
        )
        accepted = max(answers, key=lambda a: len(a.mismatch.actions))
        winner = accepted.mismatch.resolved_by
        assert accepted.mismatch.status == "ACCEPTED"
        assert winner in notes
        assert accepted.mismatch.note == notes[winner]
        assert sorted((a.actor, a.outcome) for a in accepted.mismatch.actions) == sorted(
            [
                (winner, "accepted by an operator"),
                (next(a for a in notes if a != winner), f"already ACCEPTED by {winner}: unchanged"),
            ]
        )
        (counted,) = [
            r for r in (await ops.ListRuns(rpc.ListRunsRequest(account_id=ACCOUNT))).runs
            if r.run_id == again.run.run_id
        ]  # fmt: skip
        assert counted.open_count == again.run.open_count - 1  # counted down once
        repaired = await ops.ResolveMismatch(
            rpc.ResolveMismatchRequest(
                mismatch_id=by_id[("REFUND_DIFFERS", missing_refund)].mismatch_id,
                action=rpc.RESOLVE_ACTION_REPAIR, actor="ops-bob",
            )
        )  # fmt: skip
        assert repaired.mismatch.status == "RESOLVED"
        assert "SUCCEEDED" in repaired.mismatch.actions[-1].outcome
        audit = await AuditLog(store.engine).entries(actions=["recon.accept", "recon.repair"])
        audited = {(e.actor, e.action, e.outcome) for e in audit if suffix_in(e.key, by_id)}
        assert audited == {
            (winner, "recon.accept", "accepted"),
            (next(a for a in notes if a != winner), "recon.accept", "unchanged"),
            ("ops-bob", "recon.repair", "resolved"),
        }
        with pytest.raises(grpc.aio.AioRpcError) as refused:  # accepting needs a note
            await ops.ResolveMismatch(
                rpc.ResolveMismatchRequest(
                    mismatch_id=by_id[("AMOUNT_DIFFERS", off_by_one)].mismatch_id,
                    action=rpc.RESOLVE_ACTION_ACCEPT, actor="ops-alice",
                )
            )  # fmt: skip
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT

        # the provider fixes its side: a re-run shows the rest resolved
        async with http.delete(f"{mesh.sandbox_url}/_sandbox/faults?channel=wechat") as r:
            assert r.status == 200
        final = await ops.RunReconciliation(
            rpc.RunReconciliationRequest(channel="wechat", account_id=ACCOUNT, bill_date=today)
        )
        statuses = {(x.kind, x.object_id): (x.status, x.resolution) for x in final.mismatches}
        assert statuses[("AMOUNT_DIFFERS", off_by_one)] == ("RESOLVED", "cleared")
        assert statuses[("STATUS_DIFFERS", revoked)] == ("RESOLVED", "cleared")
        assert statuses[("PROVIDER_ONLY", unknown)] == ("ACCEPTED", "accepted")
        assert (final.run.mismatch_count, final.run.open_count) == (0, 0)

        with pytest.raises(grpc.aio.AioRpcError) as unknown_account:
            await ops.RunReconciliation(
                rpc.RunReconciliationRequest(channel="wechat", account_id="nope", bill_date=today)
            )
        assert unknown_account.value.code() == grpc.StatusCode.NOT_FOUND
        listed = await ops.ListRuns(rpc.ListRunsRequest(bill_date=today, account_id="nope"))
        assert list(listed.runs) == []

        summary = await ops.GetSettlementSummary(rpc.GetSettlementSummaryRequest(bill_date=today))
        (mine,) = [s for s in summary.summaries if s.app_id == app.app_id]
        paid = [1000, 2000, 1500, 700, 880, 660]
        assert (mine.channel, mine.payment_count, mine.payment_amount) == (
            "wechat",
            len(paid),
            sum(paid),
        )
        assert (mine.refund_count, mine.refund_amount) == (3, 300 + 200 + 660)
        assert mine.fee_amount > 0
        assert mine.net_amount == mine.payment_amount - mine.refund_amount - mine.fee_amount
        assert summary.csv.splitlines()[0].startswith("bill_date,app_id,channel,payment_count")
        assert f"{today},{app.app_id},wechat,6,{sum(paid)}," in summary.csv
        assert kept_refund
        assert plain

    # the same from a shell: `paymesh recon run` and `paymesh recon report`
    grpc_target = f"127.0.0.1:{mesh.server.port}"
    code, out = await _cli("recon", "run", "--account", f"wechat/{ACCOUNT}", "--date", today,
                           "--target", grpc_target)  # fmt: skip
    assert code == 0, out
    assert f"wechat/{ACCOUNT} {today}: DONE" in out
    assert "attempt 4" in out
    paid_fees, refund_fees = sum(map(fee, paid)), sum(map(fee, (300, 200, 660)))
    income, expense = sum(paid) + refund_fees, 300 + 200 + 660 + paid_fees
    assert (
        f"fund flow {2 * 6 + 2 * 3} lines: income {6 + 3} {income}, expense {6 + 3} {expense}, "
        f"net {income - expense}"
    ) in out
    code, out = await _cli("recon", "report", "--date", today, "--target", grpc_target)
    assert code == 0, out
    assert f"{today},{app.app_id},wechat,6,{sum(paid)}," in out
    (line,) = [ln for ln in out.splitlines() if f"order {unknown}" in ln]
    assert line.split()[1:3] == ["ACCEPTED", "PROVIDER_ONLY"]
    code, out = await _cli("recon", "run", "--account", "wechat", "--target", grpc_target)
    assert code == 2

    # the provider's fund flow bill moves money its trade bill does not show: one typed
    # mismatch, accept-only; the provider fixing it clears it on the next run
    await _fault(http, mesh, fault="bill_fund_flow_off", delta=1)
    async with grpc.aio.insecure_channel(grpc_target) as channel:
        ops = rpc_grpc.ReconciliationServiceStub(channel)
        request = rpc.RunReconciliationRequest(
            channel="wechat", account_id=ACCOUNT, bill_date=today
        )
        off = await ops.RunReconciliation(request)
        (differs,) = [x for x in off.mismatches if x.status == "OPEN"]
        assert (differs.kind, differs.object_kind, differs.object_id) == (
            "FUND_FLOW_DIFFERS", "fund_flow", "expense",
        )  # fmt: skip
        # refunds + fees net of the returned ones: the trade bill's, paymesh's (its fees)
        net_expense = expense - refund_fees
        assert (differs.ours_amount, differs.provider_amount) == (net_expense, net_expense + 1)
        assert (off.run.mismatch_count, off.run.open_count) == (1, 1)
        assert off.run.fund_expense_amount == expense + 1
        with pytest.raises(grpc.aio.AioRpcError) as no_repair:
            await ops.ResolveMismatch(
                rpc.ResolveMismatchRequest(mismatch_id=differs.mismatch_id,
                                           action=rpc.RESOLVE_ACTION_REPAIR, actor="ops-bob")
            )  # fmt: skip
        assert no_repair.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        code, out = await _cli("recon", "report", "--date", today, "--target", grpc_target)
        assert f"OPEN     FUND_FLOW_DIFFERS fund_flow expense: ours - {net_expense}" in out, out
        async with http.delete(f"{mesh.sandbox_url}/_sandbox/faults?channel=wechat") as r:
            assert r.status == 200
        fixed = await ops.RunReconciliation(request)
        statuses = {(x.kind, x.object_id): (x.status, x.resolution) for x in fixed.mismatches}
        assert statuses[("FUND_FLOW_DIFFERS", "expense")] == ("RESOLVED", "cleared")
        assert fixed.run.open_count == 0


def fee(amount: int) -> int:
    """The sandbox's 0.6 % fee, half up to the fen."""
    return (amount * 6 + 500) // 1000


async def _cli(*argv: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "paymesh.cli", *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_the_scheduler_runs_the_previous_day_once_at_each_accounts_time(
    mesh: Mesh,
) -> None:
    """ReconScheduler.tick against the running mesh's channel service, on a pinned clock."""
    suffix = uuid.uuid4().hex[:6]
    early, off = f"wx-early-{suffix}", f"wx-off-{suffix}"
    for account_id, at in ((early, "06:30"), (off, "")):
        acct = await seed_wechat(
            mesh.repo, mesh.sandbox_url, private_key_pem(), account_id,
            mchid=f"19{uuid.uuid4().int % 10**8:08d}", appid=f"wx{account_id[-6:]}sched",
        )  # fmt: skip
        await mesh.repo.put_channel_account(acct.model_copy(update={"reconcile_at": at}))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.server.port}") as ch:
        stub = ChannelServiceStub(ch)
        probe = DownloadBillRequest(
            account=AccountRef(channel="wechat", account_id=early), bill_date="2001-01-01"
        )

        async def known() -> bool:  # the channel service sees the new account (config watch)
            try:
                await stub.DownloadBill(probe, timeout=5)
            except grpc.aio.AioRpcError:
                return False
            return True

        await eventually(known)
    deps = await build_core_deps(mesh.server.context)
    reconciler = Reconciler(deps)
    now = datetime(2026, 1, 10, 6, 29, tzinfo=CHINA)
    reconciler.clock = lambda: now
    scheduler = ReconScheduler(reconciler, mesh.repo, ["wechat"])

    def mine(runs: list[ReconRun]) -> set[tuple[str, str, str]]:
        return {(r.account_id, r.bill_date, r.status) for r in runs if suffix in r.account_id}

    assert mine(await scheduler.tick()) == set()  # 06:29: not yet
    now = datetime(2026, 1, 10, 6, 31, tzinfo=CHINA)
    assert mine(await scheduler.tick()) == {(early, "2026-01-09", "NO_BILL")}
    assert mine(await scheduler.tick()) == set()  # done for that day: not again
    now = datetime(2026, 1, 11, 7, 0, tzinfo=CHINA)
    assert mine(await scheduler.tick()) == {(early, "2026-01-10", "NO_BILL")}
