"""ORM models. InnoDB + utf8mb4 on MySQL/MariaDB/TiDB, plain SQLite for dev.

Times are stored as naive UTC (DATETIME(6) on MySQL) and come back timezone-aware.
Money is BIGINT minor units. Merchant numbers compare case-sensitively (utf8mb4_bin).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TABLE_ARGS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    PAID = "PAID"
    CLOSED = "CLOSED"
    FAILED = "FAILED"


class RefundStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class TransferStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class OutboxStatus(StrEnum):
    PENDING = "PENDING"
    PUBLISHED = "PUBLISHED"
    QUARANTINED = "QUARANTINED"  # can never be published as is (see quarantine_reason)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out; microseconds kept on MySQL."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


# Bodies of channel requests and callbacks can exceed 64 KiB (forms, certificates).
LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
Money = sa.BigInteger


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class PayOrder(Base):
    __tablename__ = "pay_orders"
    __table_args__ = (
        sa.UniqueConstraint("app_id", "out_trade_no"),
        sa.Index(None, "status", "created_at"),
        sa.Index(None, "status", "expire_time"),
        TABLE_ARGS,
    )

    order_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    app_id: Mapped[str] = mapped_column(sa.String(64))
    out_trade_no: Mapped[str] = mapped_column(sa.String(64))
    amount: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(sa.String(3))
    channel: Mapped[str] = mapped_column(sa.String(32))
    account_id: Mapped[str] = mapped_column(sa.String(64))
    method: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16))
    subject: Mapped[str] = mapped_column(sa.String(256), default="")
    description: Mapped[str] = mapped_column(sa.String(1024), default="")
    notify_url: Mapped[str] = mapped_column(sa.String(512), default="")
    return_url: Mapped[str] = mapped_column(sa.String(512), default="")
    client_ip: Mapped[str] = mapped_column(sa.String(64), default="")
    payer_id: Mapped[str] = mapped_column(sa.String(128), default="")
    meta: Mapped[dict[str, str]] = mapped_column("metadata", sa.JSON, default=dict)
    pay_data: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, nullable=True)
    channel_trade_no: Mapped[str] = mapped_column(sa.String(64), default="")
    fail_reason: Mapped[str] = mapped_column(sa.String(256), default="")
    refunded_amount: Mapped[int] = mapped_column(Money, default=0, server_default="0")
    pending_refund_amount: Mapped[int] = mapped_column(Money, default=0, server_default="0")
    expire_time: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1, server_default="1")


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        sa.UniqueConstraint("app_id", "out_refund_no"),
        sa.Index(None, "order_id"),
        sa.Index(None, "status", "created_at"),
        TABLE_ARGS,
    )

    refund_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    app_id: Mapped[str] = mapped_column(sa.String(64))
    out_refund_no: Mapped[str] = mapped_column(sa.String(64))
    order_id: Mapped[str] = mapped_column(sa.String(32))
    out_trade_no: Mapped[str] = mapped_column(sa.String(64))
    amount: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(sa.String(3))
    channel: Mapped[str] = mapped_column(sa.String(32))
    account_id: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str] = mapped_column(sa.String(256), default="")
    channel_refund_no: Mapped[str] = mapped_column(sa.String(64), default="")
    fail_reason: Mapped[str] = mapped_column(sa.String(256), default="")
    notify_url: Mapped[str] = mapped_column(sa.String(512), default="")
    meta: Mapped[dict[str, str]] = mapped_column("metadata", sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    succeeded_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    channel_state: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    """The provider's own state word (e.g. WeChat ABNORMAL), as last reported."""
    submit_attempts: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    """Resubmissions with the same merchant number after the provider never received it."""
    pending_reason: Mapped[str] = mapped_column(sa.String(256), default="", server_default="")
    """Why the record is still PENDING (last unclear answer or resubmission)."""
    version: Mapped[int] = mapped_column(sa.Integer, default=1, server_default="1")


