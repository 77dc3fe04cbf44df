"""Outbox claims: concurrent relays never get the same event; expired claims come back."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta

from paymesh.core.db.store import Store
from paymesh.core.ids import IdGenerator


async def _add(store: Store, n: int) -> list[str]:
    ids = []
    for i in range(n):
        ev = await store.add_event(
            event_type="order.paid",
            app_id="app1",
            aggregate_id=f"P{i}",
            notify_url="https://m.example/n",
            payload={"order_id": f"P{i}", "amount": i + 1},
        )
        ids.append(ev.event_id)
    return ids


async def test_claim_publish_release(store: Store) -> None:
    ids = await _add(store, 5)
    claim = await store.claim_events(limit=3)
    assert [e.event_id for e in claim.events] == ids[:3]  # oldest first
    assert claim.events[0].payload["event_id"] == ids[0]
    assert all(e.attempts == 1 for e in claim.events)
    other = await store.claim_events(limit=10)
    assert [e.event_id for e in other.events] == ids[3:]
    assert (await store.claim_events()).events == []
    assert await store.mark_published(ids[:2], claim.token) == 2
    assert await store.mark_published(ids[3:], claim.token) == 0  # not ours
    assert await store.release_events([ids[2]], claim.token) == 1
    again = await store.claim_events()
    assert [e.event_id for e in again.events] == [ids[2]]
    published = await store.get_event(ids[0])
    assert published is not None
    assert published.status == "PUBLISHED"
    assert published.published_at is not None


async def test_expired_claims_are_reclaimed(store: Store) -> None:
    ids = await _add(store, 2)
    first = await store.claim_events(lease_seconds=30)
    assert len(first.events) == 2
    now = [datetime.now(first.events[0].created_at.tzinfo) + timedelta(seconds=31)]
    later = Store(store.engine, store.sessions, store.ids, clock=lambda: now[0])
    second = await later.claim_events()
    assert [e.event_id for e in second.events] == ids
    assert await later.mark_published(ids, first.token) == 0  # the stale holder lost them
    assert await later.mark_published(ids, second.token) == 2


async def test_concurrent_relays_never_share_an_event(db_url: str, store: Store) -> None:
    ids = await _add(store, 120)
    relays = [Store.from_url(db_url, IdGenerator(0, 10 + i)) for i in range(3)]
    got: list[str] = []

    async def relay(r: Store) -> None:
        while True:
            claim = await r.claim_events(limit=7, lease_seconds=300)
            if not claim.events:
                return
            got.extend(e.event_id for e in claim.events)
            await r.mark_published([e.event_id for e in claim.events], claim.token)

    try:
        await asyncio.gather(*(relay(r) for r in relays), *(relay(r) for r in relays))
    finally:
        for r in relays:
            await r.close()
    dupes = [k for k, v in Counter(got).items() if v > 1]
    assert dupes == []
    assert sorted(got) == sorted(ids)
