"""The timed cases: the echo baseline, CreateOrder over gRPC and through Envoy, each with the
CPU its processes used per call."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import grpc
from google.protobuf import json_format

from paymesh.bench.drive import Call, Result, drive, order_request
from paymesh.bench.procstat import Meter
from paymesh.bench.stack import Stack
from paymesh.merchant.v1 import pay_service_pb2_grpc as pay_grpc


async def metered(meter: Meter, run: Callable[[], Awaitable[Result]]) -> Result:
    """Run a case and attach each group's CPU milliseconds per successful call."""
    before = meter.sample()
    result = await run()
    used = meter.since(before)
    result.cpu_ms = {g: s * 1000 / max(result.ok, 1) for g, s in used.items()}
    return result


async def echo_case(s: Stack, meter: Meter, seconds: float, concurrency: int) -> Result:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{s.echo_port}") as ch:
        echo: Any = ch.unary_unary("/bench.Echo/Echo")
        payload = order_request(s.app.app_id, s.app.secret, "e", 0).SerializeToString()

        async def call(_n: int) -> bool:
            return bool(await echo(payload))

        return await metered(
            meter, lambda: drive("grpc.aio echo (baseline)", call, seconds, concurrency)
        )


def grpc_call(stub: Any, s: Stack, run: str, case: str) -> Call:
    async def call(n: int) -> bool:
        try:
            resp = await stub.CreateOrder(
                order_request(s.app.app_id, s.app.secret, run, n, case), timeout=30
            )
        except grpc.aio.AioRpcError:
            return False
        return bool(resp.order.order_id)

    return call


def lanes(call_for: Callable[[Any], Call], stubs: list[Any]) -> Call:
    """Spread calls over several client connections, caller n on connection n mod len."""
    calls = [call_for(stub) for stub in stubs]

    async def call(n: int) -> bool:
        return await calls[n % len(calls)](n)

    return call


async def grpc_case(
    s: Stack, meter: Meter, seconds: float, concurrency: int, case: str, name: str
) -> Result:
    """One HTTP/2 connection per gateway worker: SO_REUSEPORT balances connections, not calls,
    so a single connection would keep every worker but one idle (as many clients would not)."""
    run = uuid.uuid4().hex[:8]
    async with contextlib.AsyncExitStack() as stack:
        stubs = []
        for lane in range(16 if s.workers > 1 else 1):
            # a private subchannel pool: grpc would otherwise reuse one connection for all
            opts = [("grpc.use_local_subchannel_pool", 1), ("paymesh.bench.lane", lane)]
            ch = await stack.enter_async_context(
                grpc.aio.insecure_channel(f"127.0.0.1:{s.grpc_port}", options=opts)
            )
            stubs.append(pay_grpc.PayServiceStub(ch))
        warm = lanes(lambda st: grpc_call(st, s, run + "w", case), stubs)
        await drive("warm-up", warm, 1.0, concurrency)
        timed = lanes(lambda st: grpc_call(st, s, run, case), stubs)
        return await metered(meter, lambda: drive(name, timed, seconds, concurrency))


async def envoy_case(s: Stack, meter: Meter, seconds: float, concurrency: int, case: str) -> Result:
    run = uuid.uuid4().hex[:8]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        url = f"http://127.0.0.1:{s.edge_port}/v1/orders"

        async def call(n: int) -> bool:
            body = json_format.MessageToDict(
                order_request(s.app.app_id, s.app.secret, run, n, case),
                preserving_proto_field_name=True,
            )
            async with http.post(url, json=body) as r:
                await r.read()
                return r.status == 200

        return await metered(
            meter,
            lambda: drive("CreateOrder via Envoy HTTP/JSON", call, seconds, concurrency),
        )


__all__ = ["echo_case", "envoy_case", "grpc_call", "grpc_case", "metered"]
