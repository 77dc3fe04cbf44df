"""The console's client of the ops `ReconciliationService` (`paymesh serve recon`), at the
settings' `recon_target` (mTLS when the settings say so). Reconciliation owns its tables;
the console reads and changes them only through this service."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import grpc

from paymesh.ops.v1 import reconciliation_pb2 as pb
from paymesh.ops.v1 import reconciliation_service_pb2 as rpc
from paymesh.ops.v1 import reconciliation_service_pb2_grpc as rpc_grpc
from paymesh.runtime import tls
from paymesh.runtime.settings import Settings

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")  # bill days are China-time days
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIMEOUT = 60.0  # a run downloads and matches a whole bill
ACTIONS = {"accept": rpc.RESOLVE_ACTION_ACCEPT, "repair": rpc.RESOLVE_ACTION_REPAIR}


class ReconUnavailable(RuntimeError):
    """No `recon_target` configured, or the service did not answer."""


def today() -> str:
    return datetime.now(CHINA).date().isoformat()


def valid_day(value: str) -> bool:
    if not DAY.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


class ReconClient:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @contextlib.asynccontextmanager
    async def _stub(self) -> AsyncIterator[Any]:  # the aio stub (the .pyi types it sync)
        target = self.settings.recon_target
        if not target:
            raise ReconUnavailable("recon_target is not configured")
        async with tls.open_channel(target, self.settings) as channel:
            yield rpc_grpc.ReconciliationServiceStub(channel)

    async def runs(self, bill_date: str = "", account_id: str = "") -> list[pb.ReconciliationRun]:
        async with self._stub() as stub:
            resp = await stub.ListRuns(
                rpc.ListRunsRequest(bill_date=bill_date, account_id=account_id), timeout=10
            )
        return list(resp.runs)

    async def run_of(self, channel: str, account_id: str, bill_date: str) -> pb.ReconciliationRun:
        """The run of (channel, account, day); LookupError when there is none."""
        for run in await self.runs(bill_date, account_id):
            if run.channel == channel:
                return run
        raise LookupError(f"no reconciliation run for {channel}/{account_id} on {bill_date}")

    async def mismatches(self, run_id: str, status: str = "") -> list[pb.Mismatch]:
        async with self._stub() as stub:
            resp = await stub.ListMismatches(
                rpc.ListMismatchesRequest(run_id=run_id, status=status), timeout=10
            )
        return list(resp.mismatches)

    async def run(
        self, channel: str, account_id: str, bill_date: str
    ) -> rpc.RunReconciliationResponse:
        req = rpc.RunReconciliationRequest(
            channel=channel, account_id=account_id, bill_date=bill_date
        )
        async with self._stub() as stub:
            answer: rpc.RunReconciliationResponse = await stub.RunReconciliation(
                req, timeout=TIMEOUT
            )
        return answer

    async def resolve(self, mismatch_id: str, action: str, note: str, actor: str) -> pb.Mismatch:
        req = rpc.ResolveMismatchRequest(
            mismatch_id=mismatch_id, action=ACTIONS[action], note=note, actor=actor
        )
        async with self._stub() as stub:
            resp = await stub.ResolveMismatch(req, timeout=TIMEOUT)
        mismatch: pb.Mismatch = resp.mismatch
        return mismatch

    async def settlement(self, bill_date: str) -> rpc.GetSettlementSummaryResponse:
        req = rpc.GetSettlementSummaryRequest(bill_date=bill_date)
        async with self._stub() as stub:
            answer: rpc.GetSettlementSummaryResponse = await stub.GetSettlementSummary(
                req, timeout=10
            )
        return answer


def rpc_error(e: BaseException) -> tuple[int, str]:
    """An HTTP status and a message for a failed call."""
    if isinstance(e, grpc.aio.AioRpcError):
        status = {
            grpc.StatusCode.INVALID_ARGUMENT: 400,
            grpc.StatusCode.FAILED_PRECONDITION: 409,
            grpc.StatusCode.NOT_FOUND: 404,
        }.get(e.code(), 502)
        return status, str(e.details() or e.code().name)
    if isinstance(e, LookupError):
        return 404, str(e.args[0] if e.args else e)
    return 502, str(e)


__all__ = ["ACTIONS", "CHINA", "ReconClient", "ReconUnavailable", "rpc_error", "today", "valid_day"]
