"""The reconciliation of one (channel account, day), and the operators' resolutions.

A run downloads the bill through the channel service (`DownloadBill`), loads our books,
matches (`recon.match`) and stores the outcome idempotently (`recon.store`). A payment the
bill shows for an order that is still PENDING is settled here through the normal transition
(`apply_trade`: one conditional update and its `order.paid` outbox event, so the merchant is
notified exactly once however often the day is reconciled). Operators resolve the rest:
accept (with a note) or repair (ask the provider again and apply its answer through the
same transitions); every action lands in the mismatch's audit log.
"""

from __future__ import annotations

from datetime import date

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.billfile import day_window
from paymesh.core.apply import apply_refund
from paymesh.core.db.models import OrderStatus
from paymesh.core.deps import CoreDeps
from paymesh.core.late import settle_trade
from paymesh.errors import ChannelNotEnabled, ConfigNotFound, InvalidArgument, PaymeshError
from paymesh.recon import audit, fundflow
from paymesh.recon.match import Kind, Result, match
from paymesh.recon.models import MismatchStatus, ReconMismatch, ReconRun
from paymesh.recon.store import ReconStore, RunKey
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.recon")


def parse_account(value: str) -> tuple[str, str]:
    """`channel/account_id` -> (channel, account_id)."""
    channel, sep, account_id = value.partition("/")
    if not sep or not channel or not account_id:
        raise InvalidArgument("account must be channel/account_id", field="account")
    return channel, account_id


