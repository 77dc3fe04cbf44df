"""Snowflake ids: format, order, clock steps, floors and an invalid worker."""

from __future__ import annotations

import re

import pytest

from paymesh import ids as idformat
from paymesh.core import ids

ID_RE = re.compile(r"^[A-Z][0-9]+$")


def test_hundred_thousand_unique_and_increasing() -> None:
    gen = ids.IdGenerator(3, 7)
    out = [gen.order_id() for _ in range(100_000)]
    assert len(set(out)) == len(out)
    assert out == sorted(out)
    assert all(8 <= len(i) <= 32 and ID_RE.match(i) for i in out[:1000])
    parts = ids.parse_id(out[-1])
    assert (parts.prefix, parts.datacenter_id, parts.worker_id) == ("P", 3, 7)


def test_prefixes_and_width() -> None:
    gen = ids.IdGenerator(0, 0)
    assert gen.refund_id().startswith("R")
    assert gen.transfer_id().startswith("T")
    assert len(gen.order_id()) == len(gen.event_id()) == 1 + idformat.DIGITS
    with pytest.raises(ValueError, match="prefix"):
        gen.next_id("P-")


def test_distinct_workers_never_collide() -> None:
    fixed = 1_763_769_600_000

    def frozen() -> int:
        return fixed  # all generators issue within the same millisecond

    a = ids.IdGenerator(1, 1, clock_ms=frozen)
    b = ids.IdGenerator(1, 2, clock_ms=frozen)
    c = ids.IdGenerator(2, 1, clock_ms=frozen)
    seen: set[str] = set()
    for _ in range(idformat.MAX_SEQUENCE):
        for g in (a, b, c):
            seen.add(g.order_id())
    assert len(seen) == 3 * idformat.MAX_SEQUENCE


def test_a_small_clock_step_back_continues_after_the_last_id_without_sleeping() -> None:
    now = [1_763_769_600_000]
    gen = ids.IdGenerator(0, 0, clock_ms=lambda: now[0], max_backward_ms=50)
    first = gen.next_int()
    now[0] -= 20  # NTP steps the clock back 20 ms
    out = [gen.next_int() for _ in range(100)]
    assert out == sorted(out)
    assert out[0] > first
    assert len(set(out)) == 100
    assert ids.parse_id(f"P{out[-1]}").unix_ms == now[0] + 20  # still the last id's ms


def test_a_large_step_back_is_refused_until_the_clock_catches_up() -> None:
    now = [1_763_769_600_000]
    gen = ids.IdGenerator(0, 0, clock_ms=lambda: now[0], max_backward_ms=5)
    first = gen.order_id()
    now[0] -= 100
    with pytest.raises(ids.ClockMovedBackwards) as e:
        gen.order_id()
    assert e.value.code.name == "UNAVAILABLE"
    assert e.value.reason.value == "WORKER_ID_UNAVAILABLE"
    now[0] += 100
    assert gen.order_id() > first


def test_sequence_exhaustion_takes_the_next_ms_without_waiting_for_the_clock() -> None:
    t = [1_763_769_600_000]
    gen = ids.IdGenerator(0, 0, clock_ms=lambda: t[0], max_backward_ms=2)
    out = [
        gen.next_int() for _ in range(3 * (idformat.MAX_SEQUENCE + 1))
    ]  # 3 ms worth, clock still
    assert len(set(out)) == len(out)
    assert out == sorted(out)
    with pytest.raises(ids.ClockMovedBackwards):  # a 4th ms would run 3 ms ahead of the clock
        gen.next_int()
    t[0] += 10
    assert gen.next_int() > out[-1]


def test_a_new_floor_from_the_lease_moves_ids_past_it() -> None:
    class Lease:
        worker_id = 3
        floor_ms = 0

        def is_valid(self) -> bool:
            return True

    now = [1_763_769_600_000]
    lease = Lease()
    gen = ids.IdGenerator(0, lease, clock_ms=lambda: now[0], max_backward_ms=1000)
    gen.next_int()
    lease.floor_ms = now[0] + 300  # re-acquired an id whose last holder ran 300 ms ahead
    after = ids.parse_id(f"P{gen.next_int()}")
    assert after.unix_ms == now[0] + 301


def test_invalid_worker_stops_issuing() -> None:
    class Dead:
        worker_id = 1

        def is_valid(self) -> bool:
            return False

    with pytest.raises(ids.WorkerLeaseLost):
        ids.IdGenerator(0, Dead()).order_id()
