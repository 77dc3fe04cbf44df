"""late_payments: payments reported for orders already closed or failed (issue 9.2).

Model: ``paymesh.core.db.models.LatePayment``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_KW: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def ts(name: str) -> sa.Column[Any]:
    return sa.Column(
        name, sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"), nullable=False
    )


def s(name: str, length: int) -> sa.Column[Any]:
    return sa.Column(name, sa.String(length), nullable=False)


def upgrade() -> None:
    op.create_table(
        "late_payments",
        s("late_payment_id", 32),
        s("order_id", 32),
        s("app_id", 64),
        s("channel", 32),
        s("account_id", 64),
        s("channel_trade_no", 64),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        s("currency", 3),
        s("order_status", 16),
        s("policy", 16),
        s("refund_id", 32),
        ts("paid_at"),
        ts("created_at"),
        sa.PrimaryKeyConstraint("late_payment_id", name="pk_late_payments"),
        sa.UniqueConstraint("order_id", name="uq_late_payments_order_id"),
        **TABLE_KW,
    )
    op.create_index("ix_late_payments_app_id_created_at", "late_payments", ["app_id", "created_at"])


def downgrade() -> None:
    op.drop_table("late_payments")
