"""Late payments in the store: one per order, policy applied atomically, on SQLite and MariaDB."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from paymesh.core.db.late import NewLatePayment, NotLate
from paymesh.core.db.models import OrderStatus, OutboxEvent, PayOrder, RefundStatus
from paymesh.core.db.orders import NewOrder
from paymesh.core.db.refunds import NewRefund
from paymesh.core.db.store import Store
from paymesh.errors import OrderNotRefundable

PAID_AT = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)


async def order_in(store: Store, status: OrderStatus, amount: int = 1000) -> PayOrder:
    new = NewOrder(
        app_id="app1",
        out_trade_no=f"T-{status.value}-{amount}",
        amount=amount,
        channel="alipay",
        account_id="ali1",
        method="page",
        notify_url="https://m.example/n",
    )
    order = (await store.insert_order(new)).row
    if status is OrderStatus.CLOSED:
        return (await store.mark_closed(order.order_id)).row
    if status is OrderStatus.FAILED:
        return (await store.mark_failed(order.order_id, "refused")).row
    return order


async def late_events(store: Store, order: PayOrder) -> list[OutboxEvent]:
    events = await store.list_events(order.order_id)
    return [e for e in events if e.event_type == "order.late_paid"]


def late(order: PayOrder, policy: str, amount: int | None = None) -> NewLatePayment:
    return NewLatePayment(
        order_id=order.order_id,
        channel_trade_no="2026112222001",
        amount=order.amount if amount is None else amount,
        paid_at=PAID_AT,
        policy=policy,
    )


@pytest.mark.parametrize("status", [OrderStatus.CLOSED, OrderStatus.FAILED])
async def test_refund_policy_keeps_the_status_and_reserves_a_refund(
    store: Store, status: OrderStatus
) -> None:
    order = await order_in(store, status)
    created = await store.record_late_payment(late(order, "refund"))
    assert created.created
    row = created.row
    assert (row.amount, row.order_status, row.policy) == (1000, status.value, "refund")
    refund = await store.get_refund(row.refund_id)
    assert refund is not None
    assert (refund.amount, refund.reason, refund.status) == (1000, "late payment", "PENDING")
    after = await store.get_order(order.order_id)
    assert after is not None
    assert after.status == status.value
    assert after.pending_refund_amount == 1000
    assert after.channel_trade_no == "2026112222001"
    (event,) = await late_events(store, order)
    assert event.payload["refund_id"] == row.refund_id
    assert event.payload["channel_trade_no"] == "2026112222001"
    assert event.payload["amount"] == 1000
    # The refund settles like any refund; merchants still cannot refund a closed order.
    done = await store.mark_refund_succeeded(row.refund_id)
    assert done.row.status == RefundStatus.SUCCEEDED.value
    settled = await store.get_order(order.order_id)
    assert settled is not None
    assert (settled.refunded_amount, settled.pending_refund_amount) == (1000, 0)
    with pytest.raises(OrderNotRefundable):
        await store.reserve_refund(
            NewRefund(app_id="app1", out_refund_no="R-1", order_id=order.order_id, amount=1)
        )


async def test_accept_policy_makes_the_order_paid(store: Store) -> None:
    order = await order_in(store, OrderStatus.CLOSED)
    row = (await store.record_late_payment(late(order, "accept"))).row
    assert row.refund_id == ""
    after = await store.get_order(order.order_id)
    assert after is not None
    assert (after.status, after.paid_at, after.channel_trade_no) == (
        "PAID",
        PAID_AT,
        "2026112222001",
    )
    assert len(await late_events(store, order)) == 1


async def test_reported_again_or_concurrently_is_recorded_once(store: Store) -> None:
    order = await order_in(store, OrderStatus.CLOSED)
    results = await asyncio.gather(
        *(store.record_late_payment(late(order, "refund")) for _ in range(5))
    )
    assert sum(r.created for r in results) == 1
    assert len({r.row.late_payment_id for r in results}) == 1
    assert len(await store.list_refunds(order_id=order.order_id)) == 1
    assert len(await late_events(store, order)) == 1
    after = await store.get_order(order.order_id)
    assert after is not None
    assert after.pending_refund_amount == 1000


async def test_not_late_changes_nothing(store: Store) -> None:
    pending = await order_in(store, OrderStatus.PENDING)
    with pytest.raises(NotLate):
        await store.record_late_payment(late(pending, "refund"))
    closed = await order_in(store, OrderStatus.CLOSED, amount=500)
    with pytest.raises(NotLate):
        await store.record_late_payment(late(closed, "refund", amount=499))
    for o in (pending, closed):
        assert await store.get_late_payment(o.order_id) is None
        assert await store.list_refunds(order_id=o.order_id) == []
    assert [e.event_type for e in await store.list_events(closed.order_id)] == ["order.closed"]


async def test_late_candidates_are_closed_or_failed_unexpired_and_unrecorded(
    store: Store,
) -> None:
    closed = await order_in(store, OrderStatus.CLOSED)
    failed = await order_in(store, OrderStatus.FAILED)
    recorded = await order_in(store, OrderStatus.CLOSED, amount=700)
    await order_in(store, OrderStatus.PENDING)
    await store.record_late_payment(late(recorded, "refund"))
    early = closed.expire_time.replace(year=2000)
    ids = {o.order_id for o in await store.list_late_candidates(early, 100)}
    assert ids == {closed.order_id, failed.order_id}
    latest = max(closed.expire_time, failed.expire_time)
    assert await store.list_late_candidates(latest, 100) == []
