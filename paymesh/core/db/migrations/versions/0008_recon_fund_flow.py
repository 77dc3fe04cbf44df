"""Reconciliation: the fund flow bill's counts and totals on a run.

- recon_runs: ``fund_flow_lines`` (NULL: the channel has no fund flow bill),
  ``fund_income_count``, ``fund_income_amount``, ``fund_expense_count``,
  ``fund_expense_amount`` (minor units).

Models: ``paymesh.recon.models.ReconRun``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTS = ("fund_income_count", "fund_expense_count")
AMOUNTS = ("fund_income_amount", "fund_expense_amount")


def upgrade() -> None:
    op.add_column("recon_runs", sa.Column("fund_flow_lines", sa.Integer(), nullable=True))
    for name in COUNTS:
        op.add_column(
            "recon_runs", sa.Column(name, sa.Integer(), nullable=False, server_default="0")
        )
    for name in AMOUNTS:
        op.add_column(
            "recon_runs", sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    for name in (*AMOUNTS, *COUNTS, "fund_flow_lines"):
        op.drop_column("recon_runs", name)
