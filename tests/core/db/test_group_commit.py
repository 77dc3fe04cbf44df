"""Group commit on the order path (`core/db/batch.py`): concurrent CreateOrders' INSERTs and
pay-data UPDATEs share transactions on MariaDB, and every caller still gets its own row's
answer: duplicates and conflicts stay with their own caller, nothing is lost or doubled.
On SQLite each runs alone; the same assertions hold there."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paymesh.core.db.audit import CHANNEL_REQUESTS, ChannelCall
from paymesh.core.db.batch import RowBatcher, StepBatcher
from paymesh.core.db.fastexec import Params, Prepared
from paymesh.core.db.models import OrderStatus
from paymesh.core.db.orders import COLUMN_OF, ORDERS, _params
from paymesh.core.db.store import Store
from paymesh.errors import DuplicateOutTradeNo
from tests.core.conftest import open_store
from tests.core.db.test_orders import new_order


def call(order_id: str) -> ChannelCall:
    return ChannelCall(
        channel="wechat",
        account_id="wx1",
        rpc="Pay",
        http_method="POST",
        url="https://api.mch.weixin.qq.com/v3/pay/transactions/native",
        http_status=200,
        request_body=f'{{"out_trade_no":"{order_id}"}}',
        response_body='{"code_url":"weixin://wxpay/bizpayurl?pr=x"}',
        latency_ms=5,
        object_kind="order",
        object_id=order_id,
    )


async def _count(store: Store, table: sa.Table) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def test_concurrent_orders_with_duplicates_in_one_batch(store: Store) -> None:
    """60 CreateOrders at once, among them retries of one out_trade_no (same values: the
    existing order) and one with another amount (refused): 41 rows, each answer its own."""
    fresh = [new_order(out_trade_no=f"G-{n}") for n in range(40)]
    retries = [new_order(out_trade_no="G-dup") for _ in range(19)]
    clash = new_order(out_trade_no="G-dup", amount=1)
    results = await asyncio.gather(
        *(store.insert_order(o) for o in [*fresh[:20], *retries, *fresh[20:]]),
        store.insert_order(clash),
        return_exceptions=True,
    )
    orders = results[:-1]
    assert not [r for r in orders if isinstance(r, BaseException)]
    created = [r for r in orders if not isinstance(r, BaseException) and r.created]
    assert len(created) == 41  # 40 fresh + the first of the retries
    dup_ids = {
        r.row.order_id
        for r in orders
        if not isinstance(r, BaseException) and r.row.out_trade_no == "G-dup"
    }
    assert len(dup_ids) == 1
    last = results[-1]
    # The clash either came first (created, and the retries then differ: refused) or not.
    if isinstance(last, BaseException):
        assert isinstance(last, DuplicateOutTradeNo)
    assert await _count(store, ORDERS) == 41
    assert len(await store.list_orders(OrderStatus.PENDING, limit=100)) == 41


async def test_concurrent_pay_data_stores_keep_their_own_answers_and_logs(store: Store) -> None:
    """Pay data stored for 30 orders at once, one of which moved meanwhile (closed): the 29
    get their pay data and exactly their own log row; the closed one is not overwritten."""
    rows = [(await store.insert_order(new_order(out_trade_no=f"S-{n}"))).row for n in range(30)]
    moved = rows[7]
    assert (await store.mark_closed(moved.order_id)).changed
    results = await asyncio.gather(
        *(
            store.store_pay_data(
                r.order_id,
                {"code_url": f"weixin://{r.order_id}"},
                log=[call(r.order_id)],
                before=r,
            )
            for r in rows
        )
    )
    for r, t in zip(rows, results, strict=True):
        if r.order_id == moved.order_id:
            assert not t.changed
            assert t.row.status == OrderStatus.CLOSED
            assert t.row.pay_data is None
            continue
        assert t.changed
        assert t.row.pay_data == {"code_url": f"weixin://{r.order_id}"}
        stored = await store.get_order(r.order_id)
        assert stored is not None
        assert stored.pay_data == t.row.pay_data
        assert stored.version == r.version + 1 == t.row.version
    assert await _count(store, CHANNEL_REQUESTS) == 30  # every exchange logged once, kept
    async with store.engine.connect() as conn:
        per_order = (
            await conn.execute(
                sa.select(CHANNEL_REQUESTS.c.object_id, sa.func.count()).group_by(
                    CHANNEL_REQUESTS.c.object_id
                )
            )
        ).all()
    assert sorted(n for _, n in per_order) == [1] * 30


@pytest.fixture
async def mariadb_store(mariadb_database: str) -> AsyncIterator[Store]:
    """Group commit is the MariaDB path (SQLite runs each transaction alone)."""
    async with open_store(mariadb_database) as s:
        yield s


async def test_a_failing_step_fails_only_its_caller(mariadb_store: Store) -> None:
    store = mariadb_store
    rows = [(await store.insert_order(new_order(out_trade_no=f"F-{n}"))).row for n in range(6)]
    update = Prepared(
        ORDERS.update()
        .where(ORDERS.c.order_id == sa.bindparam("oid"))
        .values(subject=sa.bindparam("subject"))
    )
    batcher = StepBatcher(store._run_core, Prepared(CHANNEL_REQUESTS.insert()))

    def step(oid: str, fail: bool) -> Any:
        async def run(conn: AsyncConnection) -> tuple[bool, list[Params]]:
            await update.execute(conn, {"oid": oid, "subject": "batched"})
            if fail:
                raise ValueError("this step fails")
            return True, []

        return run

    results = await asyncio.gather(
        *(batcher.run(step(r.order_id, n == 3)) for n, r in enumerate(rows)),
        return_exceptions=True,
    )
    assert isinstance(results[3], ValueError)
    assert [x for n, x in enumerate(results) if n != 3] == [True] * 5
    for n, r in enumerate(rows):
        got = await store.get_order(r.order_id)
        assert got is not None
        assert got.subject == ("咖啡" if n == 3 else "batched")  # the failed step rolled back


async def test_rows_share_a_round_trip_when_they_arrive_together(mariadb_store: Store) -> None:
    """The batching itself: 20 order inserts arriving together go in at most 3
    transactions (counted), not 20, and all 20 rows are there."""
    store = mariadb_store
    transactions = 0

    async def counting(fn: Any) -> Any:
        nonlocal transactions
        transactions += 1
        return await store._run_core(fn)

    template = (await store.insert_order(new_order(out_trade_no="B-0"))).row
    batcher = RowBatcher(counting, Prepared(ORDERS.insert(), tuple(COLUMN_OF.values())))
    params = [
        _params(template) | {"order_id": f"PB{n:04d}", "out_trade_no": f"B-{n + 1}"}
        for n in range(20)
    ]
    await asyncio.gather(*(batcher.insert(p) for p in params))
    assert transactions <= 3
    assert await _count(store, ORDERS) == 21