class Reconciler:
    """Works on the core `CoreDeps` (store, channel client, config), like the order monitor."""

    def __init__(self, deps: CoreDeps) -> None:
        self.deps = deps
        self.store = deps.store
        self.channels = deps.channels
        self.clock = deps.clock
        s = deps.store
        self.recon = ReconStore(s.engine, s.sessions, s.ids, s.clock)

    async def _audited(
        self, row: ReconMismatch, action: str, actor: str, note: str, *, closed: bool
    ) -> None:
        """Operators' actions also go to the shared audit log (the console shows it); a close
        that found the mismatch already closed (another operator, or a re-run, was first) is
        audited as "unchanged"."""
        outcome = {"OPEN": "still-open"}.get(row.status, row.status.lower())
        if not closed:
            outcome = "unchanged"
        await audit.record(
            self.store.engine, actor=actor, action=f"recon.{action}",
            key=f"recon/mismatch/{row.mismatch_id}",
            outcome=outcome, detail=f"{row.kind} {row.object_kind} {row.object_id}: {note}",
        )  # fmt: skip

    # --- a run ------------------------------------------------------------------------------

    async def run(self, channel: str, account_id: str, day: date) -> ReconRun:
        key = RunKey(channel, account_id, day.isoformat())
        request = svc.DownloadBillRequest(
            account=channel_pb2.AccountRef(channel=channel, account_id=account_id),
            bill_date=key.bill_date,
        )
        try:
            bill = await self.channels.call(
                "DownloadBill",
                request,
                kind="recon",
                object_id=f"{key.bill_date}:{account_id}"[:32],
            )
        except (ConfigNotFound, ChannelNotEnabled, InvalidArgument):
            raise  # no such account here: a clear error, and no run is recorded
        except PaymeshError as e:
            log.warning("recon_bill_failed", channel=channel, account_id=account_id,
                        bill_date=key.bill_date, reason=e.reason.value, error=e.message)  # fmt: skip
            return await self.recon.save_failed(key, f"{e.reason.value}: {e.message}")
        lines = list(bill.lines) if bill.available else []
        window = day_window(day)
        orders, refunds = await self.recon.books(key, window, lines)
        rate = (await self.deps.config.get_channel_account(channel, account_id)).fee_rate_bp
        result = match(
            lines, orders, refunds, channel=channel, account_id=account_id, window=window,
            fee_rate_bp=rate,
        )  # fmt: skip
        flow = bill.fund_flow if bill.HasField("fund_flow") else None
        if flow is not None:
            result.findings.extend(
                fundflow.findings(flow, lines, orders, refunds, channel=channel,
                                  account_id=account_id, window=window)
            )  # fmt: skip
        settled = await self._settle_pending(result)
        run = await self.recon.save_run(
            key, available=bill.available, summary=bill.summary, result=result, settled=settled,
            fund_flow=flow,
        )  # fmt: skip
        log.info("recon_run", channel=channel, account_id=account_id, bill_date=key.bill_date,
                 status=run.status, lines=run.provider_lines, matched=run.matched_count,
                 mismatches=run.mismatch_count, open=run.open_count)  # fmt: skip
        return run

    async def _settle_pending(self, result: Result) -> dict[str, str]:
        """Orders the bill shows paid that paymesh has not booked: a PENDING one through the
        normal PENDING -> PAID transition, a CLOSED/FAILED one as a late payment (recorded,
        the app's policy applied), exactly as a callback reporting it would."""
        settled: dict[str, str] = {}
        for f in result.findings:
            if f.kind != Kind.PROVIDER_ONLY or not f.ours_state or not f.line:
                continue
            order = await self.store.get_order(f.order_id)
            if order is None:
                continue
            trade = channel_pb2.TradeResult(
                state=channel_pb2.TRADE_STATE_PAID,
                order_id=f.order_id,
                channel_trade_no=f.line.channel_trade_no,
                amount=f.line.amount,
                currency=f.line.currency or "CNY",
                paid_at=f.line.booked_at,
                provider_state=f"bill:{f.line.provider_state}",
            )
            moved, late = await settle_trade(self.deps, order, trade, self.clock())
            if late is not None:
                settled[f.object_id] = (
                    f"late payment recorded ({late.policy}"
                    + (f", refund {late.refund_id}" if late.refund_id else "")
                    + "); merchant notified"
                )
            elif moved.row.status == OrderStatus.PAID:
                settled[f.object_id] = "order PAID from the provider's bill; merchant notified"
            log.info("recon_settled", order_id=f.order_id, status=moved.row.status,
                     late=late is not None)  # fmt: skip
        return settled

    # --- resolutions ------------------------------------------------------------------------

    async def accept(self, mismatch_id: str, *, actor: str, note: str) -> ReconMismatch:
        if not note.strip():
            raise InvalidArgument("accepting a mismatch needs a note", field="note")
        if not actor.strip():
            raise InvalidArgument("actor is required", field="actor")
        row, closed = await self.recon.resolve(
            mismatch_id, status=MismatchStatus.ACCEPTED, resolution="accepted", action="accept",
            actor=actor, note=note, outcome="accepted by an operator",
        )  # fmt: skip
        await self._audited(row, "accept", actor, note, closed=closed)
        return row

    async def repair(self, mismatch_id: str, *, actor: str, note: str = "") -> ReconMismatch:
        """Ask the provider again about the object and apply its answer (the same transitions
        as a callback); the mismatch is RESOLVED when our record and the provider's live
        answer now agree, else it stays OPEN with the outcome in its audit log."""
        if not actor.strip():
            raise InvalidArgument("actor is required", field="actor")
        row, run = await self.recon.get_mismatch(mismatch_id)
        if row.kind in (Kind.FEE_DIFFERS, Kind.FUND_FLOW_DIFFERS):
            raise InvalidArgument(
                "a fee or fund flow difference is not repaired by asking again: accept it "
                "with a note "
                "(and take it up with the provider)", field="action",
            )  # fmt: skip
        account = channel_pb2.AccountRef(channel=run.channel, account_id=run.account_id)
        try:
            if row.object_kind == "refund":
                outcome, fixed = await self._repair_refund(row, account)
            else:
                outcome, fixed = await self._repair_order(row, account)
        except PaymeshError as e:
            outcome, fixed = f"provider not reachable: {e.reason.value}: {e.message}", False
        row, closed = await self.recon.resolve(
            mismatch_id,
            status=MismatchStatus.RESOLVED if fixed else MismatchStatus.OPEN,
            resolution="repaired", action="repair", actor=actor, note=note, outcome=outcome,
        )  # fmt: skip
        await self._audited(row, "repair", actor, outcome, closed=closed or not fixed)
        return row

    async def _repair_order(
        self, row: ReconMismatch, account: channel_pb2.AccountRef
    ) -> tuple[str, bool]:
        order = await self.store.get_order(row.order_id)
        if order is None:
            return "paymesh has no such order: nothing to apply (accept it with a note)", False
        answer = await self.channels.call(
            "Query", svc.QueryRequest(account=account, order_id=order.order_id),
            kind="order", object_id=order.order_id,
        )  # fmt: skip
        moved, _late = await settle_trade(self.deps, order, answer.trade, self.clock())
        state = channel_pb2.TradeState.Name(answer.trade.state)
        fixed = (
            answer.trade.state == channel_pb2.TRADE_STATE_PAID
            and answer.trade.amount == moved.row.amount
            and (moved.row.status == OrderStatus.PAID or _late is not None)
        )
        return (
            f"provider says {state} ({answer.trade.provider_state}); order {moved.row.status}",
            fixed,
        )

    async def _repair_refund(
        self, row: ReconMismatch, account: channel_pb2.AccountRef
    ) -> tuple[str, bool]:
        refund = await self.store.get_refund(row.object_id)
        if refund is None:
            return "paymesh has no such refund: nothing to apply (accept it with a note)", False
        answer = await self.channels.call(
            "QueryRefund",
            svc.QueryRefundRequest(account=account, order_id=refund.order_id,
                                   refund_id=refund.refund_id),
            kind="refund", object_id=refund.refund_id,
        )  # fmt: skip
        moved = await apply_refund(self.store, refund, answer.refund, self.clock())
        state = channel_pb2.ResultState.Name(answer.refund.state)
        fixed = (
            answer.refund.state == channel_pb2.RESULT_STATE_SUCCEEDED
            and moved.row.status == "SUCCEEDED"
            and answer.refund.amount in (0, moved.row.amount)
        )
        return (
            f"provider says {state} ({answer.refund.provider_state}); refund {moved.row.status}",
            fixed,
        )


__all__ = ["Reconciler", "parse_account"]