class Transfer(Base):
    __tablename__ = "transfers"
    __table_args__ = (
        sa.UniqueConstraint("app_id", "out_transfer_no"),
        sa.Index(None, "status", "created_at"),
        TABLE_ARGS,
    )

    transfer_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    app_id: Mapped[str] = mapped_column(sa.String(64))
    out_transfer_no: Mapped[str] = mapped_column(sa.String(64))
    amount: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(sa.String(3))
    channel: Mapped[str] = mapped_column(sa.String(32))
    account_id: Mapped[str] = mapped_column(sa.String(64))
    payee_id: Mapped[str] = mapped_column(sa.String(128))
    payee_name: Mapped[str] = mapped_column(sa.String(128), default="")
    remark: Mapped[str] = mapped_column(sa.String(256), default="")
    status: Mapped[str] = mapped_column(sa.String(16))
    channel_transfer_no: Mapped[str] = mapped_column(sa.String(64), default="")
    fail_reason: Mapped[str] = mapped_column(sa.String(256), default="")
    notify_url: Mapped[str] = mapped_column(sa.String(512), default="")
    meta: Mapped[dict[str, str]] = mapped_column("metadata", sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    succeeded_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    channel_state: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    """The provider's own state word (e.g. WeChat ABNORMAL), as last reported."""
    submit_attempts: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    """Resubmissions with the same merchant number after the provider never received it."""
    pending_reason: Mapped[str] = mapped_column(sa.String(256), default="", server_default="")
    """Why the record is still PENDING (last unclear answer or resubmission)."""
    pay_data: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, nullable=True)
    """What the payee's client needs (WeChat WAIT_USER_CONFIRM package_info)."""
    version: Mapped[int] = mapped_column(sa.Integer, default=1, server_default="1")


class ChannelRequest(Base):
    """One request to a channel and its answer; bodies are redacted before they get here."""

    __tablename__ = "channel_requests"
    __table_args__ = (
        sa.Index(None, "object_kind", "object_id"),
        sa.Index(None, "created_at"),
        TABLE_ARGS,
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    object_kind: Mapped[str] = mapped_column(sa.String(16))
    object_id: Mapped[str] = mapped_column(sa.String(32))
    channel: Mapped[str] = mapped_column(sa.String(32), default="")
    account_id: Mapped[str] = mapped_column(sa.String(64), default="")
    rpc: Mapped[str] = mapped_column(sa.String(64))
    http_method: Mapped[str] = mapped_column(sa.String(8), default="")
    url: Mapped[str] = mapped_column(sa.Text, default="")
    http_status: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    request_body: Mapped[str] = mapped_column(LongText, default="")
    response_body: Mapped[str] = mapped_column(LongText, default="")
    latency_ms: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OutboxEvent(Base):
    """A committed state change waiting for the relay (claim columns make replicas safe)."""

    __tablename__ = "outbox"
    __table_args__ = (
        sa.Index(None, "status", "created_at"),
        sa.Index(None, "aggregate_id"),
        TABLE_ARGS,
    )

    event_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    event_type: Mapped[str] = mapped_column(sa.String(32))
    app_id: Mapped[str] = mapped_column(sa.String(64))
    aggregate_id: Mapped[str] = mapped_column(sa.String(32))
    notify_url: Mapped[str] = mapped_column(sa.String(512), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(16))
    claim_token: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    quarantine_reason: Mapped[str] = mapped_column(sa.String(256), default="", server_default="")


class Callback(Base):
    """A raw provider callback as received (redacted), for audit and replay analysis."""

    __tablename__ = "callbacks"
    __table_args__ = (
        sa.Index(None, "channel", "created_at"),
        sa.Index(None, "object_id"),
        TABLE_ARGS,
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(32))
    account_id: Mapped[str] = mapped_column(sa.String(64), default="")
    content_type: Mapped[str] = mapped_column(sa.String(128), default="")
    headers: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)
    body: Mapped[str] = mapped_column(LongText, default="")
    verified: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    outcome: Mapped[str] = mapped_column(sa.String(64), default="")
    object_kind: Mapped[str] = mapped_column(sa.String(16), default="")
    object_id: Mapped[str] = mapped_column(sa.String(32), default="")
    error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LatePayment(Base):
    """A payment the provider reported for an order paymesh had already closed or failed.

    One per order: a merchant order number is one trade at the provider, so it can be paid
    at most once. ``refund_id`` is the refund that returns it under the ``refund`` policy.
    """

    __tablename__ = "late_payments"
    __table_args__ = (
        sa.UniqueConstraint("order_id"),
        sa.Index(None, "app_id", "created_at"),
        TABLE_ARGS,
    )

    late_payment_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(sa.String(32))
    app_id: Mapped[str] = mapped_column(sa.String(64))
    channel: Mapped[str] = mapped_column(sa.String(32))
    account_id: Mapped[str] = mapped_column(sa.String(64))
    channel_trade_no: Mapped[str] = mapped_column(sa.String(64), default="")
    amount: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(sa.String(3))
    order_status: Mapped[str] = mapped_column(sa.String(16))
    policy: Mapped[str] = mapped_column(sa.String(16))
    refund_id: Mapped[str] = mapped_column(sa.String(32), default="")
    paid_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
