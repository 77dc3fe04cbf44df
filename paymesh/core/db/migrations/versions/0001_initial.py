"""Initial schema: pay_orders, refunds, transfers, channel_requests, outbox, callbacks.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_KW: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def _ts() -> Any:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def ts(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, _ts(), nullable=nullable)


def s(name: str, length: int, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def money(name: str, server_default: str | None = None) -> sa.Column[Any]:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default=server_default)


def long_text(name: str) -> sa.Column[Any]:
    return sa.Column(
        name, sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"), nullable=False
    )


def version() -> sa.Column[Any]:
    return sa.Column("version", sa.Integer(), nullable=False, server_default="1")


def upgrade() -> None:
    op.create_table(
        "pay_orders",
        s("order_id", 32),
        s("app_id", 64),
        s("out_trade_no", 64),
        money("amount"),
        s("currency", 3),
        s("channel", 32),
        s("account_id", 64),
        s("method", 16),
        s("status", 16),
        s("subject", 256),
        s("description", 1024),
        s("notify_url", 512),
        s("return_url", 512),
        s("client_ip", 64),
        s("payer_id", 128),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("pay_data", sa.JSON(), nullable=True),
        s("channel_trade_no", 64),
        s("fail_reason", 256),
        money("refunded_amount", "0"),
        money("pending_refund_amount", "0"),
        ts("expire_time"),
        ts("created_at"),
        ts("updated_at"),
        ts("paid_at", nullable=True),
        ts("closed_at", nullable=True),
        version(),
        sa.PrimaryKeyConstraint("order_id", name="pk_pay_orders"),
        sa.UniqueConstraint("app_id", "out_trade_no", name="uq_pay_orders_app_id_out_trade_no"),
        **TABLE_KW,
    )
    op.create_index("ix_pay_orders_status_created_at", "pay_orders", ["status", "created_at"])
    op.create_index("ix_pay_orders_status_expire_time", "pay_orders", ["status", "expire_time"])

    op.create_table(
        "refunds",
        s("refund_id", 32),
        s("app_id", 64),
        s("out_refund_no", 64),
        s("order_id", 32),
        s("out_trade_no", 64),
        money("amount"),
        s("currency", 3),
        s("channel", 32),
        s("account_id", 64),
        s("status", 16),
        s("reason", 256),
        s("channel_refund_no", 64),
        s("fail_reason", 256),
        s("notify_url", 512),
        sa.Column("metadata", sa.JSON(), nullable=False),
        ts("created_at"),
        ts("updated_at"),
        ts("succeeded_at", nullable=True),
        version(),
        sa.PrimaryKeyConstraint("refund_id", name="pk_refunds"),
        sa.UniqueConstraint("app_id", "out_refund_no", name="uq_refunds_app_id_out_refund_no"),
        **TABLE_KW,
    )
    op.create_index("ix_refunds_order_id", "refunds", ["order_id"])
    op.create_index("ix_refunds_status_created_at", "refunds", ["status", "created_at"])

    op.create_table(
        "transfers",
        s("transfer_id", 32),
        s("app_id", 64),
        s("out_transfer_no", 64),
        money("amount"),
        s("currency", 3),
        s("channel", 32),
        s("account_id", 64),
        s("payee_id", 128),
        s("payee_name", 128),
        s("remark", 256),
        s("status", 16),
        s("channel_transfer_no", 64),
        s("fail_reason", 256),
        s("notify_url", 512),
        sa.Column("metadata", sa.JSON(), nullable=False),
        ts("created_at"),
        ts("updated_at"),
        ts("succeeded_at", nullable=True),
        ts("failed_at", nullable=True),
        version(),
        sa.PrimaryKeyConstraint("transfer_id", name="pk_transfers"),
        sa.UniqueConstraint(
            "app_id", "out_transfer_no", name="uq_transfers_app_id_out_transfer_no"
        ),
        **TABLE_KW,
    )
    op.create_index("ix_transfers_status_created_at", "transfers", ["status", "created_at"])

    op.create_table(
        "channel_requests",
        s("id", 32),
        s("object_kind", 16),
        s("object_id", 32),
        s("channel", 32),
        s("account_id", 64),
        s("rpc", 64),
        s("http_method", 8),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        long_text("request_body"),
        long_text("response_body"),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_channel_requests"),
        **TABLE_KW,
    )
    op.create_index(
        "ix_channel_requests_object_kind_object_id",
        "channel_requests",
        ["object_kind", "object_id"],
    )
    op.create_index("ix_channel_requests_created_at", "channel_requests", ["created_at"])

    op.create_table(
        "outbox",
        s("event_id", 32),
        s("event_type", 32),
        s("app_id", 64),
        s("aggregate_id", 32),
        s("notify_url", 512),
        sa.Column("payload", sa.JSON(), nullable=False),
        s("status", 16),
        s("claim_token", 32, nullable=True),
        ts("claimed_until", nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        ts("created_at"),
        ts("published_at", nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="pk_outbox"),
        **TABLE_KW,
    )
    op.create_index("ix_outbox_status_created_at", "outbox", ["status", "created_at"])
    op.create_index("ix_outbox_aggregate_id", "outbox", ["aggregate_id"])

    op.create_table(
        "callbacks",
        s("id", 32),
        s("channel", 32),
        s("account_id", 64),
        s("content_type", 128),
        sa.Column("headers", sa.JSON(), nullable=False),
        long_text("body"),
        sa.Column("verified", sa.Boolean(), nullable=False),
        s("outcome", 64),
        s("object_kind", 16),
        s("object_id", 32),
        sa.Column("error", sa.Text(), nullable=False),
        ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_callbacks"),
        **TABLE_KW,
    )
    op.create_index("ix_callbacks_channel_created_at", "callbacks", ["channel", "created_at"])
    op.create_index("ix_callbacks_object_id", "callbacks", ["object_id"])


def downgrade() -> None:
    for table in ("callbacks", "outbox", "channel_requests", "transfers", "refunds", "pay_orders"):
        op.drop_table(table)
