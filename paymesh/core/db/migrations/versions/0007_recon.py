"""Reconciliation tables: recon_runs, recon_mismatches, recon_entries, recon_actions.

Models: ``paymesh.recon.models``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_KW: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def ts(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(
        name,
        sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
        nullable=nullable,
    )


def s(name: str, length: int) -> sa.Column[Any]:
    return sa.Column(name, sa.String(length), nullable=False)


def n(name: str, big: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.BigInteger() if big else sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "recon_runs",
        s("run_id", 32),
        s("channel", 32),
        s("account_id", 64),
        s("bill_date", 10),
        s("status", 16),
        n("attempts"),
        s("error", 512),
        n("provider_lines"),
        n("payment_count"),
        n("payment_amount", big=True),
        n("refund_count"),
        n("refund_amount", big=True),
        n("fee_amount", big=True),
        n("matched_count"),
        n("mismatch_count"),
        n("open_count"),
        ts("started_at"),
        ts("finished_at"),
        sa.PrimaryKeyConstraint("run_id", name="pk_recon_runs"),
        sa.UniqueConstraint(
            "channel", "account_id", "bill_date", name="uq_recon_runs_channel_account_id_bill_date"
        ),
        **TABLE_KW,
    )
    op.create_index("ix_recon_runs_bill_date", "recon_runs", ["bill_date"])

    op.create_table(
        "recon_mismatches",
        s("mismatch_id", 32),
        s("run_id", 32),
        s("kind", 24),
        s("object_kind", 16),
        s("object_id", 64),
        s("order_id", 64),
        s("app_id", 64),
        n("ours_amount", big=True),
        n("provider_amount", big=True),
        s("ours_state", 32),
        s("provider_state", 64),
        s("channel_trade_no", 64),
        s("detail", 256),
        s("status", 16),
        s("resolution", 32),
        s("note", 512),
        s("resolved_by", 64),
        ts("resolved_at", nullable=True),
        ts("created_at"),
        ts("updated_at"),
        sa.PrimaryKeyConstraint("mismatch_id", name="pk_recon_mismatches"),
        sa.UniqueConstraint(
            "run_id", "kind", "object_id", name="uq_recon_mismatches_run_id_kind_object_id"
        ),
        **TABLE_KW,
    )
    op.create_index(
        "ix_recon_mismatches_status_created_at", "recon_mismatches", ["status", "created_at"]
    )

    op.create_table(
        "recon_entries",
        s("entry_id", 32),
        s("run_id", 32),
        s("app_id", 64),
        s("kind", 16),
        s("object_id", 64),
        n("amount", big=True),
        n("fee", big=True),
        sa.PrimaryKeyConstraint("entry_id", name="pk_recon_entries"),
        sa.UniqueConstraint(
            "run_id", "kind", "object_id", name="uq_recon_entries_run_id_kind_object_id"
        ),
        **TABLE_KW,
    )
    op.create_index("ix_recon_entries_app_id", "recon_entries", ["app_id"])

    op.create_table(
        "recon_actions",
        s("action_id", 32),
        s("mismatch_id", 32),
        s("action", 16),
        s("actor", 64),
        s("note", 512),
        s("outcome", 256),
        ts("created_at"),
        sa.PrimaryKeyConstraint("action_id", name="pk_recon_actions"),
        **TABLE_KW,
    )
    op.create_index("ix_recon_actions_mismatch_id", "recon_actions", ["mismatch_id"])
    op.create_index("ix_recon_actions_created_at", "recon_actions", ["created_at"])


def downgrade() -> None:
    for table in ("recon_actions", "recon_entries", "recon_mismatches", "recon_runs"):
        op.drop_table(table)
