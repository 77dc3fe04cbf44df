"""Orders: idempotent insert and guarded transitions, on SQLite and MariaDB."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from paymesh.core.db.convert import order_message, outbox_message
from paymesh.core.db.models import OrderStatus
from paymesh.core.db.orders import NewOrder
from paymesh.core.db.store import Store
from paymesh.errors import DuplicateOutTradeNo, OrderNotFound
from paymesh.merchant.v1 import order_pb2

PAID_AT = datetime(2026, 11, 22, 4, 0, 0, 123456, tzinfo=UTC)


def new_order(**kw: object) -> NewOrder:
    base: dict[str, object] = {
        "app_id": "app1",
        "out_trade_no": "T-1",
        "amount": 1000,
        "channel": "wechat",
        "account_id": "wx1",
        "method": "qr",
        "subject": "咖啡",
        "notify_url": "https://merchant.example/notify",
        "metadata": {"k": "v"},
    }
    base.update(kw)
    return NewOrder(**base)  # type: ignore[arg-type]


async def test_insert_is_idempotent(store: Store) -> None:
    first = await store.insert_order(new_order())
    assert first.created
    assert first.row.status == OrderStatus.PENDING
    assert first.row.order_id.startswith("P")
    again = await store.insert_order(new_order(subject="other subject is fine"))
    assert not again.created
    assert again.row.order_id == first.row.order_id
    for changed in ({"amount": 999}, {"channel": "alipay"}, {"method": "h5"}):
        with pytest.raises(DuplicateOutTradeNo):
            await store.insert_order(new_order(**changed))
    other_app = await store.insert_order(new_order(app_id="app2"))
    assert other_app.created
    assert (await store.insert_order(new_order(out_trade_no="t-1"))).created  # case-sensitive


async def test_concurrent_identical_inserts_make_one_row(store: Store) -> None:
    results = await asyncio.gather(*(store.insert_order(new_order()) for _ in range(50)))
    assert sum(r.created for r in results) == 1
    assert len({r.row.order_id for r in results}) == 1
    rows = await store.list_orders(OrderStatus.PENDING)
    assert [o.order_id for o in rows] == [results[0].row.order_id]


async def test_mark_paid_once_and_event(store: Store) -> None:
    order = (await store.insert_order(new_order())).row
    t = await store.mark_paid(order.order_id, 1000, "wx-trade-1", PAID_AT)
    assert t.changed
    assert t.row.status == OrderStatus.PAID
    assert t.row.paid_at == PAID_AT
    assert t.row.version == 2
    again = await store.mark_paid(order.order_id, 1000, "wx-trade-1", PAID_AT)
    assert not again.changed
    events = await store.list_events(order.order_id)
    assert len(events) == 1
    ev = events[0]
    assert ev.event_type == "order.paid"
    assert ev.notify_url == "https://merchant.example/notify"
    assert ev.payload == {
        "event_id": ev.event_id,
        "event_type": "order.paid",
        "app_id": "app1",
        "order_id": order.order_id,
        "out_trade_no": "T-1",
        "amount": 1000,
        "currency": "CNY",
        "status": "PAID",
        "channel": "wechat",
        "channel_trade_no": "wx-trade-1",
        "paid_at": "2026-11-22T04:00:00Z",
        "metadata": {"k": "v"},
    }
    msg = outbox_message(ev)
    assert msg.notification.amount == 1000
    assert msg.notification.metadata["k"] == "v"
    assert msg.event_id == ev.event_id


async def test_concurrent_mark_paid_one_event(store: Store) -> None:
    order = (await store.insert_order(new_order())).row
    results = await asyncio.gather(
        *(store.mark_paid(order.order_id, 1000, f"ctn-{i}", PAID_AT) for i in range(20))
    )
    assert sum(r.changed for r in results) == 1
    assert len(await store.list_events(order.order_id)) == 1
    assert all(r.row.status == OrderStatus.PAID for r in results)


async def test_wrong_amount_and_closed_cannot_be_paid(store: Store) -> None:
    order = (await store.insert_order(new_order())).row
    t = await store.mark_paid(order.order_id, 999, "x", PAID_AT)
    assert not t.changed
    assert t.row.status == OrderStatus.PENDING
    closed = await store.mark_closed(order.order_id)
    assert closed.changed
    assert closed.row.status == OrderStatus.CLOSED
    assert closed.row.closed_at is not None
    late = await store.mark_paid(order.order_id, 1000, "x", PAID_AT)
    assert not late.changed
    assert late.row.status == OrderStatus.CLOSED
    assert [e.event_type for e in await store.list_events(order.order_id)] == ["order.closed"]
    assert not (await store.mark_failed(order.order_id, "nope")).changed
    with pytest.raises(OrderNotFound):
        await store.mark_paid("P404", 1, "x", PAID_AT)


async def test_failed_and_pay_data(store: Store) -> None:
    order = (await store.insert_order(new_order())).row
    t = await store.store_pay_data(order.order_id, {"code_url": "weixin://wxpay/1"}, "ctn")
    assert t.changed
    assert t.row.pay_data == {"code_url": "weixin://wxpay/1"}
    msg = order_message(t.row)
    assert msg.pay_data.code_url == "weixin://wxpay/1"
    assert msg.status == order_pb2.Order.PENDING
    assert msg.channel_trade_no == "ctn"
    assert msg.subject == "咖啡"
    assert msg.expire_time.seconds - msg.created_at.seconds == 900
    failed = await store.mark_failed(order.order_id, "channel said no")
    assert failed.changed
    assert failed.row.fail_reason == "channel said no"
    assert not (await store.mark_paid(order.order_id, 1000, "x", PAID_AT)).changed
    assert await store.list_events(order.order_id) == []


async def test_lookups(store: Store) -> None:
    order = (await store.insert_order(new_order())).row
    assert (await store.get_order(order.order_id, "app1")) is not None
    assert (await store.get_order(order.order_id, "app2")) is None
    found = await store.get_order_by_out_trade_no("app1", "T-1")
    assert found is not None
    assert found.order_id == order.order_id
    assert found.created_at.tzinfo is not None
    pending = await store.list_orders(OrderStatus.PENDING, created_before=datetime.now(UTC))
    assert [o.order_id for o in pending] == [order.order_id]


async def test_pay_data_with_its_channel_log_in_one_transaction(store: Store) -> None:
    import sqlalchemy as sa

    from paymesh.core.db.audit import ChannelCall
    from paymesh.core.db.models import ChannelRequest

    order = (await store.insert_order(new_order())).row
    call = ChannelCall(
        object_kind="order",
        object_id=order.order_id,
        rpc="Pay",
        channel="wechat",
        account_id="wx1",
        request_body='{"appid":"wx","private_key":"x"}',
        response_body='{"code_url":"weixin://wxpay/1"}',
    )
    # `before` is the row as inserted: not read back, but exactly what a read would give.
    t = await store.store_pay_data(
        order.order_id, {"code_url": "weixin://wxpay/1"}, "ctn", log=[call], before=order
    )
    assert t.changed
    read = await store.get_order(order.order_id)
    assert read is not None
    for attr in ("pay_data", "channel_trade_no", "version", "status", "amount", "meta"):
        assert getattr(t.row, attr) == getattr(read, attr), attr
    assert t.row.updated_at == read.updated_at
    assert read.version == 2
    async with store.sessions() as s:
        logged = (
            (
                await s.execute(
                    sa.select(ChannelRequest).where(ChannelRequest.object_id == order.order_id)
                )
            )
            .scalars()
            .all()
        )
    assert [r.rpc for r in logged] == ["Pay"]
    assert '"private_key":"[REDACTED]"' in logged[0].request_body

    # A stale `before` (the row moved since: PAID by a callback) changes nothing, and the
    # answer is the row as it is now; its log is still written.
    paid = await store.mark_paid(order.order_id, 1000, "ctn", PAID_AT)
    assert paid.changed
    again = await store.store_pay_data(
        order.order_id, {"code_url": "weixin://wxpay/2"}, log=[call], before=order
    )
    assert not again.changed
    assert again.row.status == OrderStatus.PAID
    assert again.row.pay_data == {"code_url": "weixin://wxpay/1"}
    async with store.sessions() as s:
        count = await s.scalar(
            sa.select(sa.func.count())
            .select_from(ChannelRequest)
            .where(ChannelRequest.object_id == order.order_id)
        )
    assert count == 2


async def test_mark_paid_guarded_on_the_version_seen(store: Store) -> None:
    order = (await store.insert_order(new_order())).row
    moved = await store.store_pay_data(order.order_id, {"code_url": "weixin://wxpay/1"})
    # `order` is stale (version 1, the row is at 2): the ordinary transition decides.
    paid = await store.mark_paid(order.order_id, 1000, "ctn", PAID_AT, before=order)
    assert paid.changed
    assert paid.row.version == 3
    assert paid.row.pay_data == {"code_url": "weixin://wxpay/1"}
    (event,) = await store.list_events(order.order_id)
    assert event.payload["status"] == "PAID"
    # Fresh `before`: nothing read back, and the answer is what a read gives.
    other = (await store.insert_order(new_order(out_trade_no="T-2"))).row
    done = await store.mark_paid(other.order_id, 1000, "ctn2", PAID_AT, before=other)
    read = await store.get_order(other.order_id)
    assert done.changed
    assert read is not None
    for attr in ("status", "channel_trade_no", "paid_at", "version", "updated_at", "meta"):
        assert getattr(done.row, attr) == getattr(read, attr), attr
    (event2,) = await store.list_events(other.order_id)
    assert event2.payload["paid_at"] == "2026-11-22T04:00:00Z"
    assert not (await store.mark_paid(other.order_id, 1000, "x", PAID_AT, before=read)).changed
    assert moved.changed
