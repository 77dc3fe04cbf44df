"""The needs-an-operator list over a migrated database: what is old or stuck is listed,
what is young or settled is not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from paymesh.console.supervision import Supervision
from paymesh.core.db import models as m
from paymesh.core.db.engine import create_engine
from paymesh.core.db.migrate import migrate
from paymesh.runtime.settings import Settings

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}"
    await migrate(url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


def _money(**kw: Any) -> dict[str, Any]:
    return {
        "amount": 100,
        "currency": "CNY",
        "channel": "wechat",
        "account_id": "w1",
        "app_id": "shop",
        "updated_at": NOW,
        **kw,
    }


async def test_attention_lists_what_is_old_or_stuck(engine: AsyncEngine) -> None:
    old, young = NOW - timedelta(hours=1), NOW - timedelta(minutes=1)
    rows: list[tuple[Any, dict[str, Any]]] = [
        (
            m.Refund,
            _money(
                refund_id="R1",
                out_refund_no="r1",
                order_id="P1",
                out_trade_no="o1",
                status="PENDING",
                created_at=old,
            ),
        ),
        (
            m.Refund,
            _money(
                refund_id="R2",
                out_refund_no="r2",
                order_id="P1",
                out_trade_no="o1",
                status="PENDING",
                created_at=young,
            ),
        ),
        (
            m.Refund,
            _money(
                refund_id="R3",
                out_refund_no="r3",
                order_id="P1",
                out_trade_no="o1",
                status="SUCCEEDED",
                created_at=old,
            ),
        ),
        (
            m.Transfer,
            _money(
                transfer_id="T1",
                out_transfer_no="t1",
                payee_id="u",
                status="PENDING",
                created_at=old,
            ),
        ),
        (
            m.Transfer,
            _money(
                transfer_id="T2",
                out_transfer_no="t2",
                payee_id="u",
                status="FAILED",
                created_at=old,
            ),
        ),
        (
            m.OutboxEvent,
            {
                "event_id": "E1",
                "event_type": "order.paid",
                "app_id": "shop",
                "aggregate_id": "P1",
                "payload": {},
                "status": "PENDING",
                "created_at": old,
            },
        ),
        (
            m.OutboxEvent,
            {
                "event_id": "E2",
                "event_type": "order.paid",
                "app_id": "shop",
                "aggregate_id": "P2",
                "payload": {},
                "status": "PUBLISHED",
                "created_at": old,
            },
        ),
        (
            m.OutboxEvent,
            {
                "event_id": "E3",
                "event_type": "order.paid",
                "app_id": "shop",
                "aggregate_id": "P3",
                "payload": {},
                "status": "PENDING",
                "created_at": young,
            },
        ),
    ]
    rows += [
        (
            m.Refund,
            _money(
                refund_id="R4",
                out_refund_no="r4",
                order_id="P1",
                out_trade_no="o1",
                status="PENDING",
                created_at=young,
                channel_state="ABNORMAL",
            ),
        ),
        (
            m.OutboxEvent,
            {
                "event_id": "E4",
                "event_type": "order.paid",
                "app_id": "shop",
                "aggregate_id": "P4",
                "payload": {},
                "status": "QUARANTINED",
                "quarantine_reason": "payload over 1 MiB",
                "created_at": young,
            },
        ),
    ]
    async with engine.begin() as conn:
        for model, values in rows:
            await conn.execute(model.__table__.insert().values(**values))
    attention = await Supervision(engine, Settings()).attention(now=NOW)
    assert [r["refund_id"] for r in attention.pending_refunds] == ["R1", "R4"]
    assert [r["transfer_id"] for r in attention.pending_transfers] == ["T1"]
    assert [r["event_id"] for r in attention.stuck_outbox] == ["E1"]
    assert [r["quarantine_reason"] for r in attention.quarantined_outbox] == ["payload over 1 MiB"]
    assert attention.failed_notifications == []
    assert attention.late_payments == []
    found = await Supervision(engine, Settings()).lookup("r1")
    assert [(f.kind, f.object_id) for f in found] == [("refund", "R1")]
