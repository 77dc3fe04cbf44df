"""The callback case: N sandbox payments -> provider callbacks through Envoy -> PAID ->
outbox -> JetStream -> notifier -> the merchant endpoint answering SUCCESS.

Orders are created first (not timed); then the payer pays them and the case ends when every
order's notification has arrived, or at a deadline. Two ways to pay: a burst (all of them, 32
at a time, as fast as the sandbox takes them) measures how many payments per second the path
can notify, and its latencies are mostly time spent queued behind the burst; paced (`rate`
payments per second, open loop: each payment at its own time whatever happened to the ones
before) measures payment -> notification latency at that throughput. Every
payment must be notified exactly once: missing and doubled deliveries are counted after a
grace period in which a late duplicate would show."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field

import aiohttp
import grpc

from paymesh.bench.drive import order_request, percentile
from paymesh.bench.procstat import Meter
from paymesh.bench.stack import Stack
from paymesh.merchant.v1 import pay_service_pb2_grpc as pay_grpc

DUPLICATE_GRACE_S = 2.0


@dataclass
class CallbackResult:
    offered_rate: float  # payments per second offered (0: a burst)
    payments: int
    notified: int
    missing: int
    duplicates: int
    bad_signatures: int
    seconds: float
    latencies_ms: list[float]
    cpu_ms: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.notified / self.seconds if self.seconds else 0.0

    @property
    def exactly_once(self) -> bool:
        return self.missing == 0 and self.duplicates == 0 and self.bad_signatures == 0


async def _create(s: Stack, count: int, concurrency: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    ids: list[str] = []
    gate = asyncio.Semaphore(concurrency)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{s.grpc_port}") as ch:
        stub = pay_grpc.PayServiceStub(ch)

        async def one(n: int) -> None:
            async with gate:
                req = order_request(s.app.app_id, s.app.secret, run + "c", n, "wechat")
                resp = await stub.CreateOrder(req, timeout=60)
                ids.append(resp.order.order_id)

        await asyncio.gather(*(one(n) for n in range(count)))
    return ids


async def callback_case(
    s: Stack, meter: Meter, count: int, concurrency: int, rate: float = 0.0
) -> CallbackResult:
    """``rate`` > 0: pay at that many payments per second (paced), else as a burst."""
    order_ids = await _create(s, count, concurrency)
    if rate > 0:  # the payer never waits for a payment: open loop
        concurrency = max(concurrency, count)
    paid_at: dict[str, float] = {}
    gate = asyncio.Semaphore(concurrency)
    all_arrived = s.merchant.expect(set(order_ids))
    before = meter.sample()
    started = time.perf_counter()
    async with aiohttp.ClientSession() as http:

        async def pay(n: int, order_id: str) -> None:
            if rate > 0:
                await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            async with gate:
                paid_at[order_id] = time.perf_counter()
                body = {"channel": "wechat", "out_trade_no": order_id}
                async with http.post(f"{s.sandbox_url}/_sandbox/pay", json=body) as r:
                    r.raise_for_status()

        await asyncio.gather(*(pay(n, o) for n, o in enumerate(order_ids)))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_arrived.wait(), 30 + count / 20)
    arrivals = [s.merchant.arrived[o] for o in order_ids if o in s.merchant.arrived]
    seconds = (max(arrivals) if arrivals else time.perf_counter()) - started
    used = meter.since(before)
    await asyncio.sleep(DUPLICATE_GRACE_S)
    counts = s.merchant.counts
    return CallbackResult(
        offered_rate=rate,
        payments=count,
        notified=len(arrivals),
        missing=sum(1 for o in order_ids if counts[o] == 0),
        duplicates=sum(counts[o] - 1 for o in order_ids if counts[o] > 1),
        bad_signatures=s.merchant.bad_signatures,
        seconds=seconds,
        latencies_ms=[
            (s.merchant.arrived[o] - paid_at[o]) * 1000
            for o in order_ids
            if o in s.merchant.arrived
        ],
        cpu_ms={g: v * 1000 / max(len(arrivals), 1) for g, v in used.items()},
    )


def p99(result: CallbackResult) -> float:
    return percentile(result.latencies_ms, 99)


__all__ = ["CallbackResult", "callback_case", "p99"]
