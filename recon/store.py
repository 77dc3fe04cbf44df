"""Reconciliation storage: runs saved idempotently per (channel, account, day), mismatches
with their audited resolutions, settlement summaries; our books for a day come from
`recon.books`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from paymesh.channel.v1 import channel_pb2
from paymesh.core.db.base import rowcount
from paymesh.errors import MismatchNotFound
from paymesh.recon.books import Books, RunKey
from paymesh.recon.match import Finding, Result
from paymesh.recon.models import (
    MismatchStatus,
    ReconAction,
    ReconEntry,
    ReconMismatch,
    ReconRun,
    RunStatus,
)

SYSTEM = "paymesh-recon"


@dataclass(frozen=True)
class Settlement:
    """One app's money on one channel for one day, from the matched bill lines."""

    bill_date: str
    app_id: str
    channel: str
    payment_count: int
    payment_amount: int
    refund_count: int
    refund_amount: int
    fee_amount: int

    @property
    def net_amount(self) -> int:
        return self.payment_amount - self.refund_amount - self.fee_amount


def _store_fund_flow(run: ReconRun, flow: channel_pb2.FundFlowSummary | None) -> None:
    """The fund flow bill's counts and totals (None / NULL: the channel has none)."""
    run.fund_flow_lines = flow.entry_count if flow is not None else None
    run.fund_income_count = flow.income_count if flow is not None else 0
    run.fund_income_amount = flow.income_amount if flow is not None else 0
    run.fund_expense_count = flow.expense_count if flow is not None else 0
    run.fund_expense_amount = flow.expense_amount if flow is not None else 0


