"""Refund reservations never exceed the paid amount, on SQLite and MariaDB."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from paymesh.core.db.convert import refund_message
from paymesh.core.db.models import PayOrder, RefundStatus
from paymesh.core.db.orders import NewOrder
from paymesh.core.db.refunds import NewRefund
from paymesh.core.db.store import Store
from paymesh.errors import (
    DuplicateOutRefundNo,
    OrderNotFound,
    OrderNotRefundable,
    PaymeshError,
    RefundExceedsPaid,
)
from paymesh.merchant.v1 import refund_pb2

PAID_AT = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)


async def paid_order(store: Store, amount: int = 1000, no: str = "T-1") -> PayOrder:
    new = NewOrder(
        app_id="app1",
        out_trade_no=no,
        amount=amount,
        channel="alipay",
        account_id="ali1",
        method="qr",
        notify_url="https://m.example/n",
    )
    order = (await store.insert_order(new)).row
    return (await store.mark_paid(order.order_id, amount, "ali-1", PAID_AT)).row


def refund(order: PayOrder, no: str, amount: int, **kw: object) -> NewRefund:
    return NewRefund(
        app_id=order.app_id,
        out_refund_no=no,
        order_id=order.order_id,
        amount=amount,
        **kw,  # type: ignore[arg-type]
    )


async def test_reserve_succeed_fail(store: Store) -> None:
    order = await paid_order(store)
    r1 = await store.reserve_refund(refund(order, "R-1", 300, reason="damaged"))
    assert r1.created
    assert r1.row.status == RefundStatus.PENDING
    assert r1.row.out_trade_no == "T-1"
    assert r1.row.notify_url == "https://m.example/n"
    r2 = (await store.reserve_refund(refund(order, "R-2", 700))).row
    with pytest.raises(RefundExceedsPaid) as exc:
        await store.reserve_refund(refund(order, "R-3", 1))
    assert exc.value.metadata["refundable_amount"] == "0"

    done = await store.mark_refund_succeeded(r1.row.refund_id, "ali-r-1")
    assert done.changed
    assert done.row.status == RefundStatus.SUCCEEDED
    assert not (await store.mark_refund_succeeded(r1.row.refund_id)).changed
    assert not (await store.mark_refund_failed(r1.row.refund_id)).changed
    failed = await store.mark_refund_failed(r2.refund_id, "insufficient balance")
    assert failed.changed
    current = await store.get_order(order.order_id)
    assert current is not None
    assert (current.refunded_amount, current.pending_refund_amount) == (300, 0)
    # The released 700 can be refunded again.
    assert (await store.reserve_refund(refund(order, "R-4", 700))).created
    with pytest.raises(RefundExceedsPaid):
        await store.reserve_refund(refund(order, "R-5", 1))

    types = [e.event_type for e in await store.list_events(r1.row.refund_id)]
    assert types == ["refund.succeeded"]
    ev = (await store.list_events(r2.refund_id))[0]
    assert ev.event_type == "refund.failed"
    assert ev.payload["refund_id"] == r2.refund_id
    assert ev.payload["out_trade_no"] == "T-1"
    assert ev.payload["amount"] == 700
    msg = refund_message(done.row)
    assert msg.status == refund_pb2.Refund.SUCCEEDED
    assert msg.channel_refund_no == "ali-r-1"
    assert msg.succeeded_at.seconds > 0


async def test_refund_idempotency_and_preconditions(store: Store) -> None:
    order = await paid_order(store)
    first = await store.reserve_refund(refund(order, "R-1", 100))
    again = await store.reserve_refund(refund(order, "R-1", 100))
    assert not again.created
    assert again.row.refund_id == first.row.refund_id
    with pytest.raises(DuplicateOutRefundNo):
        await store.reserve_refund(refund(order, "R-1", 101))
    with pytest.raises(OrderNotFound):
        await store.reserve_refund(NewRefund("app2", "R-9", order.order_id, 1))
    pending = (
        await store.insert_order(
            NewOrder("app1", "T-2", 500, "alipay", "ali1", "qr"),
        )
    ).row
    with pytest.raises(OrderNotRefundable):
        await store.reserve_refund(refund(pending, "R-2", 1))
    current = await store.get_order(order.order_id)
    assert current is not None
    assert current.pending_refund_amount == 100


async def test_concurrent_reservations_never_over_reserve(store: Store) -> None:
    order = await paid_order(store, amount=1000)
    amounts = [70 + 13 * i for i in range(20)]  # sums to 3870, far above 1000

    async def attempt(i: int) -> int:
        try:
            await store.reserve_refund(refund(order, f"R-{i}", amounts[i]))
        except RefundExceedsPaid:
            return 0
        return amounts[i]

    reserved = await asyncio.gather(*(attempt(i) for i in range(20)))
    current = await store.get_order(order.order_id)
    assert current is not None
    assert sum(reserved) == current.pending_refund_amount
    assert 0 < current.pending_refund_amount <= 1000
    rows = await store.list_refunds(order_id=order.order_id)
    assert sum(r.amount for r in rows) == sum(reserved)

    # Settle them concurrently (half succeed, half fail): totals stay exact.
    async def settle(i: int, refund_id: str) -> None:
        if i % 2:
            await store.mark_refund_succeeded(refund_id)
        else:
            await store.mark_refund_failed(refund_id)

    await asyncio.gather(*(settle(i, r.refund_id) for i, r in enumerate(rows)))
    final = await store.get_order(order.order_id)
    assert final is not None
    assert final.pending_refund_amount == 0
    assert final.refunded_amount == sum(r.amount for i, r in enumerate(rows) if i % 2)


async def test_invalid_amount(store: Store) -> None:
    order = await paid_order(store)
    with pytest.raises(PaymeshError):
        await store.reserve_refund(refund(order, "R-0", 0))
