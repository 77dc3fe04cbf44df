"""Read side of the supervision pages: look an order, refund or transfer up, its history, and
what needs an operator. Plain SELECTs on the store's tables; writes go through the services
(a re-sent notification is `NotifyAdminService.ResendEvent` on the notify service)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from paymesh.core.db import models as m
from paymesh.core.db import notify_models as nm
from paymesh.runtime import tls
from paymesh.runtime.settings import Settings

PENDING_BUDGET = timedelta(minutes=30)  # a refund/transfer still PENDING after this needs a look
OUTBOX_BUDGET = timedelta(minutes=5)  # an outbox row not published after this is stuck
# Provider states that need a person whatever their age (WeChat Pay refund ABNORMAL: the
# money could not go back to the payer's account and needs a manual refund).
OPERATOR_STATES = ("ABNORMAL",)
LIST_LIMIT = 50


def _t(model: Any) -> sa.Table:
    return cast(sa.Table, model.__table__)


ORDERS, REFUNDS, TRANSFERS = _t(m.PayOrder), _t(m.Refund), _t(m.Transfer)
KINDS: dict[str, tuple[sa.Table, str, str]] = {
    # kind: (table, id column, merchant number column)
    "order": (ORDERS, "order_id", "out_trade_no"),
    "refund": (REFUNDS, "refund_id", "out_refund_no"),
    "transfer": (TRANSFERS, "transfer_id", "out_transfer_no"),
}
# Columns shown for an object (never payer or payee personal data beyond what ops needs).
SHOWN = (
    "app_id",
    "out_trade_no",
    "out_refund_no",
    "out_transfer_no",
    "order_id",
    "amount",
    "currency",
    "channel",
    "account_id",
    "method",
    "status",
    "channel_trade_no",
    "channel_refund_no",
    "channel_transfer_no",
    "fail_reason",
    "refunded_amount",
    "created_at",
    "paid_at",
    "succeeded_at",
    "failed_at",
    "closed_at",
    "expire_time",
    "updated_at",
    "version",
)


@dataclass
class Found:
    kind: str
    object_id: str
    row: dict[str, Any]


@dataclass
class History:
    found: Found
    events: list[dict[str, Any]] = field(default_factory=list)
    deliveries: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    related: list[Found] = field(default_factory=list)


@dataclass
class Attention:
    failed_notifications: list[dict[str, Any]]
    stuck_outbox: list[dict[str, Any]]
    quarantined_outbox: list[dict[str, Any]]
    pending_refunds: list[dict[str, Any]]
    pending_transfers: list[dict[str, Any]]
    late_payments: list[dict[str, Any]]


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in result]


def _needs_look(table: sa.Table, now: datetime) -> Any:
    """PENDING past its budget, or (where the provider's own state is stored) in a state
    that needs a person."""
    late = sa.and_(table.c.status == "PENDING", table.c.created_at < now - PENDING_BUDGET)
    stuck = sa.and_(table.c.status == "PENDING", table.c.channel_state.in_(OPERATOR_STATES))
    return sa.or_(late, stuck)


class Supervision:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    async def lookup(self, q: str, app_id: str = "") -> list[Found]:
        """Objects whose id or merchant number is `q` (optionally of one app)."""
        q = q.strip()[:64]
        if not q:
            return []
        out: list[Found] = []
        async with self.engine.connect() as conn:
            for kind, (table, id_col, no_col) in KINDS.items():
                where = sa.or_(table.c[id_col] == q, table.c[no_col] == q)
                if app_id:
                    where = sa.and_(where, table.c.app_id == app_id)
                stmt = sa.select(table).where(where).limit(LIST_LIMIT)
                for row in _rows(await conn.execute(stmt)):
                    out.append(Found(kind, row[id_col], self._shown(row)))
        return out

    @staticmethod
    def _shown(row: dict[str, Any]) -> dict[str, Any]:
        return {k: row[k] for k in SHOWN if k in row and row[k] not in (None, "")}

    async def history(self, kind: str, object_id: str) -> History | None:
        if kind not in KINDS:
            return None
        table, id_col, _ = KINDS[kind]
        ob, cr, cb = _t(m.OutboxEvent), _t(m.ChannelRequest), _t(m.Callback)
        dl, at = _t(nm.NotifyDelivery), _t(nm.NotifyAttempt)
        async with self.engine.connect() as conn:
            rows = _rows(await conn.execute(sa.select(table).where(table.c[id_col] == object_id)))
            if not rows:
                return None
            h = History(Found(kind, object_id, self._shown(rows[0])))
            h.events = _rows(
                await conn.execute(
                    sa.select(
                        ob.c.event_id,
                        ob.c.event_type,
                        ob.c.status,
                        ob.c.created_at,
                        ob.c.published_at,
                        ob.c.notify_url,
                    )
                    .where(ob.c.aggregate_id == object_id)
                    .order_by(ob.c.created_at)
                )
            )
            ids = [e["event_id"] for e in h.events]
            if ids:
                for d in _rows(await conn.execute(sa.select(dl).where(dl.c.event_id.in_(ids)))):
                    h.deliveries[d["event_id"]] = d
                attempts = await conn.execute(
                    sa.select(at).where(at.c.event_id.in_(ids)).order_by(at.c.attempted_at)
                )
                for a in _rows(attempts):
                    h.attempts.setdefault(a["event_id"], []).append(a)
            h.exchanges = _rows(
                await conn.execute(
                    sa.select(
                        cr.c.rpc,
                        cr.c.http_method,
                        cr.c.url,
                        cr.c.http_status,
                        cr.c.latency_ms,
                        cr.c.error,
                        cr.c.request_body,
                        cr.c.response_body,
                        cr.c.created_at,
                    )
                    .where(cr.c.object_kind == kind, cr.c.object_id == object_id)
                    .order_by(cr.c.created_at)
                )
            )
            h.callbacks = _rows(
                await conn.execute(
                    sa.select(
                        cb.c.channel,
                        cb.c.account_id,
                        cb.c.verified,
                        cb.c.outcome,
                        cb.c.error,
                        cb.c.body,
                        cb.c.created_at,
                    )
                    .where(cb.c.object_id == object_id)
                    .order_by(cb.c.created_at)
                )
            )
            if kind == "order":
                refunds = await conn.execute(
                    sa.select(REFUNDS).where(REFUNDS.c.order_id == object_id)
                )
                h.related = [
                    Found("refund", r["refund_id"], self._shown(r)) for r in _rows(refunds)
                ]
        return h

    async def attention(self, now: datetime | None = None) -> Attention:
        now = now or datetime.now(UTC)
        dl, ob, late = _t(nm.NotifyDelivery), _t(m.OutboxEvent), _t(m.LatePayment)
        async with self.engine.connect() as conn:

            async def q(stmt: Any) -> list[dict[str, Any]]:
                return _rows(await conn.execute(stmt.limit(LIST_LIMIT)))

            return Attention(
                failed_notifications=await q(
                    sa.select(dl)
                    .where(dl.c.status == nm.DeliveryStatus.FAILED.value)
                    .order_by(dl.c.updated_at.desc())
                ),
                stuck_outbox=await q(
                    sa.select(
                        ob.c.event_id,
                        ob.c.event_type,
                        ob.c.app_id,
                        ob.c.aggregate_id,
                        ob.c.attempts,
                        ob.c.created_at,
                    )
                    .where(
                        ob.c.status == m.OutboxStatus.PENDING.value,
                        ob.c.created_at < now - OUTBOX_BUDGET,
                    )
                    .order_by(ob.c.created_at)
                ),
                quarantined_outbox=await q(
                    sa.select(
                        ob.c.event_id,
                        ob.c.event_type,
                        ob.c.app_id,
                        ob.c.aggregate_id,
                        ob.c.quarantine_reason,
                        ob.c.created_at,
                    )
                    .where(ob.c.status == m.OutboxStatus.QUARANTINED.value)
                    .order_by(ob.c.created_at.desc())
                ),
                pending_refunds=await q(
                    sa.select(REFUNDS)
                    .where(_needs_look(REFUNDS, now))
                    .order_by(REFUNDS.c.created_at)
                ),
                pending_transfers=await q(
                    sa.select(TRANSFERS)
                    .where(_needs_look(TRANSFERS, now))
                    .order_by(TRANSFERS.c.created_at)
                ),
                late_payments=await q(sa.select(late).order_by(late.c.created_at.desc())),
            )

    def notify_public_key_pem(self) -> str:
        """paymesh's public key for RSA2 apps' notifications ("" when not configured)."""
        path = self.settings.notify_signing_key_file
        if not path or not Path(path).exists():
            return ""
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
        return (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    async def resend(self, event_id: str) -> str:
        """Re-send one notification through the notify service; returns the new round id."""
        from paymesh.ops.v1 import notify_admin_service_pb2 as pb
        from paymesh.ops.v1 import notify_admin_service_pb2_grpc as pb_grpc

        target = self.settings.notify_admin_target
        if not target:
            raise RuntimeError("notify_admin_target is not configured")
        async with tls.open_channel(target, self.settings) as channel:  # mTLS when set
            stub = pb_grpc.NotifyAdminServiceStub(channel)
            resp = await stub.ResendEvent(pb.ResendEventRequest(event_id=event_id), timeout=10)
        return str(resp.message_id)


__all__ = ["Attention", "Found", "History", "Supervision"]
