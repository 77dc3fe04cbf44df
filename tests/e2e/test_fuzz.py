"""Schemathesis against the generated OpenAPI document through the real Envoy edge, on the
MariaDB column: no 5xx, every error Status JSON with an ErrorInfo, every 2xx matching the
schema. Each merchant request is signed by a hook (tests/e2e/fuzz_hooks.py) so it reaches the
handlers. The provider callbacks are fuzzed in a run of their own: arbitrary bodies, content
types and provider headers, to real accounts and about real orders, get a clean 4xx or the
provider's failure ack and change nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from paymesh.dev.seed import ALIPAY_ACCOUNT, UNIONPAY_ACCOUNT, WECHAT_ACCOUNT
from paymesh.merchant.v1 import pay_service_pb2
from paymesh.testing.processes import EtcdServer, MariaDBServer, NatsServer
from tests.e2e.conftest import Mesh, start_mesh
from tests.e2e.helpers import out_no, query_order

ROOT = Path(__file__).resolve().parents[2]
MIN_REQUESTS = 2000
EXAMPLES_PER_OPERATION = int(os.environ.get("PAYMESH_FUZZ_EXAMPLES", "60"))
MIN_CALLBACKS = 300
CALLBACK_EXAMPLES = int(os.environ.get("PAYMESH_FUZZ_CALLBACK_EXAMPLES", "400"))
ACCOUNTS = {"wechat": WECHAT_ACCOUNT, "alipay": ALIPAY_ACCOUNT, "unionpay": UNIONPAY_ACCOUNT}
METHODS = {"wechat": "qr", "alipay": "qr", "unionpay": "page"}


@pytest.fixture(scope="module")
async def fuzz_mesh(
    etcd_server: EtcdServer,
    mariadb_server: MariaDBServer,
    nats_server: NatsServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Mesh]:
    """A mesh of its own: the thousands of orders, closes and transfers the fuzz makes (and
    their notifications) must not slow down the session mesh other tests wait on."""
    async with start_mesh(
        "mariadb+etcd", etcd_server, mariadb_server, nats_server, tmp_path_factory, own_nats=True
    ) as m:
        yield m


async def _schemathesis(
    mesh: Mesh, tmp_path: Path, args: list[str], env: dict[str, str]
) -> Counter[str]:
    """Run `st` against the edge with the hooks; the count of requests by operation and status."""
    count = tmp_path / "requests"
    full_env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.e2e.fuzz_hooks",
        "PYTHONPATH": str(ROOT),
        "PAYMESH_FUZZ_COUNT_FILE": str(count),
        **env,
    }
    st = Path(sys.executable).parent / "st"
    proc = await asyncio.create_subprocess_exec(
        str(st),
        "run",
        f"{mesh.edge_url}/v1/openapi.json",
        "--url",
        mesh.edge_url,
        *args,
        "--workers",
        "1",
        "--seed",
        "16",
        "--generation-database",
        "none",
        "--no-color",
        "--request-timeout",
        "20",
        cwd=tmp_path,
        env=full_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-6000:]
    lines = count.read_text().splitlines() if count.exists() else []
    statuses = Counter(lines)
    print(f"fuzz: {len(lines)} requests", dict(sorted(statuses.items())))
    assert not [k for k in statuses if k.split()[1].startswith("5")], statuses
    return statuses


async def test_fuzz_the_merchant_api_through_envoy(fuzz_mesh: Mesh, tmp_path: Path) -> None:
    statuses = await _schemathesis(
        fuzz_mesh,
        tmp_path,
        [
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance,"
            "errors_are_status_json_with_error_info",
            "--exclude-operation-id",
            "HandleCallback",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
        ],
        {"PAYMESH_FUZZ_APP_ID": fuzz_mesh.app.app_id, "PAYMESH_FUZZ_SECRET": fuzz_mesh.app.secret},
    )
    assert statuses.total() >= MIN_REQUESTS, statuses
    # Signed by the hook, generated requests get past the signature check: orders are made.
    assert statuses["CreateOrder 200"] > 0, statuses


async def _callbacks_since(database_url: str, since: str) -> list[tuple[str, str, bool, str]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text(
                    "SELECT channel, account_id, verified, outcome FROM callbacks WHERE id > :s"
                ),
                {"s": since},
            )
            return [(r[0], r[1], bool(r[2]), r[3]) for r in rows]
    finally:
        await engine.dispose()


async def _last_callback_id(database_url: str) -> str:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            last = await conn.scalar(sa.text("SELECT MAX(id) FROM callbacks"))
            return str(last or "")
    finally:
        await engine.dispose()


async def test_fuzz_the_provider_callbacks_through_envoy(fuzz_mesh: Mesh, tmp_path: Path) -> None:
    mesh = fuzz_mesh
    async with aiohttp.ClientSession() as http:
        merchant = mesh.merchant(http)
        orders: dict[str, dict[str, Any]] = {}
        for channel, method in METHODS.items():
            status, body = await merchant.post(
                "/v1/orders",
                {
                    "out_trade_no": out_no(),
                    "amount": 1,
                    "subject": "fuzz",
                    "method": method,
                    "channel": channel,
                },
                pay_service_pb2.CreateOrderRequest,
            )
            assert status == 200, body
            orders[channel] = body["order"]
        since = await _last_callback_id(mesh.database_url)
        targets = {c: [ACCOUNTS[c], o["order_id"]] for c, o in orders.items()}
        statuses = await _schemathesis(
            mesh,
            tmp_path,
            [
                "--checks",
                "not_a_server_error,errors_are_status_json_with_error_info,"
                "callback_200_is_only_a_failure_ack",
                "--include-operation-id",
                "HandleCallback",
                "--max-examples",
                str(CALLBACK_EXAMPLES),
            ],
            {"PAYMESH_FUZZ_CALLBACKS": json.dumps(targets)},
        )
        assert statuses.total() >= MIN_CALLBACKS, statuses
        # Changed nothing: every order is as it was, and no callback was applied.
        for channel, order in orders.items():
            now = await query_order(merchant, order["order_id"])
            assert now["status"] == "PENDING", (channel, now)
            assert now.get("paid_at") == order.get("paid_at"), (channel, now)
    seen = await _callbacks_since(mesh.database_url, since)
    reached = {(c, a) for c, a, _, _ in seen if ACCOUNTS.get(c) == a}
    assert reached == {(c, a) for c, a in ACCOUNTS.items()}, reached  # hooks reached the accounts
    assert not [row for row in seen if row[2] or row[3] != "rejected"], seen[:5]
