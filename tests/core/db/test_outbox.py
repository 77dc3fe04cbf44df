"""Outbox claims: concurrent relays never get the same event; expired or released claims come
back; only the holder of a claim settles it."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from paymesh.core.db.outbox import OutboxClaims
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
    claims = OutboxClaims(store.sessions)
    token, mine = await claims.claim(3, lease=60)
    assert [e.event_id for e in mine] == ids[:3]  # oldest first
    assert mine[0].payload["event_id"] == ids[0]
    assert all(e.attempts == 0 for e in mine)
    other_token, other = await claims.claim(10, lease=60)
    assert [e.event_id for e in other] == ids[3:]
    assert (await claims.claim(10, lease=60))[1] == []
    assert await claims.mark_published(token, ids[:2]) == 2
    assert await claims.mark_published(token, ids[3:]) == 0  # not ours
    await claims.release(token, [ids[2]], retry_in=0.0)
    released = await claims.get(ids[2])
    assert released is not None
    assert released.attempts == 1  # a failed publication counts
    # back after retry_in; the other claim's 60 s lease still holds its rows
    _, again = await claims.claim(10, lease=60, now=datetime.now(UTC) + timedelta(seconds=1))
    assert [e.event_id for e in again] == [ids[2]]
    published = await store.get_event(ids[0])
    assert published is not None
    assert published.status == "PUBLISHED"
    assert published.published_at is not None
    assert published.claim_token is None
    assert other_token != token


async def test_released_rows_wait_for_their_retry(store: Store) -> None:
    ids = await _add(store, 1)
    claims = OutboxClaims(store.sessions)
    token, rows = await claims.claim(1, lease=60)
    now = rows[0].created_at + timedelta(seconds=1)
    await claims.release(token, ids, retry_in=30.0, now=now)
    assert (await claims.claim(1, lease=60, now=now + timedelta(seconds=29)))[1] == []
    _, back = await claims.claim(1, lease=60, now=now + timedelta(seconds=31))
    assert [e.event_id for e in back] == ids


async def test_expired_claims_are_reclaimed(store: Store) -> None:
    ids = await _add(store, 2)
    claims = OutboxClaims(store.sessions)
    first, rows = await claims.claim(10, lease=30)
    assert len(rows) == 2
    later = rows[0].created_at + timedelta(minutes=5)
    second, again = await claims.claim(10, lease=30, now=later)
    assert [e.event_id for e in again] == ids
    assert await claims.mark_published(first, ids) == 0  # the stale holder lost them
    assert await claims.mark_published(second, ids) == 2


async def test_concurrent_relays_never_share_an_event(db_url: str, store: Store) -> None:
    ids = await _add(store, 120)
    stores = [Store.from_url(db_url, IdGenerator(0, 10 + i)) for i in range(3)]
    got: list[str] = []

    async def relay(claims: OutboxClaims) -> None:
        while True:
            token, rows = await claims.claim(7, lease=300)
            if not rows:
                return
            got.extend(e.event_id for e in rows)
            await claims.mark_published(token, [e.event_id for e in rows])

    try:
        relays = [OutboxClaims(s.sessions) for s in stores]
        await asyncio.gather(*(relay(r) for r in relays), *(relay(r) for r in relays))
    finally:
        for s in stores:
            await s.close()
    dupes = [k for k, v in Counter(got).items() if v > 1]
    assert dupes == []
    assert sorted(got) == sorted(ids)
