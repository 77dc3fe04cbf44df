"""`paymesh serve` as a real process: health, reflection, SIGTERM drain, fail-fast settings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from paymesh.testing.ports import free_port

PAYMESH = str(Path(sys.executable).parent / "paymesh")


def _start(port: int, *services: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PAYMESH, "serve", *services, "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PAYMESH_DRAIN_SECONDS": "2", **(env or {})},
    )


def _wait_serving(port: int, timeout: float = 15.0) -> health_pb2_grpc.HealthStub:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout
    while True:
        try:
            resp = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
            if resp.status == health_pb2.HealthCheckResponse.SERVING:
                return stub
        except grpc.RpcError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("paymesh serve did not become healthy")
        time.sleep(0.1)


def test_serve_answers_health_and_reflection_then_drains_on_sigterm() -> None:
    port = free_port()
    proc = _start(port, "info")
    try:
        stub = _wait_serving(port)
        svc = stub.Check(
            health_pb2.HealthCheckRequest(service="paymesh.merchant.v1.InfoService"), timeout=2
        )
        assert svc.status == health_pb2.HealthCheckResponse.SERVING

        refl = reflection_pb2_grpc.ServerReflectionStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        answers = list(
            refl.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=2
            )
        )
        names = {s.name for s in answers[0].list_services_response.service}
        assert "paymesh.merchant.v1.InfoService" in names
        assert "grpc.health.v1.Health" in names

        watch = stub.Watch(health_pb2.HealthCheckRequest(), timeout=10)
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        proc.send_signal(signal.SIGTERM)
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        out, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    lines = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    # The server's own lifecycle, in order (grpc's logger may add lines of its own).
    events = [e["event"] for e in lines if e.get("logger_name") == "paymesh.server"]
    assert events[-2:] == ["draining", "stopped"]


def test_missing_settings_stop_startup_naming_them() -> None:
    port = free_port()
    env = {k: "" for k in ("PAYMESH_DATABASE_URL", "PAYMESH_CONFIG_BACKEND")}
    proc = _start(port, "pay", env=env)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode != 0
    text = out.decode()
    assert "missing required settings" in text
    assert "PAYMESH_DATABASE_URL" in text


def test_unknown_service_is_refused() -> None:
    proc = _start(free_port(), "nonsense")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert b"unknown service 'nonsense'" in out


@pytest.mark.parametrize("name", ["all"])
def test_all_expands_to_every_known_service(name: str) -> None:
    from paymesh.runtime.registry import SPECS, resolve

    assert [s.name for s in resolve([name])] == list(SPECS)


def test_workers_share_one_port_and_all_stop_on_sigterm() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [PAYMESH, "serve", "info", "--workers", "2", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PAYMESH_DRAIN_SECONDS": "2"},
    )
    lines: list[dict[str, Any]] = []
    reader = threading.Thread(target=_read_json_lines, args=(proc, lines), daemon=True)
    reader.start()
    try:
        _wait_serving(port)
        # Both workers must have bound and said so before the stop: on a loaded machine the
        # second may still be importing when the first answers health.
        deadline = time.monotonic() + 30
        while _serving(lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = _children(proc.pid)
        assert len(workers) == 2
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        reader.join(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    # Both bound the same port (a second bind without SO_REUSEPORT fails at startup).
    served = {e["pid"]: e["port"] for e in lines if e.get("event") == "serving"}
    stopped = [e for e in lines if e.get("event") == "stopped"]
    assert served == dict.fromkeys(workers, port)
    assert len(stopped) == 2
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or _state(pid) == "Z"


def _read_json_lines(proc: subprocess.Popen[bytes], into: list[dict[str, Any]]) -> None:
    assert proc.stdout is not None
    for raw in proc.stdout:
        if raw.startswith(b"{"):
            into.append(json.loads(raw))


def _serving(lines: list[dict[str, Any]]) -> int:
    return len({e["pid"] for e in list(lines) if e.get("event") == "serving"})


def test_workers_need_a_fixed_port() -> None:
    result = subprocess.run(
        [PAYMESH, "serve", "info", "--workers", "2", "--listen", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert "fixed listen port" in result.stderr


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _ppid(int(entry.name)) == pid:
            found.append(int(entry.name))
    return sorted(found)


def _ppid(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1
    return int(stat.rpartition(")")[2].split()[1])


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return "gone"


def test_workers_stop_when_the_parent_is_killed() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [PAYMESH, "serve", "info", "--workers", "2", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PAYMESH_DRAIN_SECONDS": "1"},
    )
    try:
        _wait_serving(port)
        deadline = time.monotonic() + 15
        while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = _children(proc.pid)
        assert len(workers) == 2
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 20
    while any(_state(pid) not in ("gone", "Z") for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived its killed parent"
        time.sleep(0.1)
