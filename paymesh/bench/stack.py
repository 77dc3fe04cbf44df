"""Everything the benchmark runs against, on this machine: throwaway MariaDB, etcd and NATS,
the provider sandbox, `paymesh serve pay callback <channels>` (``--workers N``),
`paymesh serve notify`, an echo server, Envoy, and a merchant endpoint in this process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import grpc

from paymesh.bench.merchant import BenchMerchant
from paymesh.config.etcd_store import EtcdConfigStore
from paymesh.config.repository import ConfigRepository
from paymesh.dev.seed import (
    UNIONPAY_ACCOUNT,
    DemoApp,
    private_key_pem,
    seed_app,
    seed_unionpay,
    seed_wechat,
)
from paymesh.gateway.envoy.config import render_text
from paymesh.testing.ports import free_port
from paymesh.testing.processes import EnvoyProcess, EtcdServer, MariaDBServer, NatsServer

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

GATEWAY_SERVICES = ["pay", "callback", "wechat", "unionpay"]


@dataclass
class Stack:
    grpc_port: int
    echo_port: int
    edge_port: int
    sandbox_url: str
    database_url: str
    app: DemoApp
    merchant: BenchMerchant
    mariadb: MariaDBServer
    # Process trees per group, for the CPU and memory figures.
    pids: dict[str, list[int]]
    workers: int = 1


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
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()


async def _wait_http(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(400):
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url) as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


async def _wait_grpc(target: str) -> None:
    async with grpc.aio.insecure_channel(target) as ch:
        await asyncio.wait_for(ch.channel_ready(), 90)


async def start_stack(stack: contextlib.AsyncExitStack, workers: int) -> Stack:
    """Start everything; ``stack`` stops it all again."""
    procs: list[subprocess.Popen[bytes]] = []
    stack.callback(_terminate, procs)
    mariadb, etcd, nats = MariaDBServer(), EtcdServer(), NatsServer()
    for server in (mariadb, etcd, nats):
        await asyncio.to_thread(server.start)
        stack.callback(server.close)
    logs = mariadb.root
    grpc_port, echo_port, edge_port, sandbox_port, notify_port = (free_port() for _ in range(5))
    paymesh = str(Path(sys.executable).parent / "paymesh")
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    sandbox = _spawn(
        [paymesh, "sandbox", "--port", str(sandbox_port)], dict(os.environ), logs / "sandbox.log"
    )
    procs.append(sandbox)
    merchant = BenchMerchant()
    notify_url = await merchant.start(stack)
    await _wait_http(sandbox_url + "/_sandbox/trades")
    store = EtcdConfigStore([etcd.endpoint])
    stack.push_async_callback(store.close)
    repo = ConfigRepository(store)
    await seed_wechat(repo, sandbox_url, private_key_pem())
    await seed_unionpay(repo, sandbox_url)
    app = await seed_app(
        repo, app_id="bench", unionpay_account=UNIONPAY_ACCOUNT, notify_url=notify_url
    )
    merchant.secret = app.secret

    database_url = mariadb.create_database("bench")
    env = {
        **os.environ,
        "PAYMESH_DATABASE_URL": database_url,
        "PAYMESH_CONFIG_BACKEND": "etcd",
        "PAYMESH_ETCD_ENDPOINTS": etcd.endpoint,
        "PAYMESH_CHANNEL_TARGETS": f"wechat=127.0.0.1:{grpc_port},unionpay=127.0.0.1:{grpc_port}",
        "PAYMESH_CALLBACK_BASE_URL": f"http://127.0.0.1:{edge_port}",
        "PAYMESH_NATS_URL": nats.url,
        "PAYMESH_LOG_LEVEL": "WARNING",
    }
    serve = [paymesh, "serve", *GATEWAY_SERVICES, "--workers", str(workers)]
    gateway = _spawn([*serve, "--listen", f"127.0.0.1:{grpc_port}"], env, logs / "serve.log")
    procs.append(gateway)
    await _wait_grpc(f"127.0.0.1:{grpc_port}")  # migrations done: notify can start
    notify = _spawn(
        [paymesh, "serve", "notify", "--listen", f"127.0.0.1:{notify_port}"],
        env,
        logs / "notify.log",
    )
    procs.append(notify)
    echo = _spawn([sys.executable, "-c", ECHO_SERVER, str(echo_port)], env, logs / "echo.log")
    procs.append(echo)
    await _wait_grpc(f"127.0.0.1:{notify_port}")
    await _wait_grpc(f"127.0.0.1:{echo_port}")
    envoy = EnvoyProcess(
        render_text(
            listen_port=edge_port,
            admin_port=free_port(),
            upstreams={"*": f"127.0.0.1:{grpc_port}"},
        ),
        log_level="error",
        concurrency=workers,  # an upstream connection per Envoy thread: one per gateway worker
    )
    await asyncio.to_thread(envoy.start)
    stack.callback(envoy.close)
    pids = {
        "gateway": [gateway.pid],
        "notify": [notify.pid],
        "sandbox": [sandbox.pid],
        "mariadb": [mariadb.pid or 0],
        "envoy": [envoy.pid or 0],
        "load generator": [os.getpid()],
    }
    return Stack(
        grpc_port,
        echo_port,
        edge_port,
        sandbox_url,
        database_url,
        app,
        merchant,
        mariadb,
        pids,
        workers,
    )


__all__ = ["GATEWAY_SERVICES", "Stack", "start_stack"]
