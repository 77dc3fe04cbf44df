"""Real throwaway servers on free loopback ports: etcd, NATS JetStream, MariaDB, Envoy.

Plain classes with no pytest dependency, so `paymesh dev`, benchmarks and scripts can reuse
them; `paymesh.testing.servers` wraps them in pytest fixtures. Every server:

- owns a private temp directory (data, socket, `server.log`), removed by `close()`;
- keeps its ports for its whole life, so `stop()` then `start()` restarts it on the same
  address with the same data (outage tests);
- runs in its own session (`start_new_session=True`), and `stop()` signals the whole process
  group; processes still alive when the interpreter exits are killed by an atexit hook;
- on a failed start raises `ServerStartError` carrying the tail of its log.

A missing binary raises `BinaryNotFoundError` whose message names the install command.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

from paymesh.testing.ports import LOOPBACK, free_port, http_get, wait_ready
from paymesh.testing.server_process import (
    BinaryNotFoundError,
    ServerProcess,
    ServerStartError,
    envoy_binary,
    find_binary,
    kill_servers_on_sigterm,
)

__all__ = [
    "BinaryNotFoundError",
    "EnvoyProcess",
    "EtcdServer",
    "MariaDBServer",
    "NatsServer",
    "ServerProcess",
    "ServerStartError",
    "envoy_binary",
    "envoy_validate",
    "find_binary",
    "kill_servers_on_sigterm",
]


class EtcdServer(ServerProcess):
    """Single-node etcd (3.4+) with its own data dir on a free client port and peer port."""

    kind = "etcd"

    def __init__(self, *, root: str | os.PathLike[str] | None = None) -> None:
        self.binary = find_binary("etcd", packages="etcd-server etcd-client")
        super().__init__(root=root)
        self.host = LOOPBACK
        self.port = self.peer_port = 0
        self.pick_ports()
        self.data_dir = self.root / "data"

    def pick_ports(self) -> bool:
        self.port = free_port()
        self.peer_port = free_port()
        return True

    @property
    def endpoint(self) -> str:
        """`127.0.0.1:PORT`, the form etcd3aio's Etcd3Client(endpoints=[...]) takes."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def command(self) -> list[str]:
        peer = f"http://{self.host}:{self.peer_port}"
        return [
            self.binary,
            "--name",
            "t",
            "--data-dir",
            str(self.data_dir),
            "--listen-client-urls",
            self.url,
            "--advertise-client-urls",
            self.url,
            "--listen-peer-urls",
            peer,
            "--initial-advertise-peer-urls",
            peer,
            "--initial-cluster",
            f"t={peer}",
            "--initial-cluster-state",
            "new",
        ]

    def environment(self) -> dict[str, str]:
        # etcd reads ETCD_* variables as flags: never let the caller's (e.g. ETCD_ENDPOINTS
        # meant for paymesh) leak in. etcd 3.4 refuses arm64 unless told it is fine.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
        if platform.machine() in ("aarch64", "arm64"):
            env["ETCD_UNSUPPORTED_ARCH"] = "arm64"
        return env

    def ready(self) -> bool:
        status, body = http_get(f"{self.url}/health")
        if status != 200:
            return False
        health: Any = json.loads(body).get("health")
        return health in ("true", True)


class NatsServer(ServerProcess):
    """nats-server with JetStream (`-js -sd DIR`) on a free client port plus a monitor port."""

    kind = "nats"

    def __init__(self, *, root: str | os.PathLike[str] | None = None) -> None:
        self.binary = find_binary("nats-server", packages="nats-server")
        super().__init__(root=root)
        self.host = LOOPBACK
        self.port = self.monitor_port = 0
        self.pick_ports()
        self.store_dir = self.root / "jetstream"

    def pick_ports(self) -> bool:
        self.port = free_port()
        self.monitor_port = free_port()
        return True

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [
            self.binary,
            "-js",
            "-a",
            self.host,
            "-p",
            str(self.port),
            "-m",
            str(self.monitor_port),
            "-sd",
            str(self.store_dir),
            "-n",
            f"paymesh-test-{self.port}",
        ]

    def ready(self) -> bool:
        # /healthz turns 200 once the client listener and JetStream are both up.
        status, _ = http_get(f"http://{self.host}:{self.monitor_port}/healthz")
        return status == 200


