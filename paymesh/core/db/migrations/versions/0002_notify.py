"""Notifier tables: notify_deliveries (one per event), notify_attempts (one per POST).

Models: ``paymesh.core.db.notify_models``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0002"
down_revision: str | None = "0001"
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


def s(name: str, length: int, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "notify_deliveries",
        s("event_id", 32),
        s("app_id", 64),
        s("event_type", 32),
        s("status", 16),
        s("round_id", 64),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        s("last_error", 512),
        ts("created_at"),
        ts("updated_at"),
        ts("delivered_at", nullable=True),
        ts("failed_at", nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="pk_notify_deliveries"),
        **TABLE_KW,
    )
    op.create_index("ix_notify_deliveries_app_id_status", "notify_deliveries", ["app_id", "status"])
    op.create_index(
        "ix_notify_deliveries_status_updated_at", "notify_deliveries", ["status", "updated_at"]
    )

    op.create_table(
        "notify_attempts",
        s("round_id", 64),
        sa.Column("attempt", sa.Integer(), nullable=False, autoincrement=False),
        s("event_id", 32),
        s("url", 512),
        ts("attempted_at"),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        s("body_excerpt", 512),
        s("error", 512),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("round_id", "attempt", name="pk_notify_attempts"),
        **TABLE_KW,
    )
    op.create_index(
        "ix_notify_attempts_event_id_attempted_at", "notify_attempts", ["event_id", "attempted_at"]
    )


def downgrade() -> None:
    for table in ("notify_attempts", "notify_deliveries"):
        op.drop_table(table)
