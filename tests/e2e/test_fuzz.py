"""Schemathesis against the generated OpenAPI document through the real Envoy edge, on the
MariaDB column: no 5xx, every error Status JSON with an ErrorInfo, every 2xx matching the
schema. Each request is signed by a hook (tests/e2e/fuzz_hooks.py) so it reaches the handlers.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from paymesh.testing.processes import EtcdServer, MariaDBServer, NatsServer
from tests.e2e.conftest import Mesh, start_mesh

ROOT = Path(__file__).resolve().parents[2]
MIN_REQUESTS = 2000
EXAMPLES_PER_OPERATION = int(os.environ.get("PAYMESH_FUZZ_EXAMPLES", "60"))


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


async def test_fuzz_the_merchant_api_through_envoy(fuzz_mesh: Mesh, tmp_path: Path) -> None:
    mesh = fuzz_mesh
    count = tmp_path / "requests"
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.e2e.fuzz_hooks",
        "PYTHONPATH": str(ROOT),
        "PAYMESH_FUZZ_APP_ID": mesh.app.app_id,
        "PAYMESH_FUZZ_SECRET": mesh.app.secret,
        "PAYMESH_FUZZ_COUNT_FILE": str(count),
    }
    st = Path(sys.executable).parent / "st"
    proc = await asyncio.create_subprocess_exec(
        str(st),
        "run",
        f"{mesh.edge_url}/v1/openapi.json",
        "--url",
        mesh.edge_url,
        "--checks",
        "not_a_server_error,response_schema_conformance,content_type_conformance",
        "--exclude-operation-id",
        "HandleCallback",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
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
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-6000:]
    lines = count.read_text().splitlines() if count.exists() else []
    assert len(lines) >= MIN_REQUESTS, f"only {len(lines)} requests\n{text[-3000:]}"
    statuses = Counter(lines)
    print(f"fuzz: {len(lines)} requests", dict(sorted(statuses.items())))
    assert not [k for k in statuses if k.split()[1].startswith("5")], statuses
    # Signed by the hook, generated requests get past the signature check: orders are made.
    assert statuses["CreateOrder 200"] > 0, statuses
