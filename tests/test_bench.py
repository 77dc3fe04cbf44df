"""`paymesh bench` keeps working: every case runs without failed calls, the callback path
notifies each payment exactly once, and the JSON carries the figures the table prints.

No speed threshold here: figures live in the benchmark's output, not in tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PAYMESH = str(Path(sys.executable).parent / "paymesh")


def _bench(tmp_path: Path, *args: str) -> tuple[str, dict[str, object]]:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [PAYMESH, "bench", "--seconds", "1", "--concurrency", "4", "--json", str(out), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data: dict[str, object] = json.loads(out.read_text())
    return result.stdout, data


def test_bench_wechat_with_callbacks_seeded_table_and_two_workers(tmp_path: Path) -> None:
    stdout, data = _bench(
        tmp_path,
        "--workers",
        "2",
        "--callbacks",
        "20",
        "--callback-rate",
        "50",
        "--seed-orders",
        "5000",
    )
    cases: list[dict[str, object]] = data["cases"]  # type: ignore[assignment]
    assert [c["name"] for c in cases] == [
        "grpc.aio echo (baseline)",
        "CreateOrder over gRPC",
        "CreateOrder via Envoy HTTP/JSON",
    ]
    for case in cases:
        assert case["ok"]
        assert case["failed"] == 0
    # CPU of paymesh's own processes is measured, per worker and the notifier.
    assert float(cases[1]["paymesh_cpu_ms_per_op"]) > 0  # type: ignore[arg-type]
    rss: dict[str, float] = data["peak_rss_mb"]  # type: ignore[assignment]
    assert len([k for k in rss if k.startswith("gateway")]) == 3  # the parent and 2 workers
    assert all(v > 0 for v in rss.values())
    callbacks: dict[str, object] = data["callbacks"]  # type: ignore[assignment]
    assert callbacks["notified"] == 20
    assert callbacks["exactly_once"] is True
    assert callbacks["offered_rate"] == 0  # the burst
    paced: dict[str, object] = data["callbacks_paced"]  # type: ignore[assignment]
    assert paced["offered_rate"] == 50
    assert paced["notified"] == 20
    assert paced["exactly_once"] is True
    seeded: dict[str, object] = data["seeded"]  # type: ignore[assignment]
    assert seeded["orders"] == 5000
    assert seeded["failed"] == 0
    assert seeded["ok"]
    assert {t["what"] for t in data["targets"]} >= {  # type: ignore[attr-defined]
        "CreateOrder gRPC / echo",
        "paymesh CPU ms/order (gRPC)",
        "callback path payments/s (burst)",
        "callback path payments/s (50/s offered)",
        "callback p99 payment->notification ms (50/s offered)",
        "callbacks notified exactly once (paced)",
    }
    assert "callback path (burst): 20 sandbox payments" in stdout
    assert "callback path (paced at 50/s): 20 sandbox payments" in stdout
    assert "target (issue 18)" in stdout


@pytest.mark.parametrize("channel", ["unionpay"])
def test_bench_other_channel(tmp_path: Path, channel: str) -> None:
    stdout, data = _bench(tmp_path, "--channel", channel, "--callbacks", "0", "--seed-orders", "0")
    cases: list[dict[str, object]] = data["cases"]  # type: ignore[assignment]
    assert len(cases) == 3
    assert all(c["failed"] == 0 and c["ok"] for c in cases)
    assert data["callbacks"] is None
    assert data["seeded"] is None
    assert "UnionPay appTransReq.do" in stdout
