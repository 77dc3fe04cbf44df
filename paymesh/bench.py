"""`paymesh bench`: CreateOrder through the HTTP edge and over gRPC, beside a raw grpc.aio
echo baseline, on loopback. Prints orders/s, p50/p99 and the ratio to the echo.

Everything runs on this machine: throwaway MariaDB and etcd, the sandbox, `paymesh serve` in
its own process, Envoy, and an echo server in its own process; the load generator is this
process. Figures are noisy on 2 cores shared by all of them: compare ratios, not absolutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc

from paymesh.config.crypto import DEV_MASTER_KEY, MASTER_KEY_ENV
from paymesh.config.etcd_store import EtcdConfigStore
from paymesh.config.repository import ConfigRepository
from paymesh.core.signing import canonical_from_message, sign
from paymesh.dev.seed import (
    UNIONPAY_ACCOUNT,
    private_key_pem,
    seed_app,
    seed_unionpay,
    seed_wechat,
)
from paymesh.gateway.envoy.config import render_text
from paymesh.merchant.v1 import pay_service_pb2 as pay_pb
from paymesh.merchant.v1 import pay_service_pb2_grpc as pay_grpc
from paymesh.testing.ports import free_port
from paymesh.testing.processes import EnvoyProcess, EtcdServer, MariaDBServer

ECHO_SERVER = """
import asyncio, grpc, sys
async def main(port):
    def echo(request, context):
        return request
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)})
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()
asyncio.run(main(int(sys.argv[1])))
"""

Call = Callable[[int], Awaitable[bool]]


@dataclass
class Result:
    name: str
    ok: int
    failed: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
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


def _order(
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


PROVIDER_CALLS = {
    "wechat": "a signed WeChat v3 call",
    "unionpay": "a signed UnionPay appTransReq.do (answer chain + signature verified)",
}


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as fh:
        return subprocess.Popen(  # noqa: S603 (our own interpreter and CLI)
            args, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )


def _terminate(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


async def _wait_http(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url) as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


async def _wait_grpc(target: str) -> None:
    async with grpc.aio.insecure_channel(target) as ch:
        await asyncio.wait_for(ch.channel_ready(), 60)


async def run_bench(seconds: float = 10.0, concurrency: int = 50, channel: str = "wechat") -> None:
    os.environ.setdefault(MASTER_KEY_ENV, DEV_MASTER_KEY)
    procs: list[subprocess.Popen[bytes]] = []
    stack = contextlib.AsyncExitStack()
    async with stack:
        stack.callback(_terminate, procs)
        mariadb, etcd = MariaDBServer(), EtcdServer()
        await asyncio.to_thread(mariadb.start)
        stack.callback(mariadb.close)
        await asyncio.to_thread(etcd.start)
        stack.callback(etcd.close)
        logs = mariadb.root
        grpc_port, echo_port, edge_port, sandbox_port = (free_port() for _ in range(4))
        paymesh = str(Path(sys.executable).parent / "paymesh")
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        procs.append(
            _spawn(
                [paymesh, "sandbox", "--port", str(sandbox_port)],
                dict(os.environ),
                logs / "sandbox.log",
            )
        )
        await _wait_http(sandbox_url + "/_sandbox/trades")
        store = EtcdConfigStore([etcd.endpoint])
        stack.push_async_callback(store.close)
        repo = ConfigRepository(store)
        await seed_wechat(repo, sandbox_url, private_key_pem())
        await seed_unionpay(repo, sandbox_url)
        app = await seed_app(repo, app_id="bench", unionpay_account=UNIONPAY_ACCOUNT)

        env = {
            **os.environ,
            "PAYMESH_LISTEN": f"127.0.0.1:{grpc_port}",
            "PAYMESH_DATABASE_URL": mariadb.create_database("bench"),
            "PAYMESH_CONFIG_BACKEND": "etcd",
            "PAYMESH_ETCD_ENDPOINTS": etcd.endpoint,
            "PAYMESH_CHANNEL_TARGETS": (
                f"wechat=127.0.0.1:{grpc_port},unionpay=127.0.0.1:{grpc_port}"
            ),
            "PAYMESH_CALLBACK_BASE_URL": f"http://127.0.0.1:{edge_port}",
            "PAYMESH_LOG_LEVEL": "WARNING",
        }
        procs.append(
            _spawn([paymesh, "serve", "pay", "wechat", "unionpay"], env, logs / "serve.log")
        )
        procs.append(
            _spawn([sys.executable, "-c", ECHO_SERVER, str(echo_port)], env, logs / "echo.log")
        )
        await _wait_grpc(f"127.0.0.1:{grpc_port}")
        await _wait_grpc(f"127.0.0.1:{echo_port}")
        envoy = EnvoyProcess(
            render_text(
                listen_port=edge_port,
                admin_port=free_port(),
                upstreams={"*": f"127.0.0.1:{grpc_port}"},
            ),
            log_level="error",
            concurrency=1,
        )
        await asyncio.to_thread(envoy.start)
        stack.callback(envoy.close)
        results = await _measure(
            app.app_id, app.secret, grpc_port, echo_port, edge_port, seconds, concurrency, channel
        )
    _print(results, seconds, concurrency, channel)


async def _measure(
    app_id: str,
    secret: str,
    grpc_port: int,
    echo_port: int,
    edge_port: int,
    seconds: float,
    concurrency: int,
    case: str = "wechat",
) -> list[Result]:
    run = uuid.uuid4().hex[:8]
    out: list[Result] = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{echo_port}") as ch:
        echo: Any = ch.unary_unary("/bench.Echo/Echo")
        payload = _order(app_id, secret, run, 0, case).SerializeToString()

        async def echo_call(_n: int) -> bool:
            return bool(await echo(payload))

        out.append(await drive("grpc.aio echo (baseline)", echo_call, seconds, concurrency))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as ch:
        stub: Any = pay_grpc.PayServiceStub(ch)

        async def grpc_call(n: int) -> bool:
            try:
                resp = await stub.CreateOrder(
                    _order(app_id, secret, run + "g", n, case), timeout=30
                )
            except grpc.aio.AioRpcError:
                return False
            return bool(resp.order.order_id)

        out.append(await drive("CreateOrder over gRPC", grpc_call, seconds, concurrency))
    from google.protobuf import json_format

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        url = f"http://127.0.0.1:{edge_port}/v1/orders"

        async def http_call(n: int) -> bool:
            body = json_format.MessageToDict(
                _order(app_id, secret, run + "h", n, case), preserving_proto_field_name=True
            )
            async with http.post(url, json=body) as r:
                await r.read()
                return r.status == 200

        out.append(await drive("CreateOrder via Envoy HTTP/JSON", http_call, seconds, concurrency))
    return out


def _print(results: list[Result], seconds: float, concurrency: int, case: str = "wechat") -> None:
    base = results[0].rate or 1.0
    print(
        f"\npaymesh bench: {seconds:.0f} s per case, {concurrency} concurrent, loopback, "
        f"{os.cpu_count()} cores shared by client, servers, MariaDB, etcd, Envoy, sandbox\n"
    )
    print(f"{'case':34} {'ok/s':>9} {'failed':>7} {'p50 ms':>8} {'p99 ms':>8} {'vs echo':>8}")
    for r in results:
        print(
            f"{r.name:34} {r.rate:9.1f} {r.failed:7d} {r.percentile(50):8.1f} "
            f"{r.percentile(99):8.1f} {r.rate / base:8.3f}"
        )
    mean = statistics.fmean(results[1].latencies_ms) if results[1].latencies_ms else 0.0
    print(
        f"\nCreateOrder includes: signature check, app lookup, an order INSERT (MariaDB), a "
        f"channel Pay over gRPC, {PROVIDER_CALLS[case]} to the sandbox, pay data UPDATE "
        f"(mean gRPC latency {mean:.1f} ms)."
    )
