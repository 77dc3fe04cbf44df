"""Free loopback ports and readiness polling for throwaway servers (no pytest import)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

LOOPBACK = "127.0.0.1"

_handed_out: set[int] = set()
_lock = threading.Lock()


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on `host` right now and not handed out before in this process.

    The kernel picks it (bind to port 0); the port is released before returning, so a server
    started right after can bind it. Never returns the same port twice within one process, so
    two servers of one session cannot be given the same port.
    """
    for _ in range(64):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        with _lock:
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError("no free TCP port found on " + host)


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_get(url: str, timeout: float = 1.0) -> tuple[int, bytes]:
    """GET `url`; returns (status, body). Connection errors raise OSError."""
    request = urllib.request.Request(url, method="GET")  # noqa: S310 (loopback http only)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status: int = response.status
            return status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def poll(check: Callable[[], bool], *, timeout: float, interval: float = 0.05) -> bool:
    """Call `check` until it returns True or `timeout` seconds pass; exceptions count as False."""
    deadline = time.monotonic() + timeout
    while True:
        # Readiness probes fail in many ways while a server starts: all mean "not yet".
        with contextlib.suppress(Exception):
            if check():
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def wait_ready(admin_port: int, *, host: str = LOOPBACK, timeout: float = 30.0) -> None:
    """Wait until an Envoy admin endpoint on `admin_port` answers `GET /ready` with 200 LIVE.

    Raises TimeoutError naming the last answer seen.
    """
    last: list[str] = ["no answer"]

    def check() -> bool:
        try:
            status, body = http_get(f"http://{host}:{admin_port}/ready")
        except OSError as err:
            last[0] = repr(err)
            return False
        last[0] = f"{status} {body.decode(errors='replace').strip()}"
        return status == 200

    if not poll(check, timeout=timeout):
        raise TimeoutError(
            f"envoy admin {host}:{admin_port}/ready not 200 after {timeout:.0f}s: {last[0]}"
        )
