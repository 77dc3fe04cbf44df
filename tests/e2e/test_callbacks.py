"""Provider callbacks through Envoy's HttpBody binding into the callback gateway."""

from __future__ import annotations

from typing import Any

import aiohttp
import sqlalchemy as sa

from paymesh.core.db.models import Callback, ChannelRequest
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import create_qr_order, eventually, query_order, sandbox


async def _deliveries(
    http: aiohttp.ClientSession, mesh: Mesh, order_id: str
) -> list[dict[str, Any]]:
    answer = await sandbox(http, mesh.sandbox_url, "/_sandbox/callbacks")
    return [d for d in answer["callbacks"] if d["subject"] == order_id]


async def test_payment_callback_settles_the_order_without_a_query(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    order = await create_qr_order(merchant, 321)
    oid = order["order_id"]
    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay", {"channel": "wechat", "out_trade_no": oid}
    )

    async def paid() -> bool:
        return bool((await query_order(merchant, oid))["status"] == "PAID")

    await eventually(paid)

    async def delivered() -> bool:  # recorded by the sandbox once our answer reaches it
        return any(d["delivered"] for d in await _deliveries(http, mesh, oid))

    await eventually(delivered)
    (delivery,) = await _deliveries(http, mesh, oid)
    assert delivery["delivered"]
    assert delivery["attempts"][-1]["status"] == 200
    store = await mesh.store()
    events = await store.list_events(oid)
    assert [e.event_type for e in events] == ["order.paid"]
    # The callback's audit row and its verification's channel exchange, written together.
    async with store.sessions() as s:
        (callback,) = (
            await s.execute(sa.select(Callback).where(Callback.object_id == oid))
        ).scalars()
        parsed = (
            (
                await s.execute(
                    sa.select(ChannelRequest).where(
                        ChannelRequest.rpc == "ParseNotify",
                        ChannelRequest.created_at == callback.created_at,
                    )
                )
            )
            .scalars()
            .all()
        )
    assert callback.outcome == "applied"
    assert len(parsed) == 1


async def test_five_concurrent_duplicate_callbacks_give_one_event(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    order = await create_qr_order(merchant, 500)
    oid = order["order_id"]
    await sandbox(
        http,
        mesh.sandbox_url,
        "/_sandbox/faults",
        {
            "channel": "wechat",
            "fault": "duplicate_callbacks",
            "times": 5,
            "out_trade_no": oid,
            "count": 1,
        },
    )
    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay", {"channel": "wechat", "out_trade_no": oid}
    )

    async def all_answered() -> bool:
        ds = await _deliveries(http, mesh, oid)
        return len(ds) == 5 and all(d["attempts"] for d in ds)

    await eventually(all_answered)
    ds = await _deliveries(http, mesh, oid)
    assert all(d["delivered"] for d in ds), ds  # duplicates still get the ack
    assert (await query_order(merchant, oid))["status"] == "PAID"
    events = await (await mesh.store()).list_events(oid)
    assert [e.event_type for e in events] == ["order.paid"]


async def test_probe_callback_with_bad_signature_changes_nothing(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    order = await create_qr_order(merchant, 700)
    oid = order["order_id"]
    answer = await sandbox(
        http,
        mesh.sandbox_url,
        "/_sandbox/faults",
        {
            "channel": "wechat",
            "fault": "probe_callback",
            "out_trade_no": oid,
        },
    )
    (delivery,) = answer["deliveries"]
    assert delivery["probe"]
    assert not delivery["delivered"]
    assert delivery["attempts"][0]["status"] == 401
    assert (await query_order(merchant, oid))["status"] == "PENDING"
    assert await (await mesh.store()).list_events(oid) == []


async def test_callback_with_another_amount_changes_nothing(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    order = await create_qr_order(merchant, 900)
    oid = order["order_id"]
    await sandbox(
        http,
        mesh.sandbox_url,
        "/_sandbox/faults",
        {
            "channel": "wechat",
            "fault": "amount_mismatch",
            "delta": 1,
            "out_trade_no": oid,
        },
    )
    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay", {"channel": "wechat", "out_trade_no": oid}
    )

    async def answered() -> bool:
        ds = await _deliveries(http, mesh, oid)
        return bool(ds and ds[0]["attempts"])

    await eventually(answered)
    (delivery, *_) = await _deliveries(http, mesh, oid)
    assert not delivery["delivered"]
    assert delivery["attempts"][0]["status"] >= 400
    assert (await query_order(merchant, oid))["status"] == "PENDING"
    assert await (await mesh.store()).list_events(oid) == []
