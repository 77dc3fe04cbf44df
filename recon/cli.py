"""`paymesh recon run|report`: reconciliation from a shell, through the running mesh's
ReconciliationService (gRPC). The target is `--target`, else the settings' `recon_target`
(PAYMESH_RECON_TARGET, or `--config` file), else the `grpc_target` of a running `make dev`
(`.paymesh/dev.json`), else 127.0.0.1:50051. Mutual TLS when the settings set it (the mesh's
`tls_*` files), as every other mesh client."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

import grpc

from paymesh.channels.billfile import CHINA
from paymesh.ops.v1 import reconciliation_pb2 as pb
from paymesh.ops.v1 import reconciliation_service_pb2 as rpc
from paymesh.ops.v1 import reconciliation_service_pb2_grpc as rpc_grpc
from paymesh.runtime import tls
from paymesh.runtime.settings import Settings, load_settings

TARGET_ENV = "PAYMESH_RECON_TARGET"


def target(
    explicit: str | None, settings: Settings | None = None, state_dir: str = ".paymesh"
) -> str:
    if explicit:
        return explicit
    if settings is not None and settings.recon_target:
        return settings.recon_target
    if os.environ.get(TARGET_ENV):
        return os.environ[TARGET_ENV]
    dev = Path(state_dir) / "dev.json"
    if dev.exists():
        return str(json.loads(dev.read_text())["grpc_target"])
    return "127.0.0.1:50051"


def bill_date(value: str) -> str:
    """yyyy-MM-dd, or `today` / `yesterday` (China time)."""
    today = datetime.now(CHINA).date()
    if value == "today":
        return today.isoformat()
    if value in ("", "yesterday"):
        return (today - timedelta(days=1)).isoformat()
    return value


def _run_line(r: pb.ReconciliationRun) -> str:
    return (
        f"{r.channel}/{r.account_id} {r.bill_date}: {r.status} (run {r.run_id}, attempt "
        f"{r.attempts}); bill {r.provider_lines} lines: {r.payment_count} payments "
        f"{r.payment_amount}, {r.refund_count} refunds {r.refund_amount}, fees {r.fee_amount}; "
        f"matched {r.matched_count}, mismatches {r.mismatch_count}, open {r.open_count}"
        + (
            f"\n  fund flow {r.fund_flow_lines} lines: income {r.fund_income_count} "
            f"{r.fund_income_amount}, expense {r.fund_expense_count} {r.fund_expense_amount}, "
            f"net {r.fund_income_amount - r.fund_expense_amount}"
            if r.fund_flow
            else ""
        )
        + (f"\n  error: {r.error}" if r.error else "")
    )


def _mismatch_line(m: pb.Mismatch) -> str:
    return (
        f"  {m.mismatch_id} {m.status:<8} {m.kind:<17} {m.object_kind} {m.object_id}: ours "
        f"{m.ours_state or '-'} {m.ours_amount} / provider {m.provider_state or '-'} "
        f"{m.provider_amount}; {m.detail}" + (f" [{m.resolution}]" if m.resolution else "")
    )


def _channel(args: argparse.Namespace) -> grpc.aio.Channel:
    settings = load_settings(args.config)
    return tls.open_channel(target(args.target, settings), settings)


async def _run(args: argparse.Namespace) -> int:
    channel, sep, account_id = args.account.partition("/")
    if not sep or not channel or not account_id:
        print("--account must be channel/account_id", file=sys.stderr)
        return 2
    async with _channel(args) as ch:
        stub = rpc_grpc.ReconciliationServiceStub(ch)
        answer = await stub.RunReconciliation(
            rpc.RunReconciliationRequest(
                channel=channel, account_id=account_id, bill_date=bill_date(args.date)
            ),
            timeout=args.timeout,
        )
    print(_run_line(answer.run))
    for m in answer.mismatches:
        print(_mismatch_line(m))
    return 0 if answer.run.status != "FAILED" else 1


async def _report(args: argparse.Namespace) -> int:
    day = bill_date(args.date)
    async with _channel(args) as ch:
        stub = rpc_grpc.ReconciliationServiceStub(ch)
        runs = await stub.ListRuns(rpc.ListRunsRequest(bill_date=day), timeout=args.timeout)
        mismatches = await stub.ListMismatches(
            rpc.ListMismatchesRequest(bill_date=day), timeout=args.timeout
        )
        summary = await stub.GetSettlementSummary(
            rpc.GetSettlementSummaryRequest(bill_date=day), timeout=args.timeout
        )
    if args.csv:
        sys.stdout.write(summary.csv)
        return 0
    print(f"reconciliation {day} (China time)")
    for r in runs.runs:
        print(_run_line(r))
    if not runs.runs:
        print("no runs for this day")
    if mismatches.mismatches:
        print("mismatches:")
        for m in mismatches.mismatches:
            print(_mismatch_line(m))
    print("settlement (fen):")
    sys.stdout.write(summary.csv)
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    r = sub.add_parser("recon", help="reconciliation: run a day's bill, report")
    rsub = r.add_subparsers(dest="recon_command", required=True)
    run = rsub.add_parser("run", help="reconcile one channel account's bill for a day")
    run.add_argument("--account", required=True, help="channel/account_id, e.g. wechat/wechat-demo")
    run.add_argument("--date", default="yesterday", help="yyyy-MM-dd, today or yesterday")
    report = rsub.add_parser("report", help="runs, mismatches and the settlement of a day")
    report.add_argument("--date", default="yesterday", help="yyyy-MM-dd, today or yesterday")
    report.add_argument("--csv", action="store_true", help="only the settlement summary CSV")
    for p in (run, report):
        p.add_argument("--target", help="ReconciliationService host:port")
        p.add_argument("--config", help="settings TOML (else PAYMESH_CONFIG; env overrides)")
        p.add_argument("--timeout", type=float, default=60.0)
    run.set_defaults(recon=_run)
    report.set_defaults(recon=_report)


__all__ = ["add_parser", "bill_date", "target"]
