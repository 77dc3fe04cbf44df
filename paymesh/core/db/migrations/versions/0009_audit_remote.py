"""Console audit: an index for the per-address login throttle.

- console_audit: ``ix_console_audit_remote_action_at`` (remote, action, at): failed logins
  from one address within the window are counted in the database, so every console replica
  sees the same count (it was a per-process counter).

Models: ``paymesh.core.db.console_models.AuditEntry``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_console_audit_remote_action_at", "console_audit", ["remote", "action", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_console_audit_remote_action_at", table_name="console_audit")
