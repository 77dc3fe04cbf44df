"""Transfers: idempotent insert and terminal transitions."""

from __future__ import annotations

import asyncio

import pytest

from paymesh.core.db.convert import transfer_message
from paymesh.core.db.models import TransferStatus
from paymesh.core.db.store import Store
from paymesh.core.db.transfers import NewTransfer
from paymesh.errors import DuplicateOutTransferNo, TransferNotFound
from paymesh.merchant.v1 import transfer_pb2


def new_transfer(**kw: object) -> NewTransfer:
    base: dict[str, object] = {
        "app_id": "app1",
        "out_transfer_no": "X-1",
        "amount": 5000,
        "channel": "wechat",
        "account_id": "wx1",
        "payee_id": "openid-1",
        "payee_name": "张三",
        "notify_url": "https://m.example/n",
    }
    base.update(kw)
    return NewTransfer(**base)  # type: ignore[arg-type]


async def test_transfer_lifecycle(store: Store) -> None:
    results = await asyncio.gather(*(store.insert_transfer(new_transfer()) for _ in range(10)))
    assert sum(r.created for r in results) == 1
    assert len({r.row.transfer_id for r in results}) == 1
    tid = results[0].row.transfer_id
    assert tid.startswith("T")
    with pytest.raises(DuplicateOutTransferNo):
        await store.insert_transfer(new_transfer(payee_id="openid-2"))
    assert (await store.store_transfer_channel_no(tid, "bill-1")).changed
    done = await asyncio.gather(*(store.mark_transfer_succeeded(tid) for _ in range(5)))
    assert sum(t.changed for t in done) == 1
    assert not (await store.mark_transfer_failed(tid, "late")).changed
    row = await store.get_transfer(tid)
    assert row is not None
    assert row.status == TransferStatus.SUCCEEDED
    assert row.channel_transfer_no == "bill-1"
    events = await store.list_events(tid)
    assert [e.event_type for e in events] == ["transfer.succeeded"]
    assert events[0].payload["out_transfer_no"] == "X-1"
    msg = transfer_message(row)
    assert msg.status == transfer_pb2.Transfer.SUCCEEDED
    assert msg.payee_name == "张三"
    with pytest.raises(TransferNotFound):
        await store.mark_transfer_succeeded("T404")


async def test_transfer_failure(store: Store) -> None:
    row = (await store.insert_transfer(new_transfer(out_transfer_no="X-2"))).row
    failed = await store.mark_transfer_failed(row.transfer_id, "payee not found")
    assert failed.changed
    assert failed.row.fail_reason == "payee not found"
    assert failed.row.failed_at is not None
    assert [e.event_type for e in await store.list_events(row.transfer_id)] == ["transfer.failed"]
    found = await store.get_transfer_by_out_transfer_no("app1", "X-2")
    assert found is not None
    assert found.transfer_id == row.transfer_id
    assert await store.get_transfer(row.transfer_id, "app2") is None
