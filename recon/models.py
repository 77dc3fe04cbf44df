"""Reconciliation tables (migration ``recon``): runs, mismatches, settlement entries and the
operators' actions on mismatches.

Kept on their own MetaData (reconciliation owns them; nothing else writes them), with the
same naming convention and table options as the core models.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from paymesh.core.db.models import NAMING, TABLE_ARGS, Money, UtcDateTime


class RunStatus(StrEnum):
    DONE = "DONE"  # the bill was matched
    NO_BILL = "NO_BILL"  # the provider has no bill for the day (no trades): matched as empty
    FAILED = "FAILED"  # the bill could not be downloaded or trusted; nothing was matched


class MismatchStatus(StrEnum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"  # settled, repaired, or gone on a later run
    ACCEPTED = "ACCEPTED"  # an operator accepted the difference, with a note


class ReconBase(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class ReconRun(ReconBase):
    """One reconciliation of (channel, account, day); re-running updates the same row."""

    __tablename__ = "recon_runs"
    __table_args__ = (
        sa.UniqueConstraint("channel", "account_id", "bill_date"),
        sa.Index(None, "bill_date"),
        TABLE_ARGS,
    )

    run_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(32))
    account_id: Mapped[str] = mapped_column(sa.String(64))
    bill_date: Mapped[str] = mapped_column(sa.String(10))  # yyyy-MM-dd, China time
    status: Mapped[str] = mapped_column(sa.String(16))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=1)
    error: Mapped[str] = mapped_column(sa.String(512), default="")
    provider_lines: Mapped[int] = mapped_column(sa.Integer, default=0)
    payment_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    payment_amount: Mapped[int] = mapped_column(Money, default=0)
    refund_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    refund_amount: Mapped[int] = mapped_column(Money, default=0)
    fee_amount: Mapped[int] = mapped_column(Money, default=0)
    matched_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    mismatch_count: Mapped[int] = mapped_column(sa.Integer, default=0)  # found by the last run
    open_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    # The fund flow bill (WeChat, migration 0008): NULL lines = the channel has none.
    fund_flow_lines: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    fund_income_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    fund_income_amount: Mapped[int] = mapped_column(Money, default=0)
    fund_expense_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    fund_expense_amount: Mapped[int] = mapped_column(Money, default=0)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReconMismatch(ReconBase):
    """One difference of a run, keyed by (run, type, our order/refund id)."""

    __tablename__ = "recon_mismatches"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "kind", "object_id"),
        sa.Index(None, "status", "created_at"),
        TABLE_ARGS,
    )

    mismatch_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    run_id: Mapped[str] = mapped_column(sa.String(32))
    kind: Mapped[str] = mapped_column(sa.String(24))
    object_kind: Mapped[str] = mapped_column(sa.String(16))
    object_id: Mapped[str] = mapped_column(sa.String(64))
    order_id: Mapped[str] = mapped_column(sa.String(64))
    app_id: Mapped[str] = mapped_column(sa.String(64), default="")
    ours_amount: Mapped[int] = mapped_column(Money, default=0)
    provider_amount: Mapped[int] = mapped_column(Money, default=0)
    ours_state: Mapped[str] = mapped_column(sa.String(32), default="")
    provider_state: Mapped[str] = mapped_column(sa.String(64), default="")
    channel_trade_no: Mapped[str] = mapped_column(sa.String(64), default="")
    detail: Mapped[str] = mapped_column(sa.String(256), default="")
    status: Mapped[str] = mapped_column(sa.String(16))
    resolution: Mapped[str] = mapped_column(sa.String(32), default="")
    note: Mapped[str] = mapped_column(sa.String(512), default="")
    resolved_by: Mapped[str] = mapped_column(sa.String(64), default="")
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReconEntry(ReconBase):
    """A matched line of a run, for the settlement summary (replaced on every re-run)."""

    __tablename__ = "recon_entries"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "kind", "object_id"),
        sa.Index(None, "app_id"),
        TABLE_ARGS,
    )

    entry_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    run_id: Mapped[str] = mapped_column(sa.String(32))
    app_id: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(16))  # payment | refund
    object_id: Mapped[str] = mapped_column(sa.String(64))
    amount: Mapped[int] = mapped_column(Money)
    fee: Mapped[int] = mapped_column(Money)


class ReconAction(ReconBase):
    """The audit log of mismatches: every automatic settlement, every clearing by a re-run,
    every operator's accept or repair (who, when, what, the outcome)."""

    __tablename__ = "recon_actions"
    __table_args__ = (sa.Index(None, "mismatch_id"), sa.Index(None, "created_at"), TABLE_ARGS)

    action_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    mismatch_id: Mapped[str] = mapped_column(sa.String(32))
    action: Mapped[str] = mapped_column(sa.String(16))  # settle | clear | accept | repair
    actor: Mapped[str] = mapped_column(sa.String(64))
    note: Mapped[str] = mapped_column(sa.String(512), default="")
    outcome: Mapped[str] = mapped_column(sa.String(256), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


__all__ = [
    "MismatchStatus",
    "ReconAction",
    "ReconBase",
    "ReconEntry",
    "ReconMismatch",
    "ReconRun",
    "RunStatus",
]
