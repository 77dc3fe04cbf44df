"""Late payments: a provider reports a payment for an order paymesh had
already closed or failed. ``settle_trade`` is what callbacks, sync queries and the monitor
call with a provider's trade report: the ordinary transition, and for a CLOSED/FAILED order
paid at the provider (for the order's amount) the late payment: recorded, the app's
``late_payment`` policy applied, ``order.late_paid`` emitted, and for ``refund`` the refund
submitted to the channel. Nothing is lost: an unreachable channel leaves the refund PENDING
for the monitor, as any refund."""

from __future__ import annotations

from datetime import datetime

from paymesh.channel.v1 import channel_pb2
from paymesh.config.apps import LatePaymentPolicy
from paymesh.core.apply import apply_trade, paid_at
from paymesh.core.db.late import LATE_STATUSES, NewLatePayment, NotLate
from paymesh.core.db.models import LatePayment, PayOrder, Refund, RefundStatus
from paymesh.core.db.store import Transition
from paymesh.core.deps import CoreDeps
from paymesh.core.submit import submit_refund
from paymesh.errors import AppNotFound, ChannelError
from paymesh.runtime import metrics
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.late")
TS = channel_pb2.TradeState


def is_late(order: PayOrder, trade: channel_pb2.TradeResult) -> bool:
    """A PAID report, for the order's amount, of an order we already closed or failed."""
    return (
        trade.state == TS.TRADE_STATE_PAID
        and order.status in LATE_STATUSES
        and trade.amount == order.amount
    )


async def settle_trade(
    deps: CoreDeps, order: PayOrder, trade: channel_pb2.TradeResult, now: datetime
) -> tuple[Transition[PayOrder], LatePayment | None]:
    """Apply a provider's trade report; a late payment is recorded and handled."""
    moved = await apply_trade(deps.store, order, trade, now)
    if not is_late(moved.row, trade):
        return moved, None
    late = await record_late_payment(deps, moved.row, trade, now)
    if late is None:  # the order moved on meanwhile (e.g. a concurrent accept)
        return moved, None
    current = await deps.store.get_order(order.order_id)
    assert current is not None
    return Transition(current, current.version != moved.row.version), late


async def _policy(deps: CoreDeps, app_id: str) -> str:
    try:
        return (await deps.config.get_app(app_id)).late_payment.value
    except AppNotFound:
        return LatePaymentPolicy.REFUND.value  # no app to ask: give the payer the money back


async def record_late_payment(
    deps: CoreDeps, order: PayOrder, trade: channel_pb2.TradeResult, now: datetime
) -> LatePayment | None:
    policy = await _policy(deps, order.app_id)
    try:
        created = await deps.store.record_late_payment(
            NewLatePayment(
                order_id=order.order_id,
                channel_trade_no=trade.channel_trade_no,
                amount=trade.amount,
                paid_at=paid_at(trade, now),
                policy=policy,
            )
        )
    except NotLate as e:
        log.info("late_payment_not_late", order_id=order.order_id, reason=str(e))
        return None
    late = created.row
    if created.created:
        metrics.late_payment(late.policy)
        log.warning(
            "late_payment",
            order_id=order.order_id,
            amount=late.amount,
            channel_trade_no=late.channel_trade_no,
            policy=late.policy,
            refund_id=late.refund_id,
        )
        if late.refund_id:
            refund = await deps.store.get_refund(late.refund_id)
            if refund is not None and refund.status == RefundStatus.PENDING.value:
                await submit_late_refund(deps, order, refund)
    return late


async def submit_late_refund(deps: CoreDeps, order: PayOrder, refund: Refund) -> Refund:
    """Send a late payment's refund through the normal refund submission: unclear answers
    leave it PENDING (reason noted, the monitor queries and resubmits); a definitive refusal
    fails it and is logged as an error, since the payer's money then needs an operator."""
    try:
        return await submit_refund(deps, order, refund)
    except ChannelError as e:
        log.error("late_refund_refused", refund_id=refund.refund_id, error=e.message)
        current = await deps.store.get_refund(refund.refund_id)
        return current if current is not None else refund


__all__ = ["is_late", "record_late_payment", "settle_trade", "submit_late_refund"]
