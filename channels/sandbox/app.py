"""The provider sandbox server: one aiohttp app for every provider, the control API and
the payer page.

Start it with `await run_sandbox(host, port)` / `await serve(host, port)` (run until
cancelled; `paymesh sandbox --port N` does `asyncio.run(run_sandbox(host, port))`), or
`await start_sandbox(host, port=0, state=None)`, which returns a running `SandboxServer`
(`.url`, `.state`, `await .close()`) on a free loopback port, for tests and `paymesh dev`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from paymesh.channels.sandbox import control, page, wallet
from paymesh.channels.sandbox.alipay import AlipayProvider
from paymesh.channels.sandbox.faults import Fault
from paymesh.channels.sandbox.provider import Provider
from paymesh.channels.sandbox.state import SandboxState
from paymesh.channels.sandbox.unionpay import UnionpayProvider
from paymesh.channels.sandbox.wechat import WeChatProvider
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.sandbox")

PROVIDERS: dict[str, Callable[[SandboxState], Provider]] = {
    "wechat": WeChatProvider,
    "alipay": AlipayProvider,
    "unionpay": UnionpayProvider,
}
"""Provider modules by channel."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply armed request faults (delay, http_500, timeout) to provider API requests."""
    state = request.app[control.STATE_KEY]
    provider = next((p for p in state.providers.values() if p.owns(request.path)), None)
    if provider is None:
        return await handler(request)
    fired = {
        f.fault: f
        for f in state.faults.take_request(provider.channel, request.method, request.path)
    }
    if not fired:
        return await handler(request)
    log.info("sandbox fault fires", faults=sorted(fired), path=request.path)
    if "delay" in fired:
        await state.faults.hang(fired["delay"].seconds)
    timeout = fired.get("timeout")
    if timeout is not None and not timeout.process:
        await state.faults.hang(timeout.seconds)
        return provider.fault_response(request, 504)
    http_500 = fired.get("http_500")
    if http_500 is not None and not http_500.process:
        return provider.fault_response(request, http_500.status)
    raw = fired.get("raw_status")
    if raw is not None and not raw.process:
        return _raw(raw)
    response = await handler(request)
    if timeout is not None:
        await state.faults.hang(timeout.seconds)
    if http_500 is not None:
        return provider.fault_response(request, http_500.status)
    if raw is not None:
        return _raw(raw)
    return response


def _raw(fault: Fault) -> web.Response:
    """A bare answer as an intermediary would give it: no provider shape, no signature."""
    return web.Response(status=fault.status, text=str(fault.extra.get("body", "")))


def build_app(state: SandboxState | None = None) -> web.Application:
    """The sandbox application (providers, control API, payer page) over `state`."""
    state = state if state is not None else SandboxState()
    for channel, factory in PROVIDERS.items():
        if channel not in state.providers:
            state.providers[channel] = factory(state)
    app = web.Application(middlewares=[fault_middleware])
    app[control.STATE_KEY] = state
    for provider in state.providers.values():
        app.add_routes(provider.routes())
    app.add_routes(control.routes())
    app.add_routes(page.routes())
    app.add_routes(wallet.routes(state))

    async def on_shutdown(_app: web.Application) -> None:
        state.faults.release_hangs()

    async def on_cleanup(_app: web.Application) -> None:
        await state.stop()

    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    return app


@dataclass
class SandboxServer:
    """A running sandbox; `url` is its base URL (`http://127.0.0.1:PORT`)."""

    url: str
    state: SandboxState
    runner: web.AppRunner

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_sandbox(
    host: str = "127.0.0.1", port: int = 0, state: SandboxState | None = None
) -> SandboxServer:
    """Start the sandbox in the running loop (port 0: a free port) and return it."""
    state = state if state is not None else SandboxState()
    runner = web.AppRunner(build_app(state), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    url = f"http://{host}:{bound}"
    log.info("sandbox listening", url=url, channels=sorted(state.providers))
    return SandboxServer(url=url, state=state, runner=runner)


async def serve(host: str, port: int) -> None:
    """Serve the sandbox until cancelled."""
    server = await start_sandbox(host, port)
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()


async def run_sandbox(host: str = "127.0.0.1", port: int = 8700) -> None:
    """Entry point of `paymesh sandbox --port N` (`asyncio.run(run_sandbox(host, port))`)."""
    await serve(host, port)
