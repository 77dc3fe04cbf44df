"""The cashier's per-order query pacing (a fake clock: the interval is the behaviour)."""

from __future__ import annotations

from paymesh.cashier.pacing import QueryPacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_query_per_order_per_interval() -> None:
    clock = Clock()
    pacer = QueryPacer(interval=1.5, clock=clock)
    assert pacer.take("o1")
    assert not pacer.take("o1")
    assert pacer.take("o2")  # another order has its own allowance
    clock.now += 1.4
    assert not pacer.take("o1")
    clock.now += 0.1
    assert pacer.take("o1")
    assert not pacer.take("o1")


def test_refused_requests_do_not_push_the_next_query_back() -> None:
    clock = Clock()
    pacer = QueryPacer(interval=2.0, clock=clock)
    assert pacer.take("o1")
    for at in (100.5, 101.0, 101.5, 101.9):
        clock.now = at
        assert not pacer.take("o1")
    clock.now = 102.0  # counted from the query that went at 100.0
    assert pacer.take("o1")


def test_memory_is_bounded_and_the_oldest_orders_are_forgotten_first() -> None:
    clock = Clock()
    pacer = QueryPacer(interval=60.0, capacity=3, clock=clock)
    for oid in ("a", "b", "c", "d"):
        assert pacer.take(oid)
    assert len(pacer) == 3
    assert pacer.take("a")  # forgotten: may query again
    assert not pacer.take("d")  # remembered
