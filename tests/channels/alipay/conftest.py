"""Shared fixtures of the Alipay channel tests against the sandbox: a merchant notify endpoint
that records what it gets, and a channel instance."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from paymesh.channels.alipay.channel import AlipayChannel
from paymesh.channels.transport import Transport


class Notifies:
    def __init__(self) -> None:
        self.url = ""
        self.got: list[bytes] = []
        self.event = asyncio.Event()

    async def wait_for(self, count: int, within: float = 5.0) -> list[bytes]:
        async with asyncio.timeout(within):
            while len(self.got) < count:
                self.event.clear()
                await self.event.wait()
        return list(self.got)


@pytest.fixture
async def notifies() -> AsyncIterator[Notifies]:
    rec = Notifies()

    async def handle(request: web.Request) -> web.Response:
        rec.got.append(await request.read())
        rec.event.set()
        return web.Response(text="success")

    app = web.Application()
    app.router.add_post("/notify", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/notify"
    yield rec
    await runner.cleanup()


@pytest.fixture
async def channel() -> AsyncIterator[AlipayChannel]:
    ch = AlipayChannel(Transport(timeout_seconds=5))
    yield ch
    await ch.aclose()
