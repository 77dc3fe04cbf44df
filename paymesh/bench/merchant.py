"""The merchant endpoint of the callback case: verifies each notification's signature,
answers SUCCESS, and records when each order's notification arrived and how often."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter

from aiohttp import web

from paymesh.core.signing import canonical_from_mapping, verify
from paymesh.testing.ports import free_port


class BenchMerchant:
    def __init__(self) -> None:
        self.secret = ""
        self.arrived: dict[str, float] = {}  # order_id -> first arrival (perf_counter)
        self.counts: Counter[str] = Counter()  # order_id -> deliveries
        self.bad_signatures = 0
        self._waiting: set[str] = set()
        self.all_arrived = asyncio.Event()

    def expect(self, order_ids: set[str]) -> asyncio.Event:
        """An event set once every one of ``order_ids`` has been notified."""
        self._waiting = order_ids - self.arrived.keys()
        self.all_arrived = asyncio.Event()
        if not self._waiting:
            self.all_arrived.set()
        return self.all_arrived

    async def notify(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        sign = str(body.get("sign", ""))
        if not verify(canonical_from_mapping(body), "HMAC-SHA256", sign, self.secret):
            self.bad_signatures += 1
            return web.Response(status=401, text="FAIL")
        order_id = str(body.get("order_id", ""))
        self.arrived.setdefault(order_id, time.perf_counter())
        self.counts[order_id] += 1
        self._waiting.discard(order_id)
        if not self._waiting:
            self.all_arrived.set()
        return web.Response(text="SUCCESS")

    async def start(self, stack: contextlib.AsyncExitStack) -> str:
        """Serve on a free loopback port until ``stack`` closes; returns the notify URL."""
        app = web.Application()
        app.router.add_post("/notify", self.notify)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return f"http://127.0.0.1:{port}/notify"


__all__ = ["BenchMerchant"]
