"""`paymesh recon` against a mesh with mutual TLS: the CLI reads the mesh's `tls_*` settings
like every other mesh client and reconciles; without a client certificate it is refused."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from paymesh.channels.sandbox.app import start_sandbox
from paymesh.config.file_store import FileConfigStore
from paymesh.config.repository import ConfigRepository
from paymesh.deploy import certs
from paymesh.dev.seed import private_key_pem, seed_wechat
from paymesh.runtime.server import start_server
from paymesh.runtime.settings import Settings


def _tls(folder: Path) -> dict[str, str]:
    return {
        "tls_cert_file": str(folder / "tls.crt"),
        "tls_key_file": str(folder / "tls.key"),
        "tls_ca_file": str(folder / "ca.crt"),
    }


async def _cli(env: dict[str, str], *argv: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "paymesh.cli", "recon", *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_recon_cli_over_mutual_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMESH_RECON_INTERVAL", "0")  # no scheduler in this test
    mesh = tmp_path / "certs"
    certs.init(mesh, ["recon", "wechat", "console"], "paymesh")
    config_file = tmp_path / "config.json"
    store = FileConfigStore(config_file)
    repo = ConfigRepository(store, "/paymesh/config")
    sandbox = await start_sandbox("127.0.0.1", 0)
    await seed_wechat(repo, sandbox.url, private_key_pem())
    common = {"listen": "127.0.0.1:0", "config_backend": "file",
              "config_file": str(config_file), "drain_seconds": 0.5}  # fmt: skip
    channel = await start_server(["wechat"], Settings(**common, **_tls(mesh / "wechat")))
    recon = await start_server(
        ["recon"],
        Settings(
            **common,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'paymesh.db'}",
            channel_targets={"wechat": f"127.0.0.1:{channel.port}"},
            **_tls(mesh / "recon"),
        ),
    )
    try:
        base = {k: v for k, v in os.environ.items() if not k.startswith("PAYMESH_")}
        client = {f"PAYMESH_{k.upper()}": v for k, v in _tls(mesh / "console").items()}
        argv = ("run", "--account", "wechat/wechat-demo", "--date", "2026-11-30", "--timeout", "10")
        code, out = await _cli(
            {**base, **client, "PAYMESH_RECON_TARGET": f"127.0.0.1:{recon.port}"}, *argv
        )
        assert code == 0, out
        assert "wechat/wechat-demo 2026-11-30: NO_BILL" in out
        code, out = await _cli(base, *argv, "--target", f"127.0.0.1:{recon.port}")
        assert code != 0
        assert "NO_BILL" not in out
    finally:
        await recon.drain(0.5)
        await channel.drain(0.5)
        await repo.close()
        await store.close()
        await sandbox.close()
