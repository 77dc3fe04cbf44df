"""Apply a provider's answer to our records: the one code path shared by synchronous
channel answers, sync queries, callbacks and the order monitor. Each branch is one
conditional transition in the store; duplicates and races are no-ops."""

from __future__ import annotations

from datetime import UTC, datetime

from paymesh.channel.v1 import channel_pb2
from paymesh.gateway.db.models import PayOrder, Refund, Transfer
from paymesh.gateway.db.store import Store, Transition
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
    (0) is a refusal, never a match (DESIGN §2)."""
    if trade.state == TS.TRADE_STATE_PAID:
        if trade.amount != order.amount:
            log.warning(
                "amount_mismatch", order_id=order.order_id, expected=order.amount, got=trade.amount
            )
            return Transition(order, False)
        return await store.mark_paid(
            order.order_id, trade.amount, trade.channel_trade_no, _when(trade.paid_at, now)
        )
    if trade.state == TS.TRADE_STATE_CLOSED:
        return await store.mark_closed(order.order_id, now)
    if trade.state == TS.TRADE_STATE_FAILED:
        return await store.mark_failed(order.order_id, trade.provider_state or "provider failed")
    return Transition(order, False)


async def apply_refund(
    store: Store, refund: Refund, result: channel_pb2.RefundResult, now: datetime
) -> Transition[Refund]:
    if not amount_agrees(result.state, result.amount, refund.amount):
        log.warning("refund_amount_mismatch", refund_id=refund.refund_id, got=result.amount)
        return Transition(refund, False)
    if result.state == RS.RESULT_STATE_SUCCEEDED:
        return await store.mark_refund_succeeded(
            refund.refund_id, result.channel_refund_no, _when(result.succeeded_at, now)
        )
    if result.state == RS.RESULT_STATE_FAILED:
        return await store.mark_refund_failed(refund.refund_id, result.provider_state)
    if result.channel_refund_no and not refund.channel_refund_no:
        return await store.store_refund_channel_no(refund.refund_id, result.channel_refund_no)
    return Transition(refund, False)


async def apply_transfer(
    store: Store, transfer: Transfer, result: channel_pb2.TransferResult, now: datetime
) -> Transition[Transfer]:
    if not amount_agrees(result.state, result.amount, transfer.amount):
        log.warning("transfer_amount_mismatch", transfer_id=transfer.transfer_id)
        return Transition(transfer, False)
    if result.state == RS.RESULT_STATE_SUCCEEDED:
        return await store.mark_transfer_succeeded(
            transfer.transfer_id, result.channel_transfer_no, _when(result.succeeded_at, now)
        )
    if result.state == RS.RESULT_STATE_FAILED:
        return await store.mark_transfer_failed(
            transfer.transfer_id, result.fail_reason or result.provider_state, now
        )
    if result.channel_transfer_no and not transfer.channel_transfer_no:
        return await store.store_transfer_channel_no(
            transfer.transfer_id, result.channel_transfer_no
        )
    return Transition(transfer, False)


def paid_at(trade: channel_pb2.TradeResult, default: datetime) -> datetime:
    """When the provider says the trade was paid (``default`` when it does not say)."""
    return _when(trade.paid_at, default)
