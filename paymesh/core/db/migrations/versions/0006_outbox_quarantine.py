"""Outbox quarantine: a row that can never be published (too large for the bus, not
serialisable) is set aside with its reason instead of blocking every row behind it.

- outbox: ``quarantine_reason`` (why the relay set the row aside; status QUARANTINED).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "outbox",
        sa.Column("quarantine_reason", sa.String(256), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_column("outbox", "quarantine_reason")