class ReconStore(Books):
    # --- runs -----------------------------------------------------------------------------

    async def _run_row(self, s: AsyncSession, key: RunKey, now: datetime) -> ReconRun:
        row = await s.scalar(
            sa.select(ReconRun)
            .where(
                ReconRun.channel == key.channel,
                ReconRun.account_id == key.account_id,
                ReconRun.bill_date == key.bill_date,
            )
            .with_for_update()
        )
        if row is not None:
            row.attempts += 1
            row.started_at = now
            return row
        row = ReconRun(
            run_id=self.ids.next_id("RR"), channel=key.channel, account_id=key.account_id,
            bill_date=key.bill_date, status=RunStatus.FAILED, attempts=1, error="",
            provider_lines=0, payment_count=0, payment_amount=0, refund_count=0,
            refund_amount=0, fee_amount=0, matched_count=0, mismatch_count=0, open_count=0,
            started_at=now, finished_at=now,
        )  # fmt: skip
        s.add(row)
        await s.flush()
        return row

    async def save_failed(self, key: RunKey, error: str) -> ReconRun:
        """A run whose bill could not be had: recorded, earlier findings left as they are."""
        now = self.clock()

        async def tx(s: AsyncSession) -> ReconRun:
            row = await self._run_row(s, key, now)
            row.status = RunStatus.FAILED
            row.error = error[:512]
            row.finished_at = now
            return row

        return await self._retry_insert(tx)

    async def save_run(
        self,
        key: RunKey,
        *,
        available: bool,
        summary: channel_pb2.BillSummary,
        result: Result,
        settled: dict[str, str],
        fund_flow: channel_pb2.FundFlowSummary | None = None,
    ) -> ReconRun:
        """Store a run's outcome in one transaction, idempotently: the same (kind, object)
        is one mismatch row across re-runs; an OPEN one the run no longer finds is RESOLVED
        ("cleared"); `settled` ({object_id: outcome}) findings were fixed by this run."""
        now = self.clock()

        async def tx(s: AsyncSession) -> ReconRun:
            run = await self._run_row(s, key, now)
            existing = {
                (m.kind, m.object_id): m
                for m in await s.scalars(
                    sa.select(ReconMismatch).where(ReconMismatch.run_id == run.run_id)
                )
            }
            found: set[tuple[str, str]] = set()
            for f in result.findings:
                found.add((f.kind.value, f.object_id))
                row = existing.get((f.kind.value, f.object_id))
                if row is None:
                    row = self._new_mismatch(run.run_id, f, now)
                    s.add(row)
                    await s.flush()
                else:
                    self._refresh(row, f, now)
                outcome = settled.get(f.object_id)
                if outcome and row.status == MismatchStatus.OPEN:
                    self._close(row, MismatchStatus.RESOLVED, "settled", SYSTEM, "", now)
                    s.add(self._action(row.mismatch_id, "settle", SYSTEM, "", outcome, now))
            for k, row in existing.items():
                if k not in found and row.status == MismatchStatus.OPEN:
                    self._close(row, MismatchStatus.RESOLVED, "cleared", SYSTEM, "", now)
                    s.add(self._action(row.mismatch_id, "clear", SYSTEM, "",
                                       "no longer found by a re-run", now))  # fmt: skip
            await s.execute(sa.delete(ReconEntry).where(ReconEntry.run_id == run.run_id))
            for e in result.entries:
                s.add(
                    ReconEntry(entry_id=self.ids.next_id("RE"), run_id=run.run_id,
                               app_id=e.app_id, kind=e.kind, object_id=e.object_id,
                               amount=e.amount, fee=e.fee)
                )  # fmt: skip
            await s.flush()
            run.status = RunStatus.DONE if available else RunStatus.NO_BILL
            run.error = ""
            run.provider_lines = summary.line_count
            run.payment_count = summary.payment_count
            run.payment_amount = summary.payment_amount
            run.refund_count = summary.refund_count
            run.refund_amount = summary.refund_amount
            run.fee_amount = summary.fee_amount
            _store_fund_flow(run, fund_flow)
            run.matched_count = len(result.entries)
            run.mismatch_count = len(result.findings)
            run.open_count = int(
                await s.scalar(
                    sa.select(sa.func.count()).select_from(ReconMismatch).where(
                        ReconMismatch.run_id == run.run_id,
                        ReconMismatch.status == MismatchStatus.OPEN,
                    )
                ) or 0
            )  # fmt: skip
            run.finished_at = now
            return run

        return await self._retry_insert(tx)

    async def _retry_insert(self, tx: Callable[[AsyncSession], Awaitable[ReconRun]]) -> ReconRun:
        """Two first runs of the same key racing: the loser's insert fails; run it again
        (it then finds the winner's row)."""
        try:
            return await self._run(tx)
        except IntegrityError:
            return await self._run(tx)

    def _new_mismatch(self, run_id: str, f: Finding, now: datetime) -> ReconMismatch:
        row = ReconMismatch(
            mismatch_id=self.ids.next_id("RM"), run_id=run_id, kind=f.kind.value,
            object_kind=f.object_kind, object_id=f.object_id, order_id=f.order_id,
            status=MismatchStatus.OPEN, resolution="", note="", resolved_by="",
            resolved_at=None, created_at=now,
        )  # fmt: skip
        self._refresh(row, f, now)
        return row

    @staticmethod
    def _refresh(row: ReconMismatch, f: Finding, now: datetime) -> None:
        row.app_id = f.app_id
        row.ours_amount = f.ours_amount
        row.provider_amount = f.provider_amount
        row.ours_state = f.ours_state
        row.provider_state = f.provider_state[:64]
        row.channel_trade_no = f.line.channel_trade_no if f.line is not None else ""
        row.detail = f.detail[:256]
        row.updated_at = now
        if row.status == MismatchStatus.RESOLVED and row.resolution == "cleared":
            row.status = MismatchStatus.OPEN  # it is back
            row.resolution = ""
            row.resolved_at = None

    @staticmethod
    def _close(
        row: ReconMismatch,
        status: MismatchStatus,
        resolution: str,
        actor: str,
        note: str,
        now: datetime,
    ) -> None:
        row.status = status
        row.resolution = resolution
        row.resolved_by = actor
        row.note = note[:512]
        row.resolved_at = now
        row.updated_at = now

    def _action(
        self, mismatch_id: str, action: str, actor: str, note: str, outcome: str, now: datetime
    ) -> ReconAction:
        return ReconAction(
            action_id=self.ids.next_id("RA"), mismatch_id=mismatch_id, action=action,
            actor=actor[:64], note=note[:512], outcome=outcome[:256], created_at=now,
        )  # fmt: skip

    # --- reads ----------------------------------------------------------------------------

    async def get_run(self, key: RunKey) -> ReconRun | None:
        async def tx(s: AsyncSession) -> ReconRun | None:
            return await s.scalar(
                sa.select(ReconRun).where(
                    ReconRun.channel == key.channel,
                    ReconRun.account_id == key.account_id,
                    ReconRun.bill_date == key.bill_date,
                )
            )

        return await self._run(tx)

    async def list_runs(self, bill_date: str = "", account_id: str = "") -> list[ReconRun]:
        async def tx(s: AsyncSession) -> list[ReconRun]:
            q = sa.select(ReconRun)
            if bill_date:
                q = q.where(ReconRun.bill_date == bill_date)
            if account_id:
                q = q.where(ReconRun.account_id == account_id)
            q = q.order_by(ReconRun.bill_date.desc(), ReconRun.channel, ReconRun.account_id)
            return list(await s.scalars(q.limit(1000)))

        return await self._run(tx)

    async def list_mismatches(
        self, *, run_id: str = "", status: str = "", bill_date: str = ""
    ) -> list[ReconMismatch]:
        async def tx(s: AsyncSession) -> list[ReconMismatch]:
            q = sa.select(ReconMismatch)
            if run_id:
                q = q.where(ReconMismatch.run_id == run_id)
            if status:
                q = q.where(ReconMismatch.status == status)
            if bill_date:
                runs = sa.select(ReconRun.run_id).where(ReconRun.bill_date == bill_date)
                q = q.where(ReconMismatch.run_id.in_(runs))
            q = q.order_by(ReconMismatch.created_at, ReconMismatch.mismatch_id)
            return list(await s.scalars(q.limit(5000)))

        return await self._run(tx)

    async def get_mismatch(self, mismatch_id: str) -> tuple[ReconMismatch, ReconRun]:
        async def tx(s: AsyncSession) -> tuple[ReconMismatch, ReconRun]:
            row = await s.get(ReconMismatch, mismatch_id)
            run = await s.get(ReconRun, row.run_id) if row is not None else None
            if row is None or run is None:
                raise MismatchNotFound(f"no mismatch {mismatch_id!r}")
            return row, run

        return await self._run(tx)

    async def actions(self, mismatch_id: str) -> list[ReconAction]:
        async def tx(s: AsyncSession) -> list[ReconAction]:
            q = sa.select(ReconAction).where(ReconAction.mismatch_id == mismatch_id)
            return list(await s.scalars(q.order_by(ReconAction.created_at)))

        return await self._run(tx)

    async def resolve(
        self,
        mismatch_id: str,
        *,
        status: MismatchStatus,
        resolution: str,
        action: str,
        actor: str,
        note: str,
        outcome: str,
    ) -> tuple[ReconMismatch, bool]:
        """Close an OPEN mismatch with one conditional UPDATE (a closed one stays as it is:
        of two operators racing, one closes it) and audit it; returns the row and whether this
        call closed it. The action is recorded either way (a repair that did not close it is
        history too; a close that lost the race says so)."""
        now = self.clock()

        async def tx(s: AsyncSession) -> tuple[ReconMismatch, bool]:
            closed = False
            if status != MismatchStatus.OPEN:
                result = await s.execute(
                    sa.update(ReconMismatch)
                    .where(
                        ReconMismatch.mismatch_id == mismatch_id,
                        ReconMismatch.status == MismatchStatus.OPEN,
                    )
                    .values(
                        status=status,
                        resolution=resolution,
                        resolved_by=actor[:64],
                        note=note[:512],
                        resolved_at=now,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                closed = rowcount(result) == 1
            row = await s.get(ReconMismatch, mismatch_id, populate_existing=True)
            if row is None:
                raise MismatchNotFound(f"no mismatch {mismatch_id!r}")
            if closed:
                await s.execute(  # the run's open count follows at once, not at the next run
                    sa.update(ReconRun)
                    .where(ReconRun.run_id == row.run_id, ReconRun.open_count > 0)
                    .values(open_count=ReconRun.open_count - 1)
                )
            said = outcome
            if status != MismatchStatus.OPEN and not closed:
                said = f"already {row.status} by {row.resolved_by or 'paymesh'}: unchanged"
            s.add(self._action(mismatch_id, action, actor, note, said, now))
            return row, closed

        return await self._run(tx)

    async def settlement(self, bill_date: str) -> list[Settlement]:
        async def tx(s: AsyncSession) -> list[Settlement]:
            payment = sa.case((ReconEntry.kind == "payment", 1), else_=0)
            refund = sa.case((ReconEntry.kind == "refund", 1), else_=0)
            q = (
                sa.select(
                    ReconEntry.app_id,
                    ReconRun.channel,
                    sa.func.sum(payment),
                    sa.func.sum(payment * ReconEntry.amount),
                    sa.func.sum(refund),
                    sa.func.sum(refund * ReconEntry.amount),
                    sa.func.sum(ReconEntry.fee * payment - ReconEntry.fee * refund),
                )
                .join(ReconRun, ReconRun.run_id == ReconEntry.run_id)
                .where(ReconRun.bill_date == bill_date)
                .group_by(ReconEntry.app_id, ReconRun.channel)
                .order_by(ReconEntry.app_id, ReconRun.channel)
            )
            return [
                Settlement(bill_date, app, channel, int(pc or 0), int(pa or 0), int(rc or 0),
                           int(ra or 0), int(fee or 0))
                for app, channel, pc, pa, rc, ra, fee in (await s.execute(q)).all()
            ]  # fmt: skip

        return await self._run(tx)


__all__ = ["SYSTEM", "ReconStore", "RunKey", "Settlement"]
