"""`paymesh serve --workers N`: N server processes sharing one listen port.

Each worker is a plain `paymesh serve` (same services, same settings) started with
``PAYMESH_REUSE_PORT=1``, so every process binds the port with SO_REUSEPORT and the kernel
spreads connections across them: one interpreter per core. Each worker leases its own worker
id (etcd lease or local lock file) when its services issue ids, and runs its own drain.

The parent only supervises: SIGTERM/SIGINT are passed to every worker, which drain as a
single server does; when one worker exits on its own the others are stopped too and the
parent exits with that worker's status (the process supervisor or k8s restarts the set).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

POLL_SECONDS = 0.2
KILL_MARGIN_SECONDS = 5.0
PR_SET_PDEATHSIG = 1


def worker_command(argv: Sequence[str]) -> list[str]:
    """The command line of one worker: this interpreter running `paymesh serve` again."""
    return [sys.executable, "-m", "paymesh.cli", *argv]


def run_workers(argv: Sequence[str], count: int, drain_seconds: float) -> int:
    """Run ``count`` workers of ``paymesh <argv>`` until a signal or a worker's exit."""
    stop_signal: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        stop_signal.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    env = {**os.environ, "PAYMESH_REUSE_PORT": "1"}
    procs: list[subprocess.Popen[bytes]] = []
    rc = 0
    try:
        for index in range(count):
            procs.append(
                subprocess.Popen(  # noqa: S603 (our own interpreter and CLI)
                    worker_command(argv),
                    env={**env, "PAYMESH_WORKER_INDEX": str(index)},
                    preexec_fn=_die_with_parent,  # the parent is single-threaded here
                )
            )
        while not stop_signal:
            exited = [p for p in procs if p.poll() is not None]
            if exited:
                rc = exited[0].returncode or 1  # a worker that stops by itself is a failure
                break
            time.sleep(POLL_SECONDS)
    finally:
        _stop(procs, drain_seconds)
        for s, handler in previous.items():
            signal.signal(s, handler)
    return rc


def _die_with_parent() -> None:
    """SIGTERM this worker when the parent dies, even by SIGKILL (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop(procs: list[subprocess.Popen[bytes]], drain_seconds: float) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + drain_seconds + KILL_MARGIN_SECONDS
    for p in procs:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


__all__ = ["run_workers", "worker_command"]
