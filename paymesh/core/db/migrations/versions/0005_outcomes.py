"""Unclear refund/transfer outcomes: the provider's own state, resubmissions, pay data.

- refunds, transfers: ``channel_state`` (the provider's state word, e.g. WeChat ABNORMAL),
  ``submit_attempts`` (resubmissions with the same merchant number after the provider
  said it never received the request) and ``pending_reason`` (why the record is still
  PENDING: the last unclear answer or resubmission, for operators).
- transfers: ``pay_data`` (what the payee's client needs, e.g. WeChat WAIT_USER_CONFIRM's
  package_info).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("refunds", "transfers")


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(
            table, sa.Column("channel_state", sa.String(32), nullable=False, server_default="")
        )
        op.add_column(
            table, sa.Column("submit_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        op.add_column(
            table, sa.Column("pending_reason", sa.String(256), nullable=False, server_default="")
        )
    op.add_column("transfers", sa.Column("pay_data", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("transfers", "pay_data")
    for table in _TABLES:
        op.drop_column(table, "pending_reason")
        op.drop_column(table, "submit_attempts")
        op.drop_column(table, "channel_state")
