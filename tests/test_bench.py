"""`paymesh bench` keeps working: it prints the three cases with no failed calls.

No speed threshold here: figures live in the benchmark's output, not in tests.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROW = re.compile(r"^(?P<name>.+?)\s+(?P<rate>[\d.]+)\s+(?P<failed>\d+)\s+[\d.]+\s+[\d.]+\s+[\d.]+$")


@pytest.mark.parametrize("channel", ["wechat", "unionpay"])
def test_bench_prints_every_case_without_failures(channel: str) -> None:
    paymesh = str(Path(sys.executable).parent / "paymesh")
    result = subprocess.run(
        [paymesh, "bench", "--seconds", "1", "--concurrency", "4", "--channel", channel],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {m["name"].strip(): m for line in result.stdout.splitlines() if (m := ROW.match(line))}
    assert set(rows) == {
        "grpc.aio echo (baseline)",
        "CreateOrder over gRPC",
        "CreateOrder via Envoy HTTP/JSON",
    }
    for row in rows.values():
        assert float(row["rate"]) > 0
        assert row["failed"] == "0"
    if channel == "unionpay":
        assert "UnionPay appTransReq.do" in result.stdout
