"""Cross-check: the OFFICIAL Alipay SDK (`alipay-sdk-python`, `DefaultAlipayClient`) against the
provider sandbox. Its top-level package `alipay` clashes with python-alipay-sdk, so it lives in a
venv of its own, built once per session, and runs `official_sdk_probe.py` in a subprocess."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from paymesh.channels.sandbox.app import start_sandbox

PROBE = Path(__file__).with_name("official_sdk_probe.py")
# The SDK and its dependencies, pinned: the run does not change with what PyPI publishes.
REQUIREMENTS = Path(__file__).with_name("official_sdk_requirements.txt")
PIP_TIMEOUT = 600.0
PROBE_TIMEOUT = 120.0


async def run(*argv: str, stdin: bytes = b"", limit: float) -> tuple[int, str, str]:
    """Without blocking the loop the sandbox serves on."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        async with asyncio.timeout(limit):
            out, err = await proc.communicate(stdin)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail(f"{argv[:4]} still running after {limit}s")
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


@pytest.fixture(scope="session")
async def official_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the pinned `alipay-sdk-python`, built once per test run; its python."""
    venv = tmp_path_factory.mktemp("alipay-official-sdk") / "venv"
    started = time.monotonic()
    code, out, err = await run(sys.executable, "-m", "venv", str(venv), limit=120)
    assert code == 0, f"python -m venv failed:\n{out}\n{err}"
    python = venv / "bin" / "python"
    pip = (str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check")
    code, out, err = await run(*pip, "-r", str(REQUIREMENTS), limit=PIP_TIMEOUT)
    if code != 0:
        pytest.fail(f"pip install alipay-sdk-python failed ({code}):\n{out}\n{err}")
    print(f"official Alipay SDK venv built in {time.monotonic() - started:.1f}s")
    return python


def bare(pem: bytes) -> str:
    """A PEM body as one base64 line, as Alipay's console hands keys out (and the SDK takes)."""
    return "".join(line for line in pem.decode().splitlines() if not line.startswith("-----"))


@dataclass
class Receiver:
    """A notify_url answering `success`, keeping each notify's form."""

    url: str = ""
    got: list[dict[str, str]] = field(default_factory=list)
    event: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(self, count: int, within: float = 10.0) -> list[dict[str, str]]:
        async with asyncio.timeout(within):
            while len(self.got) < count:
                self.event.clear()
                await self.event.wait()
        return list(self.got)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()

    async def handle(request: web.Request) -> web.Response:
        raw = await request.read()
        rec.got.append(dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True)))
        rec.event.set()
        return web.Response(text="success")

    app = web.Application()
    app.router.add_post("/alipay/notify", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/alipay/notify"
    yield rec
    await runner.cleanup()


async def probe(python: Path, job: dict[str, Any]) -> dict[str, Any]:
    stdin = json.dumps(job).encode()
    code, out, err = await run(str(python), "-I", str(PROBE), stdin=stdin, limit=PROBE_TIMEOUT)
    assert code == 0, f"probe failed ({code}):\n{out}\n{err}"
    answer: dict[str, Any] = json.loads(out)
    return answer


def verified_body(result: dict[str, Any]) -> dict[str, Any]:
    """An `execute` that returned, i.e. whose response signature the SDK verified."""
    assert result["ok"], result["error"]
    body: dict[str, Any] = result["body"]
    return body


async def test_official_sdk_against_sandbox(official_python: Path, receiver: Receiver) -> None:
    server = await start_sandbox("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            await check_official_sdk(official_python, server.url, receiver, http)
    finally:
        await server.close()


async def check_official_sdk(
    python: Path, url: str, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_pkcs1 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    app_id = f"2021{int(time.time()) % 10**6:06d}{uuid.uuid4().int % 10**6:06d}"
    body = {"channel": "alipay", "merchant_id": app_id, "public_key_pem": public_pem.decode()}
    async with http.post(url + "/_sandbox/merchants", json=body) as resp:
        assert resp.status == 200, await resp.text()
        reg = await resp.json()
    assert reg["gateway_path"] == "/gateway.do"
    alipay_key = bare(reg["alipay_public_key_pem"].encode())
    job: dict[str, Any] = {
        "gateway": url + reg["gateway_path"],
        "app_id": app_id,
        "app_private_key": base64.b64encode(private_pkcs1).decode(),
        "alipay_public_key": alipay_key,
    }
    no = f"OS{int(time.time())}{uuid.uuid4().hex[:8]}"
    steps: list[dict[str, Any]] = [
        {
            "op": "precreate",
            "out_trade_no": no,
            "total_amount": "9.99",
            "subject": "官方 SDK 测试",
            "notify_url": receiver.url,
        },
        {"op": "query", "out_trade_no": no},
        # the app's own key is not Alipay's: the SDK's response verification must refuse
        {"op": "query", "out_trade_no": no, "alipay_public_key": bare(public_pem)},
    ]
    first = await probe(python, {**job, "steps": steps})
    pre, q, wrong = first["results"]
    p = verified_body(pre)
    assert (p["code"], p["out_trade_no"]) == ("10000", no), p
    assert pre["is_success"]
    # the SDK sends an absolute-form target (`POST http://host:port/gateway.do?..`); the
    # sandbox's URLs must still carry the port (taken from the Host header)
    assert urlparse(p["qr_code"]).path == f"/_sandbox/pay/alipay/{no}", p
    assert p["qr_code"].startswith(url + "/"), p
    qb = verified_body(q)
    assert (qb["code"], qb["trade_status"], qb["total_amount"]) == (
        "10000",
        "WAIT_BUYER_PAY",
        "9.99",
    ), qb
    assert not wrong["ok"]
    assert "response sign verify failed" in wrong["error"], wrong

    async with http.post(
        url + "/_sandbox/pay", json={"channel": "alipay", "out_trade_no": no}
    ) as r:
        assert r.status == 200, await r.text()
    [notify] = await receiver.wait_for(1)
    assert (notify["out_trade_no"], notify["trade_status"]) == (no, "TRADE_SUCCESS")
    tampered = {**notify, "total_amount": "0.01"}
    steps = [
        {"op": "query", "out_trade_no": no},
        {"op": "verify_notify", "params": notify},
        {"op": "verify_notify", "params": tampered},
    ]
    second = await probe(python, {**job, "steps": steps})
    q2, real, forged = second["results"]
    qb2 = verified_body(q2)
    assert (qb2["trade_status"], qb2["total_amount"]) == ("TRADE_SUCCESS", "9.99"), qb2
    assert real == {"verified": True}, real
    assert not forged["verified"], forged
    print(f"{first['sdk_version']}: port bug worked around: {first['sdk_port_bug']}")
