"""Refunds: reservation against the paid amount, success and failure.

``reserve_refund`` inserts the refund row and, in the same transaction, runs one guarded
UPDATE on the order::

    UPDATE pay_orders SET pending_refund_amount = pending_refund_amount + :a
     WHERE order_id = :id AND status = 'PAID'
       AND refunded_amount + pending_refund_amount + :a <= amount

so succeeded + pending refunds never exceed the paid amount, under any concurrency.
Success moves the amount from pending to refunded; failure releases it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from paymesh.core.db.base import Created, StoreBase, Transition
from paymesh.core.db.events import REFUND_FAILED, REFUND_SUCCEEDED, refund_payload
from paymesh.core.db.models import OrderStatus, PayOrder, Refund, RefundStatus
from paymesh.errors import (
    DuplicateOutRefundNo,
    Internal,
    InvalidArgument,
    OrderNotFound,
    OrderNotRefundable,
    RefundExceedsPaid,
    RefundNotFound,
)
from paymesh.runtime import metrics


@dataclass(frozen=True)
class NewRefund:
    app_id: str
    out_refund_no: str
    order_id: str
    amount: int
    reason: str = ""
    notify_url: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    refund_id: str = ""  # generated when empty


class RefundStore(StoreBase):
    async def reserve_refund(self, new: NewRefund) -> Created[Refund]:
        """Create a PENDING refund and reserve its amount on the order, atomically.

        Idempotent on (app_id, out_refund_no): the same order and amount return the
        existing refund (``created=False``); anything else is DuplicateOutRefundNo.
        Raises OrderNotFound, OrderNotRefundable (not PAID) or RefundExceedsPaid.
        """
        if new.amount <= 0:
            raise InvalidArgument("amount must be positive", field="amount")
        refund_id = new.refund_id or self.ids.refund_id()
        now = self.clock()

        async def tx(s: AsyncSession) -> Refund:
            order = await s.get(PayOrder, new.order_id)
            if order is None or order.app_id != new.app_id:
                raise OrderNotFound("order not found", metadata={"order_id": new.order_id})
            row = Refund(
                refund_id=refund_id,
                app_id=new.app_id,
                out_refund_no=new.out_refund_no,
                order_id=order.order_id,
                out_trade_no=order.out_trade_no,
                amount=new.amount,
                currency=order.currency,
                channel=order.channel,
                account_id=order.account_id,
                status=RefundStatus.PENDING.value,
                reason=new.reason[:256],
                channel_refund_no="",
                fail_reason="",
                notify_url=new.notify_url or order.notify_url,
                meta=dict(new.metadata),
                created_at=now,
                updated_at=now,
                version=1,
            )
            s.add(row)
            await s.flush()
            reserved = await self._update(
                s,
                PayOrder,
                [
                    PayOrder.order_id == order.order_id,
                    PayOrder.status == OrderStatus.PAID.value,
                    PayOrder.refunded_amount + PayOrder.pending_refund_amount + new.amount
                    <= PayOrder.amount,
                ],
                {
                    "pending_refund_amount": PayOrder.pending_refund_amount + new.amount,
                    "updated_at": now,
                    "version": PayOrder.version + 1,
                },
            )
            if not reserved:
                current = await self._load(s, PayOrder, order.order_id)
                assert current is not None
                if current.status != OrderStatus.PAID.value:
                    raise OrderNotRefundable(
                        f"order is {current.status}, only PAID orders can be refunded",
                        metadata={"order_id": current.order_id, "status": current.status},
                    )
                left = current.amount - current.refunded_amount - current.pending_refund_amount
                raise RefundExceedsPaid(
                    "refunds would exceed the paid amount",
                    metadata={"order_id": current.order_id, "refundable_amount": str(left)},
                )
            return row

        try:
            created = Created(await self._run(tx), True)
        except IntegrityError:
            existing = await self.get_refund_by_out_refund_no(new.app_id, new.out_refund_no)
            if existing is None:
                raise
        else:
            metrics.refund_moved("created")
            return created
        if existing.order_id == new.order_id and existing.amount == new.amount:
            return Created(existing, False)
        raise DuplicateOutRefundNo(
            "out_refund_no already used with a different order or amount",
            metadata={"out_refund_no": new.out_refund_no, "refund_id": existing.refund_id},
        )

    async def get_refund(self, refund_id: str, app_id: str | None = None) -> Refund | None:
        async def tx(s: AsyncSession) -> Refund | None:
            return await s.get(Refund, refund_id)

        row = await self._run(tx)
        if row is None or (app_id is not None and row.app_id != app_id):
            return None
        return row

    async def get_refund_by_out_refund_no(self, app_id: str, out_refund_no: str) -> Refund | None:
        async def tx(s: AsyncSession) -> Refund | None:
            stmt = sa.select(Refund).where(
                Refund.app_id == app_id, Refund.out_refund_no == out_refund_no
            )
            return (await s.execute(stmt)).scalar_one_or_none()

        return await self._run(tx)

    async def list_refunds(
        self,
        *,
        order_id: str | None = None,
        status: RefundStatus | None = None,
        created_before: datetime | None = None,
        limit: int = 100,
    ) -> list[Refund]:
        async def tx(s: AsyncSession) -> list[Refund]:
            stmt = sa.select(Refund)
            if order_id is not None:
                stmt = stmt.where(Refund.order_id == order_id)
            if status is not None:
                stmt = stmt.where(Refund.status == status.value)
            if created_before is not None:
                stmt = stmt.where(Refund.created_at < created_before)
            stmt = stmt.order_by(Refund.created_at, Refund.refund_id).limit(limit)
            return list((await s.execute(stmt)).scalars())

        return await self._run(tx)

    async def store_refund_channel_no(
        self, refund_id: str, channel_refund_no: str
    ) -> Transition[Refund]:
        """Remember the provider's refund number while the refund is PENDING."""
        return await self.note_pending_refund(refund_id, channel_refund_no=channel_refund_no)

    async def note_pending_refund(
        self,
        refund_id: str,
        *,
        channel_refund_no: str = "",
        channel_state: str = "",
        pending_reason: str = "",
    ) -> Transition[Refund]:
        """Record what the provider said about a refund that stays PENDING (its number,
        its own state word, why it is still open). Only while PENDING; no event."""
        values: dict[str, object] = {}
        if channel_refund_no:
            values["channel_refund_no"] = channel_refund_no
        if channel_state:
            values["channel_state"] = channel_state[:32]
        if pending_reason:
            values["pending_reason"] = pending_reason[:256]
        return await self._pending_refund_update(refund_id, [], values)

    async def claim_refund_resubmit(
        self, refund_id: str, attempts_seen: int, reason: str
    ) -> Transition[Refund]:
        """Count one resubmission (guarded on the attempts the caller saw, so two monitors
        never resubmit the same refund twice for one answer). ``changed`` = go ahead."""
        return await self._pending_refund_update(
            refund_id,
            [Refund.submit_attempts == attempts_seen],
            {"submit_attempts": attempts_seen + 1, "pending_reason": reason[:256]},
        )

    async def _pending_refund_update(
        self, refund_id: str, guard: list[sa.ColumnElement[bool]], values: dict[str, object]
    ) -> Transition[Refund]:
        now = self.clock()

        async def tx(s: AsyncSession) -> Transition[Refund]:
            changed = bool(values) and await self._update(
                s,
                Refund,
                [
                    Refund.refund_id == refund_id,
                    Refund.status == RefundStatus.PENDING.value,
                    *guard,
                ],
                {**values, "updated_at": now},
            )
            row = await self._load(s, Refund, refund_id)
            if row is None:
                raise RefundNotFound("refund not found", metadata={"refund_id": refund_id})
            return Transition(row, changed)

        return await self._run(tx)

    async def _finish_refund(
        self,
        refund_id: str,
        succeeded: bool,
        channel_refund_no: str,
        at: datetime,
        reason: str,
        channel_state: str = "",
    ) -> Transition[Refund]:
        now = self.clock()

        async def tx(s: AsyncSession) -> Transition[Refund]:
            refund = await self._load(s, Refund, refund_id)
            if refund is None:
                raise RefundNotFound("refund not found", metadata={"refund_id": refund_id})
            amount = refund.amount
            values: dict[str, object] = {"updated_at": now, "version": Refund.version + 1}
            if channel_state:
                values["channel_state"] = channel_state[:32]
            if succeeded:
                values.update(status=RefundStatus.SUCCEEDED.value, succeeded_at=at)
                if channel_refund_no:
                    values["channel_refund_no"] = channel_refund_no
            else:
                values.update(status=RefundStatus.FAILED.value, fail_reason=reason[:256])
            changed = await self._update(
                s,
                Refund,
                [Refund.refund_id == refund_id, Refund.status == RefundStatus.PENDING.value],
                values,
            )
            if changed:
                order_values: dict[str, object] = {
                    "pending_refund_amount": PayOrder.pending_refund_amount - amount,
                    "updated_at": now,
                    "version": PayOrder.version + 1,
                }
                if succeeded:
                    order_values["refunded_amount"] = PayOrder.refunded_amount + amount
                moved = await self._update(
                    s,
                    PayOrder,
                    [
                        PayOrder.order_id == refund.order_id,
                        PayOrder.pending_refund_amount >= amount,
                    ],
                    order_values,
                )
                if not moved:
                    raise Internal("refund reservation missing on the order")
            row = await self._load(s, Refund, refund_id)
            assert row is not None
            if changed:
                event_type = REFUND_SUCCEEDED if succeeded else REFUND_FAILED
                await self._emit(
                    s,
                    event_type=event_type,
                    app_id=row.app_id,
                    aggregate_id=row.refund_id,
                    notify_url=row.notify_url,
                    payload=refund_payload(row, event_type),
                )
            return Transition(row, changed)

        finished = await self._run(tx)
        if finished.changed:
            metrics.refund_moved(finished.row.status)
        return finished

    async def mark_refund_succeeded(
        self,
        refund_id: str,
        channel_refund_no: str = "",
        succeeded_at: datetime | None = None,
        *,
        channel_state: str = "",
    ) -> Transition[Refund]:
        """PENDING -> SUCCEEDED; pending amount becomes refunded; emits ``refund.succeeded``."""
        at = succeeded_at or self.clock()
        return await self._finish_refund(refund_id, True, channel_refund_no, at, "", channel_state)

    async def mark_refund_failed(
        self, refund_id: str, reason: str = "", *, channel_state: str = ""
    ) -> Transition[Refund]:
        """PENDING -> FAILED; the reservation is released; emits ``refund.failed``.
        Only for a definitive refusal or failure state of the provider."""
        return await self._finish_refund(refund_id, False, "", self.clock(), reason, channel_state)
