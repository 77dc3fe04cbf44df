"""The load generator: N concurrent callers for a fixed time, and the requests they send."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from paymesh.core.signing import canonical_from_message, sign
from paymesh.merchant.v1 import pay_service_pb2 as pay_pb

Call = Callable[[int], Awaitable[bool]]


@dataclass
class Result:
    name: str
    ok: int
    failed: int
    seconds: float
    latencies_ms: list[float]
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU ms per ok call, by group

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        return percentile(self.latencies_ms, p)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def drive(name: str, call: Call, seconds: float, concurrency: int) -> Result:
    """`concurrency` workers call back to back for `seconds`; a bounded, self-stopping loop."""
    latencies: list[float] = []
    counts = {"ok": 0, "failed": 0}
    deadline = time.perf_counter() + seconds
    seq = iter(range(10**9))

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            ok = await call(next(seq))
            latencies.append((time.perf_counter() - started) * 1000)
            counts["ok" if ok else "failed"] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(name, counts["ok"], counts["failed"], time.perf_counter() - started, latencies)


CASES: dict[str, tuple[str, str]] = {
    "wechat": ("", "qr"),  # the default route: a signed WeChat v3 native call
    "unionpay": ("unionpay", "app"),  # appTransReq.do: double-hash signing, chain check
}

PROVIDER_CALLS = {
    "wechat": "a signed WeChat v3 call",
    "unionpay": "a signed UnionPay appTransReq.do (answer chain + signature verified)",
}


def order_request(
    app_id: str, secret: str, run: str, n: int, case: str = "wechat"
) -> pay_pb.CreateOrderRequest:
    channel, method = CASES[case]
    req = pay_pb.CreateOrderRequest(
        app_id=app_id,
        out_trade_no=f"b{run}{n}",
        amount=1,
        subject="bench",
        method=method,
        channel=channel,
        timestamp=int(time.time()),
        sign_type="HMAC-SHA256",
        nonce=f"n{run}{n}",  # unique per request: 8-32 of [A-Za-z0-9]
    )
    req.sign = sign(canonical_from_message(req), "HMAC-SHA256", secret)
    return req


__all__ = ["CASES", "PROVIDER_CALLS", "Call", "Result", "drive", "order_request", "percentile"]
