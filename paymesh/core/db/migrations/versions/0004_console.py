"""Ops console tables: console_users, console_sessions, console_audit.

Models: ``paymesh.core.db.console_models``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0004"
down_revision: str | None = "0003"
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
        "console_users",
        s("username", 64),
        s("password_hash", 255),
        s("role", 16),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        ts("created_at"),
        ts("updated_at"),
        sa.PrimaryKeyConstraint("username", name="pk_console_users"),
        **TABLE_KW,
    )
    op.create_table(
        "console_sessions",
        s("token_hash", 64),
        s("username", 64),
        s("csrf_token", 64),
        ts("created_at"),
        ts("expires_at"),
        sa.PrimaryKeyConstraint("token_hash", name="pk_console_sessions"),
        **TABLE_KW,
    )
    op.create_index("ix_console_sessions_username", "console_sessions", ["username"])
    op.create_table(
        "console_audit",
        s("id", 32),
        ts("at"),
        s("actor", 64),
        s("source", 16),
        s("action", 32),
        s("key", 255),
        s("fields", 2048),
        sa.Column("revision", sa.BigInteger(), nullable=True),
        s("outcome", 16),
        s("detail", 512),
        s("remote", 64),
        sa.PrimaryKeyConstraint("id", name="pk_console_audit"),
        **TABLE_KW,
    )
    op.create_index("ix_console_audit_at", "console_audit", ["at"])
    op.create_index("ix_console_audit_actor_action_at", "console_audit", ["actor", "action", "at"])
    op.create_index("ix_console_audit_key", "console_audit", ["key"])


def downgrade() -> None:
    for table in ("console_audit", "console_sessions", "console_users"):
        op.drop_table(table)