class MariaDBServer(ServerProcess):
    """MariaDB (10.11) with a fresh data dir; root@127.0.0.1 without a password.

    Server charset utf8mb4 and time zone UTC (independent of the machine's my.cnf: the server
    runs with --no-defaults). `fast=True` (default) sets innodb_flush_log_at_trx_commit=2 and
    turns the doublewrite buffer off: commits still survive a killed mariadbd (the log reaches
    the OS at every commit) but not a machine crash; use `fast=False` for fsync benchmarks.
    """

    kind = "mariadb"

    def __init__(self, *, root: str | os.PathLike[str] | None = None, fast: bool = True) -> None:
        packages = "mariadb-server"
        self.binary = find_binary("mariadbd", "mysqld", packages=packages)
        self.install_db = find_binary("mariadb-install-db", "mysql_install_db", packages=packages)
        super().__init__(root=root)
        self.host = LOOPBACK
        self.port = free_port()
        self.user = "root"
        self.fast = fast
        self.data_dir = self.root / "data"
        self.socket = self.root / "sock"
        self._os_user = "root" if os.geteuid() == 0 else None

    def pick_ports(self) -> bool:
        self.port = free_port()
        return True

    def url(self, database: str = "") -> str:
        """SQLAlchemy async URL: `mysql+aiomysql://root@127.0.0.1:PORT/<database>`."""
        return f"mysql+aiomysql://{self.user}@{self.host}:{self.port}/{database}"

    def prepare(self) -> None:
        if (self.data_dir / "mysql").is_dir():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            self.install_db,
            "--no-defaults",
            f"--datadir={self.data_dir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ]
        if self._os_user:
            cmd.insert(2, f"--user={self._os_user}")
        with self.log_path.open("ab") as log:
            log.write(f"=== paymesh: {' '.join(cmd)}\n".encode())
            log.flush()
            result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                timeout=120,
                check=False,
            )
        if result.returncode != 0:
            raise ServerStartError(
                f"mariadb-install-db failed with code {result.returncode}\n"
                f"--- tail of {self.log_path} ---\n{self.log_tail()}"
            )

    def command(self) -> list[str]:
        cmd = [
            self.binary,
            "--no-defaults",
            f"--datadir={self.data_dir}",
            f"--bind-address={self.host}",
            f"--port={self.port}",
            f"--socket={self.socket}",
            f"--pid-file={self.root / 'pid'}",
            "--skip-log-bin",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            "--default-time-zone=+00:00",
            "--max-connections=500",
        ]
        if self._os_user:
            cmd.insert(2, f"--user={self._os_user}")
        if self.fast:
            cmd += ["--innodb-flush-log-at-trx-commit=2", "--innodb-doublewrite=0"]
        return cmd

    def connect(self, database: str | None = None) -> Any:
        """A blocking PyMySQL connection (autocommit) for setup work outside the event loop."""
        import pymysql  # type: ignore[import-untyped]  # aiomysql's dependency

        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password="",
            database=database,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=2,
        )

    def execute(self, sql: str, args: Sequence[object] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement over a fresh connection; returns the fetched rows (if any)."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        finally:
            conn.close()

    def ready(self) -> bool:
        return self.execute("SELECT 1") == [(1,)]

    def create_database(self, name: str) -> str:
        """Create an empty utf8mb4 database (name: letters, digits, `_`); returns its URL."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"bad database name {name!r}")
        self.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        if not name.replace("_", "").isalnum():
            raise ValueError(f"bad database name {name!r}")
        self.execute(f"DROP DATABASE IF EXISTS `{name}`")


class EnvoyProcess(ServerProcess):
    """Envoy started from a caller's YAML (or JSON) config text.

    The caller picks every port in the config (use `free_port()`); the admin address is learnt
    from `--admin-address-path`, so any config with an `admin:` listener works, and readiness is
    the admin `GET /ready` answering 200. Hot restart is disabled, so any number of Envoys can
    run side by side.
    """

    kind = "envoy"
    start_timeout = 60.0

    def __init__(
        self,
        config: str,
        *,
        root: str | os.PathLike[str] | None = None,
        concurrency: int = 1,
        log_level: str = "info",
        extra_args: Sequence[str] = (),
    ) -> None:
        self.binary = envoy_binary()
        super().__init__(root=root)
        suffix = "json" if config.lstrip().startswith("{") else "yaml"
        self.config_path = self.root / f"envoy.{suffix}"
        self.config_path.write_text(config)
        self.admin_address_path = self.root / "admin-address"
        self.concurrency = concurrency
        self.log_level = log_level
        self.extra_args = list(extra_args)

    @property
    def admin_port(self) -> int:
        """The admin listener's port, read from the address file Envoy writes at startup."""
        text = self.admin_address_path.read_text().strip()
        if not text:
            raise RuntimeError("envoy has not written its admin address yet")
        return int(text.rsplit(":", 1)[1])

    @property
    def admin_url(self) -> str:
        return f"http://{LOOPBACK}:{self.admin_port}"

    def command(self) -> list[str]:
        return [
            self.binary,
            "-c",
            str(self.config_path),
            "--disable-hot-restart",
            "--concurrency",
            str(self.concurrency),
            "--log-level",
            self.log_level,
            "--admin-address-path",
            str(self.admin_address_path),
            *self.extra_args,
        ]

    def start(self, timeout: float | None = None) -> Self:
        if not self.running:
            self.admin_address_path.unlink(missing_ok=True)
        return super().start(timeout)

    def ready(self) -> bool:
        if not self.admin_address_path.exists():
            return False
        status, _ = http_get(f"{self.admin_url}/ready", timeout=0.5)
        return status == 200

    def wait_ready(self, timeout: float = 30.0) -> None:
        wait_ready(self.admin_port, timeout=timeout)


def envoy_validate(config: str) -> tuple[bool, str]:
    """`envoy --mode validate` on config text: (valid, combined output)."""
    binary = envoy_binary()
    with tempfile.TemporaryDirectory(prefix="paymesh-envoy-validate-") as tmp:
        suffix = "json" if config.lstrip().startswith("{") else "yaml"
        path = Path(tmp) / f"envoy.{suffix}"
        path.write_text(config)
        result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            [binary, "--mode", "validate", "-c", str(path), "--disable-hot-restart"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    return result.returncode == 0, result.stdout + result.stderr
