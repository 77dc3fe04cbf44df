"""Apply a provider's answer to our records: the one code path shared by synchronous
channel answers, sync queries, callbacks and the order monitor. Each branch is one
conditional transition in the store; duplicates and races are no-ops."""

from __future__ import annotations

from datetime import UTC, datetime

from paymesh.channel.v1 import channel_pb2
from paymesh.core.db.models import PayOrder, Refund, Transfer
from paymesh.core.db.store import Store, Transition
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.apply")

TS = channel_pb2.TradeState
RS = channel_pb2.ResultState


def _when(ts: object, default: datetime) -> datetime:
    seconds = getattr(ts, "seconds", 0)
    if not seconds:
        return default
    return datetime.fromtimestamp(seconds + getattr(ts, "nanos", 0) / 1e9, tz=UTC)


def amount_agrees(state: int, said: int, ours: int) -> bool:
    """A success moves money: the provider must state the amount and it must be ours.
    Other answers may leave it out (0), but a stated amount must still be ours."""
    if state == RS.RESULT_STATE_SUCCEEDED:
        return said == ours
    return not said or said == ours


async def apply_trade(
    store: Store, order: PayOrder, trade: channel_pb2.TradeResult, now: datetime
) -> Transition[PayOrder]:
    """PAID needs the provider to state an amount equal to the order's: a missing amount
    (0) is a refusal, never a match."""
    if trade.state == TS.TRADE_STATE_PAID:
        if trade.amount != order.amount:
            log.warning(
                "amount_mismatch", order_id=order.order_id, expected=order.amount, got=trade.amount
            )
            return Transition(order, False)
        return await store.mark_paid(
            order.order_id,
            trade.amount,
            trade.channel_trade_no,
            _when(trade.paid_at, now),
            before=order,  # guarded on its version: no read-back when nothing moved since
        )
    if trade.state == TS.TRADE_STATE_CLOSED:
        return await store.mark_closed(order.order_id, now)
    if trade.state == TS.TRADE_STATE_FAILED:
        return await store.mark_failed(order.order_id, trade.provider_state or "provider failed")
    return Transition(order, False)


async def apply_refund(
    store: Store, refund: Refund, result: channel_pb2.RefundResult, now: datetime
) -> Transition[Refund]:
    """Only the provider's definitive states are final (its channel maps them); anything
    else keeps the refund PENDING with its amount reserved, and records the provider's
    own state word (``channel_state``, e.g. WeChat ABNORMAL) for merchants and operators."""
    if not amount_agrees(result.state, result.amount, refund.amount):
        log.warning("refund_amount_mismatch", refund_id=refund.refund_id, got=result.amount)
        return Transition(refund, False)
    state = result.provider_state
    if result.state == RS.RESULT_STATE_SUCCEEDED:
        return await store.mark_refund_succeeded(
            refund.refund_id,
            result.channel_refund_no,
            _when(result.succeeded_at, now),
            channel_state=state,
        )
    if result.state == RS.RESULT_STATE_FAILED:
        return await store.mark_refund_failed(
            refund.refund_id, state or "provider failed", channel_state=state
        )
    new_no = result.channel_refund_no if not refund.channel_refund_no else ""
    new_state = state if state and state != refund.channel_state else ""
    if new_no or new_state:
        return await store.note_pending_refund(
            refund.refund_id, channel_refund_no=new_no, channel_state=new_state
        )
    return Transition(refund, False)


async def apply_transfer(
    store: Store, transfer: Transfer, result: channel_pb2.TransferResult, now: datetime
) -> Transition[Transfer]:
    """As apply_refund; a PENDING transfer also keeps what the payee's client needs to
    confirm it (WeChat WAIT_USER_CONFIRM) as its pay data."""
    if not amount_agrees(result.state, result.amount, transfer.amount):
        log.warning("transfer_amount_mismatch", transfer_id=transfer.transfer_id)
        return Transition(transfer, False)
    state = result.provider_state
    if result.state == RS.RESULT_STATE_SUCCEEDED:
        return await store.mark_transfer_succeeded(
            transfer.transfer_id,
            result.channel_transfer_no,
            _when(result.succeeded_at, now),
            channel_state=state,
        )
    if result.state == RS.RESULT_STATE_FAILED:
        return await store.mark_transfer_failed(
            transfer.transfer_id, result.fail_reason or state, now, channel_state=state
        )
    pay_data: dict[str, object] | None = None
    if result.confirm_params:
        pay_data = {"app_params": dict(result.confirm_params)}
    elif state and state != transfer.channel_state and transfer.pay_data:
        pay_data = {}  # the provider no longer waits for the payee: drop the stale package
    new_no = result.channel_transfer_no if not transfer.channel_transfer_no else ""
    new_state = state if state and state != transfer.channel_state else ""
    if new_no or new_state or (pay_data is not None and pay_data != (transfer.pay_data or {})):
        return await store.note_pending_transfer(
            transfer.transfer_id,
            channel_transfer_no=new_no,
            channel_state=new_state,
            pay_data=pay_data,
        )
    return Transition(transfer, False)


def paid_at(trade: channel_pb2.TradeResult, default: datetime) -> datetime:
    """When the provider says the trade was paid (``default`` when it does not say)."""
    return _when(trade.paid_at, default)
