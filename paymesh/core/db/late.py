"""Late payments: a payment the provider reports for an
order paymesh already closed or failed.

``record_late_payment`` does everything in one transaction, so a late payment is never half
recorded: the ``late_payments`` row (unique per order: one merchant order number is one trade
at the provider, paid at most once), the policy's change, and the ``order.late_paid`` outbox
event.

- ``refund``: a PENDING refund of the full amount (reason "late payment", out_refund_no = its
  refund_id) reserved on the order as any refund is; the order keeps its status. The caller
  submits it to the channel after the commit; the monitor settles it like any refund.
- ``accept``: CLOSED/FAILED -> PAID with the provider's trade number and time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from paymesh.core.db.base import Created, StoreBase, compact, rfc3339
from paymesh.core.db.events import Payload, order_payload
from paymesh.core.db.models import LatePayment, OrderStatus, PayOrder, Refund, RefundStatus
from paymesh.errors import Internal, OrderNotFound

ORDER_LATE_PAID = "order.late_paid"
LATE_REFUND_REASON = "late payment"
POLICY_REFUND = "refund"
POLICY_ACCEPT = "accept"
LATE_STATUSES = (OrderStatus.CLOSED.value, OrderStatus.FAILED.value)


class NotLate(Exception):
    """The order is not CLOSED or FAILED (or the amount is not the order's): not a late
    payment; the caller applies the payment the ordinary way or refuses it."""


@dataclass(frozen=True)
class NewLatePayment:
    order_id: str
    channel_trade_no: str
    amount: int
    paid_at: datetime
    policy: str  # "refund" | "accept"


class LatePaymentStore(StoreBase):
    async def get_late_payment(self, order_id: str) -> LatePayment | None:
        async def tx(s: AsyncSession) -> LatePayment | None:
            stmt = sa.select(LatePayment).where(LatePayment.order_id == order_id)
            return (await s.execute(stmt)).scalar_one_or_none()

        return await self._run(tx)

    async def list_late_payments(self, app_id: str | None = None) -> list[LatePayment]:
        async def tx(s: AsyncSession) -> list[LatePayment]:
            stmt = sa.select(LatePayment)
            if app_id is not None:
                stmt = stmt.where(LatePayment.app_id == app_id)
            return list((await s.execute(stmt.order_by(LatePayment.created_at))).scalars())

        return await self._run(tx)

    async def list_late_candidates(self, expire_after: datetime, limit: int) -> list[PayOrder]:
        """CLOSED/FAILED orders whose expiry is after ``expire_after`` (the provider may
        still take a payment for them) and that have no late payment yet; newest expiry
        last."""

        async def tx(s: AsyncSession) -> list[PayOrder]:
            recorded = sa.select(LatePayment.order_id).where(
                LatePayment.order_id == PayOrder.order_id
            )
            stmt = (
                sa.select(PayOrder)
                .where(
                    PayOrder.status.in_(LATE_STATUSES),
                    PayOrder.expire_time > expire_after,
                    ~sa.exists(recorded),
                )
                .order_by(PayOrder.expire_time, PayOrder.order_id)
                .limit(limit)
            )
            return list((await s.execute(stmt)).scalars())

        return await self._run(tx)

    async def record_late_payment(self, new: NewLatePayment) -> Created[LatePayment]:
        """Record a late payment and apply ``new.policy``; idempotent per order.

        Returns the existing row (``created=False``) for a repeated report. Raises NotLate
        when the order is not CLOSED/FAILED or the amount is not the order's.
        """
        now = self.clock()

        async def tx(s: AsyncSession) -> LatePayment:
            order = await self._load(s, PayOrder, new.order_id)
            if order is None:
                raise OrderNotFound("order not found", metadata={"order_id": new.order_id})
            if order.status not in LATE_STATUSES:
                raise NotLate(f"order {order.order_id} is {order.status}")
            if new.amount != order.amount:
                raise NotLate(f"order {order.order_id} is for {order.amount}, paid {new.amount}")
            late = LatePayment(
                late_payment_id=self.ids.next_id("L"),
                order_id=order.order_id,
                app_id=order.app_id,
                channel=order.channel,
                account_id=order.account_id,
                channel_trade_no=new.channel_trade_no,
                amount=new.amount,
                currency=order.currency,
                order_status=order.status,
                policy=new.policy,
                refund_id="",
                paid_at=new.paid_at,
                created_at=now,
            )
            s.add(late)
            await s.flush()  # the unique order_id makes a concurrent second report fail here
            values: dict[str, object] = {
                "channel_trade_no": new.channel_trade_no,
                "updated_at": now,
                "version": PayOrder.version + 1,
            }
            guard = [PayOrder.order_id == order.order_id, PayOrder.status.in_(LATE_STATUSES)]
            if new.policy == POLICY_ACCEPT:
                values.update(status=OrderStatus.PAID.value, paid_at=new.paid_at)
            else:
                late.refund_id = self.ids.refund_id()
                s.add(self._late_refund(order, late, now))
                await s.flush()
                values["pending_refund_amount"] = PayOrder.pending_refund_amount + new.amount
                guard.append(
                    PayOrder.refunded_amount + PayOrder.pending_refund_amount + new.amount
                    <= PayOrder.amount
                )
            if not await self._update(s, PayOrder, guard, values):
                raise Internal("late payment: the order changed while being recorded")
            row = await self._load(s, PayOrder, order.order_id)
            assert row is not None
            await self._emit(
                s,
                event_type=ORDER_LATE_PAID,
                app_id=row.app_id,
                aggregate_id=row.order_id,
                notify_url=row.notify_url,
                payload=_late_payload(row, late),
            )
            return late

        try:
            return Created(await self._run(tx), True)
        except IntegrityError:
            existing = await self.get_late_payment(new.order_id)
            if existing is None:
                raise
            return Created(existing, False)

    @staticmethod
    def _late_refund(order: PayOrder, late: LatePayment, now: datetime) -> Refund:
        return Refund(
            refund_id=late.refund_id,
            app_id=order.app_id,
            out_refund_no=late.refund_id,
            order_id=order.order_id,
            out_trade_no=order.out_trade_no,
            amount=late.amount,
            currency=order.currency,
            channel=order.channel,
            account_id=order.account_id,
            status=RefundStatus.PENDING.value,
            reason=LATE_REFUND_REASON,
            channel_refund_no="",
            fail_reason="",
            notify_url=order.notify_url,
            meta=dict(order.meta or {}),
            created_at=now,
            updated_at=now,
            version=1,
        )


def _late_payload(order: PayOrder, late: LatePayment) -> Payload:
    base = order_payload(order, ORDER_LATE_PAID)

    def build(event_id: str) -> dict[str, Any]:
        payload = dict(base(event_id))
        payload.update(
            amount=late.amount,
            channel_trade_no=late.channel_trade_no,
            paid_at=rfc3339(late.paid_at),
            refund_id=late.refund_id,
        )
        return compact(payload)

    return build


__all__ = [
    "LATE_REFUND_REASON",
    "ORDER_LATE_PAID",
    "POLICY_ACCEPT",
    "POLICY_REFUND",
    "LatePaymentStore",
    "NewLatePayment",
    "NotLate",
]
