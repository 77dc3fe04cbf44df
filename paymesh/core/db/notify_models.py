"""Notifier tables (migration ``0002_notify``): one row per event, one per delivery attempt.

Kept on their own MetaData (the notifier owns them; the gateways never touch them), with
the same naming convention and table options as ``paymesh.core.db.models``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from paymesh.core.db.models import NAMING, TABLE_ARGS, UtcDateTime

EXCERPT_CHARS = 512


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class NotifyBase(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class NotifyDelivery(NotifyBase):
    """Where one event stands with its merchant. ``round_id`` is the bus message id of the
    current delivery round (the event id, or ``<event_id>.r<n>`` after a re-send)."""

    __tablename__ = "notify_deliveries"
    __table_args__ = (
        sa.Index(None, "app_id", "status"),
        sa.Index(None, "status", "updated_at"),
        TABLE_ARGS,
    )

    event_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    app_id: Mapped[str] = mapped_column(sa.String(64))
    event_type: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16))
    round_id: Mapped[str] = mapped_column(sa.String(64))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    last_error: Mapped[str] = mapped_column(sa.String(512), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class NotifyAttempt(NotifyBase):
    """One POST (or refused POST) to a merchant's notify_url."""

    __tablename__ = "notify_attempts"
    __table_args__ = (sa.Index(None, "event_id", "attempted_at"), TABLE_ARGS)

    round_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    attempt: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(sa.String(32))
    url: Mapped[str] = mapped_column(sa.String(512), default="")
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    http_status: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    latency_ms: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    body_excerpt: Mapped[str] = mapped_column(sa.String(EXCERPT_CHARS), default="")
    error: Mapped[str] = mapped_column(sa.String(512), default="")
    delivered: Mapped[bool] = mapped_column(sa.Boolean, default=False)


__all__ = ["EXCERPT_CHARS", "DeliveryStatus", "NotifyAttempt", "NotifyBase", "NotifyDelivery"]
