"""How often the cashier may ask a provider about one order.

The result page refreshes every 2 s while a payment is pending, and each refresh may query
the bound channel. Anyone holding the link (a payer reloading, a script) could otherwise make
paymesh query the provider as fast as they can send requests, and providers throttle a
merchant's query API (WeChat answers FREQUENCY_LIMITED) for every order, not just that one.
`QueryPacer` lets one query per order through per `interval` in this process; a refresh in
between shows the order as stored (a callback settles it without any query).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

# Under the page's 2 s refresh, so a payer watching the page still gets a query per refresh.
QUERY_INTERVAL_SECONDS = 1.5
# Orders remembered at most (the oldest are forgotten first): bounded memory under a flood.
MAX_ORDERS = 10_000


class QueryPacer:
    """At most one query per order per `interval` seconds. Not thread-safe: one per event
    loop, and `take` does not await, so concurrent requests for one order see one winner."""

    def __init__(
        self,
        interval: float = QUERY_INTERVAL_SECONDS,
        capacity: int = MAX_ORDERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        self._capacity = capacity
        self._clock = clock
        self._last: OrderedDict[str, float] = OrderedDict()

    def take(self, order_id: str) -> bool:
        """True when a query for this order may go now (and counts it)."""
        now = self._clock()
        last = self._last.get(order_id)
        if last is not None and now - last < self._interval:
            return False
        self._last[order_id] = now
        self._last.move_to_end(order_id)
        while len(self._last) > self._capacity:
            self._last.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._last)


__all__ = ["MAX_ORDERS", "QUERY_INTERVAL_SECONDS", "QueryPacer"]
