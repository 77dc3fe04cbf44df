"""Ops console tables (migration ``console``): operators, their sessions, the audit log.

On their own MetaData (only the console and `paymesh config` use them), with the naming
convention and table options of the core models.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from paymesh.core.db.models import NAMING, TABLE_ARGS, UtcDateTime


class Role(StrEnum):
    ADMIN = "admin"  # reads and edits
    VIEWER = "viewer"  # reads only


class ConsoleBase(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class ConsoleUser(ConsoleBase):
    __tablename__ = "console_users"
    __table_args__ = (TABLE_ARGS,)

    username: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16))
    disabled: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ConsoleSession(ConsoleBase):
    """A logged-in browser. Only the SHA-256 of the cookie's token is stored."""

    __tablename__ = "console_sessions"
    __table_args__ = (sa.Index(None, "username"), TABLE_ARGS)

    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64))
    csrf_token: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuditEntry(ConsoleBase):
    """One change or login: who, when, which key, which fields changed (names only)."""

    __tablename__ = "console_audit"
    __table_args__ = (
        sa.Index(None, "at"),
        sa.Index(None, "actor", "action", "at"),
        sa.Index(None, "key"),
        sa.Index(None, "remote", "action", "at"),  # the per-address login throttle
        TABLE_ARGS,
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(sa.String(64))
    source: Mapped[str] = mapped_column(sa.String(16))  # console | cli
    action: Mapped[str] = mapped_column(sa.String(32))
    key: Mapped[str] = mapped_column(sa.String(255), default="")
    fields: Mapped[str] = mapped_column(sa.String(2048), default="")  # comma-separated names
    revision: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    outcome: Mapped[str] = mapped_column(sa.String(16), default="ok")
    detail: Mapped[str] = mapped_column(sa.String(512), default="")
    remote: Mapped[str] = mapped_column(sa.String(64), default="")


__all__ = ["AuditEntry", "ConsoleBase", "ConsoleSession", "ConsoleUser", "Role"]
