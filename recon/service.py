"""`paymesh serve recon`: the ops `ReconciliationService` and the daily scheduler.

Optional environment: PAYMESH_RECON_INTERVAL (seconds between scheduler ticks, default 60;
0 disables the scheduler, e.g. when another replica runs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
from google.protobuf import timestamp_pb2

from paymesh.channels.billfile import CHINA, parse_bill_date
from paymesh.core.deps import build_core_deps
from paymesh.errors import InvalidArgument
from paymesh.ops.v1 import reconciliation_pb2 as pb
from paymesh.ops.v1 import reconciliation_service_pb2 as rpc
from paymesh.ops.v1 import reconciliation_service_pb2_grpc as rpc_grpc
from paymesh.recon.models import ReconAction, ReconMismatch, ReconRun
from paymesh.recon.report import settlement_csv
from paymesh.recon.runner import Reconciler
from paymesh.recon.scheduler import DEFAULT_INTERVAL, ReconScheduler
from paymesh.runtime.context import ServiceContext
from paymesh.runtime.logging import get_logger
from paymesh.runtime.settings import MissingSettings

log = get_logger("paymesh.recon.service")

Context = grpc.aio.ServicerContext[Any, Any]
INTERVAL_ENV = "PAYMESH_RECON_INTERVAL"


def _ts(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value.astimezone(UTC))
    return ts


def run_message(r: ReconRun) -> pb.ReconciliationRun:
    return pb.ReconciliationRun(
        run_id=r.run_id, channel=r.channel, account_id=r.account_id, bill_date=r.bill_date,
        status=r.status, attempts=r.attempts, error=r.error, provider_lines=r.provider_lines,
        payment_count=r.payment_count, payment_amount=r.payment_amount,
        refund_count=r.refund_count, refund_amount=r.refund_amount, fee_amount=r.fee_amount,
        matched_count=r.matched_count, mismatch_count=r.mismatch_count,
        open_count=r.open_count, started_at=_ts(r.started_at), finished_at=_ts(r.finished_at),
        fund_flow=r.fund_flow_lines is not None, fund_flow_lines=r.fund_flow_lines or 0,
        fund_income_count=r.fund_income_count, fund_income_amount=r.fund_income_amount,
        fund_expense_count=r.fund_expense_count, fund_expense_amount=r.fund_expense_amount,
    )  # fmt: skip


def mismatch_message(m: ReconMismatch, actions: list[ReconAction]) -> pb.Mismatch:
    return pb.Mismatch(
        mismatch_id=m.mismatch_id, run_id=m.run_id, kind=m.kind, object_kind=m.object_kind,
        object_id=m.object_id, order_id=m.order_id, app_id=m.app_id,
        ours_amount=m.ours_amount, provider_amount=m.provider_amount,
        ours_state=m.ours_state, provider_state=m.provider_state,
        channel_trade_no=m.channel_trade_no, detail=m.detail, status=m.status,
        resolution=m.resolution, note=m.note, resolved_by=m.resolved_by,
        resolved_at=_ts(m.resolved_at),
        actions=[
            pb.MismatchAction(action=a.action, actor=a.actor, note=a.note, outcome=a.outcome,
                              created_at=_ts(a.created_at))
            for a in actions
        ],
    )  # fmt: skip


def bill_day(value: str, now: datetime) -> date:
    """yyyy-MM-dd, or empty for yesterday (China time)."""
    if not value:
        return now.astimezone(CHINA).date() - timedelta(days=1)
    return parse_bill_date(value)


class ReconciliationServicer(rpc_grpc.ReconciliationServiceServicer):
    def __init__(self, reconciler: Reconciler) -> None:
        self.r = reconciler

    async def _mismatches(self, rows: list[ReconMismatch]) -> list[pb.Mismatch]:
        return [mismatch_message(m, await self.r.recon.actions(m.mismatch_id)) for m in rows]

    async def RunReconciliation(
        self, request: rpc.RunReconciliationRequest, context: Context
    ) -> rpc.RunReconciliationResponse:
        if not request.channel or not request.account_id:
            raise InvalidArgument("channel and account_id are required", field="account_id")
        day = bill_day(request.bill_date, self.r.clock())
        run = await self.r.run(request.channel, request.account_id, day)
        rows = await self.r.recon.list_mismatches(run_id=run.run_id)
        return rpc.RunReconciliationResponse(
            run=run_message(run), mismatches=await self._mismatches(rows)
        )

    async def ListRuns(
        self, request: rpc.ListRunsRequest, context: Context
    ) -> rpc.ListRunsResponse:
        if request.bill_date:
            parse_bill_date(request.bill_date)
        runs = await self.r.recon.list_runs(request.bill_date, request.account_id)
        return rpc.ListRunsResponse(runs=[run_message(r) for r in runs])

    async def ListMismatches(
        self, request: rpc.ListMismatchesRequest, context: Context
    ) -> rpc.ListMismatchesResponse:
        if request.bill_date:
            parse_bill_date(request.bill_date)
        if request.status not in ("", "OPEN", "RESOLVED", "ACCEPTED"):
            raise InvalidArgument("status must be OPEN, RESOLVED or ACCEPTED", field="status")
        rows = await self.r.recon.list_mismatches(
            run_id=request.run_id, status=request.status, bill_date=request.bill_date
        )
        return rpc.ListMismatchesResponse(mismatches=await self._mismatches(rows))

    async def ResolveMismatch(
        self, request: rpc.ResolveMismatchRequest, context: Context
    ) -> rpc.ResolveMismatchResponse:
        if not request.mismatch_id:
            raise InvalidArgument("mismatch_id is required", field="mismatch_id")
        if request.action == rpc.RESOLVE_ACTION_ACCEPT:
            row = await self.r.accept(request.mismatch_id, actor=request.actor, note=request.note)
        elif request.action == rpc.RESOLVE_ACTION_REPAIR:
            row = await self.r.repair(request.mismatch_id, actor=request.actor, note=request.note)
        else:
            raise InvalidArgument("action must be ACCEPT or REPAIR", field="action")
        actions = await self.r.recon.actions(row.mismatch_id)
        return rpc.ResolveMismatchResponse(mismatch=mismatch_message(row, actions))

    async def GetSettlementSummary(
        self, request: rpc.GetSettlementSummaryRequest, context: Context
    ) -> rpc.GetSettlementSummaryResponse:
        day = parse_bill_date(request.bill_date).isoformat()
        rows = await self.r.recon.settlement(day)
        return rpc.GetSettlementSummaryResponse(
            summaries=[
                pb.SettlementSummary(
                    bill_date=s.bill_date, app_id=s.app_id, channel=s.channel,
                    payment_count=s.payment_count, payment_amount=s.payment_amount,
                    refund_count=s.refund_count, refund_amount=s.refund_amount,
                    fee_amount=s.fee_amount, net_amount=s.net_amount,
                )
                for s in rows
            ],
            csv=settlement_csv(rows),
        )  # fmt: skip


def scheduler_interval(env: dict[str, str] | None = None) -> float:
    raw = (os.environ if env is None else env).get(INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise MissingSettings(f"invalid settings: {INTERVAL_ENV} must be seconds >= 0")
    return value


async def register(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    interval = scheduler_interval()
    deps = await build_core_deps(ctx)
    reconciler = Reconciler(deps)
    rpc_grpc.add_ReconciliationServiceServicer_to_server(ReconciliationServicer(reconciler), server)
    if interval > 0:
        channels = sorted(ctx.settings.channel_targets)
        scheduler = ReconScheduler(reconciler, deps.config, channels, interval=interval)
        task = asyncio.create_task(scheduler.run(), name="recon-scheduler")

        async def stop() -> None:
            scheduler.stop()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=5)

        ctx.on_close(stop)
    return [rpc.DESCRIPTOR.services_by_name["ReconciliationService"].full_name]


__all__ = ["INTERVAL_ENV", "ReconciliationServicer", "register"]
