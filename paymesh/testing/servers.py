"""pytest plugin: real throwaway servers, started once per test session on free loopback ports.

Loaded for every test run through `addopts = -p paymesh.testing.servers` (pyproject.toml).

Fixtures (servers start lazily, on first use, and are torn down at session end):

Session servers that a test stopped (outage tests) are started again (same port, same data)
after that test, so a failed outage test does not break the tests after it.

- `etcd_server` (session) -> EtcdServer: `.host`, `.port`, `.endpoint` ("127.0.0.1:PORT"),
  `.url`, `.stop(kill=False)`, `.start()` (same port, same data dir).
- `etcd_prefix` (function) -> str: a unique key prefix such as "/t/3f9c.../".
- `nats_server` (session) -> NatsServer: `.url` ("nats://127.0.0.1:PORT"), JetStream on with
  its store in the server's dir, `.stop()`, `.start()` (store kept).
- `mariadb_server` (session) -> MariaDBServer: `.host`, `.port`, `.url(database)`
  ("mysql+aiomysql://root@127.0.0.1:PORT/<db>"), `.stop()`, `.start()`, `.execute(sql)`.
- `mariadb_database` (function) -> str: SQLAlchemy URL of a fresh empty utf8mb4 database,
  dropped after the test.
- `mariadb_database_factory` (function) -> callable () -> str, for tests needing several.
- `envoy_factory` (function) -> callable (config_text, **kwargs) -> EnvoyProcess started and
  ready (admin /ready is 200); stopped at the end of the test.
- `envoy_session_factory` (session): the same, stopped at session end.

A missing binary fails the test with the install command; nothing is ever skipped.
The plain classes and helpers are re-exported from here (and live in
`paymesh.testing.processes` / `paymesh.testing.ports`, which do not import pytest).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

import pytest

from paymesh.testing.ports import LOOPBACK, free_port, port_open, wait_ready
from paymesh.testing.processes import (
    BinaryNotFoundError,
    EnvoyProcess,
    EtcdServer,
    MariaDBServer,
    NatsServer,
    ServerProcess,
    ServerStartError,
    envoy_binary,
    envoy_validate,
    find_binary,
    kill_servers_on_sigterm,
)

__all__ = [
    "LOOPBACK",
    "BinaryNotFoundError",
    "EnvoyFactory",
    "EnvoyProcess",
    "EtcdServer",
    "MariaDBServer",
    "NatsServer",
    "ServerProcess",
    "ServerStartError",
    "envoy_binary",
    "envoy_validate",
    "find_binary",
    "free_port",
    "port_open",
    "temporary_databases",
    "wait_ready",
]

S = TypeVar("S", bound=ServerProcess)


class EnvoyFactory(Protocol):
    def __call__(
        self, config: str, *, concurrency: int = 1, log_level: str = "info"
    ) -> EnvoyProcess: ...


def _start(make: Callable[[], S]) -> S:
    """Build and start a server; a missing binary or failed start fails the test (no skip)."""
    try:
        server = make()
    except BinaryNotFoundError as err:
        pytest.fail(str(err), pytrace=False)
    try:
        server.start()
    except ServerStartError as err:
        server.close()
        pytest.fail(str(err), pytrace=False)
    return server


_session_servers: list[ServerProcess] = []


def _serve(make: Callable[[], S]) -> Iterator[S]:
    server = _start(make)
    _session_servers.append(server)
    try:
        yield server
    finally:
        _session_servers.remove(server)
        server.close()


def _ensure_running(server: ServerProcess) -> None:
    if not server.running:
        try:
            server.start()
        except ServerStartError as err:
            pytest.fail(f"restarting {server.kind} after the test failed: {err}", pytrace=False)


@pytest.fixture(autouse=True)
def _restart_stopped_servers() -> Iterator[None]:
    """Session servers that a test stopped (outage tests) run again for the next test."""
    yield
    for server in list(_session_servers):
        _ensure_running(server)


@pytest.fixture(scope="session")
def etcd_server() -> Iterator[EtcdServer]:
    """A single-node etcd for the whole session (tests share it: use `etcd_prefix`)."""
    yield from _serve(EtcdServer)


@pytest.fixture
def etcd_prefix() -> str:
    """A key prefix no other test uses, e.g. "/t/3f9c0d.../"."""
    return f"/t/{uuid.uuid4().hex}/"


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    """nats-server with JetStream for the whole session (use unique stream names per test)."""
    yield from _serve(NatsServer)


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    """A MariaDB for the whole session; root@127.0.0.1 with no password."""
    yield from _serve(MariaDBServer)


@contextlib.contextmanager
def temporary_databases(server: MariaDBServer) -> Iterator[Callable[[], str]]:
    """Yields `create() -> url` making fresh empty utf8mb4 databases; drops them all on exit."""
    created: list[str] = []

    def create() -> str:
        if not server.running:
            pytest.fail("mariadb_server is stopped: start() it before creating a database")
        name = f"t_{uuid.uuid4().hex[:16]}"
        url = server.create_database(name)
        created.append(name)
        return url

    try:
        yield create
    finally:
        if created:
            _ensure_running(server)
        for name in created:
            server.drop_database(name)


@pytest.fixture
def mariadb_database_factory(mariadb_server: MariaDBServer) -> Iterator[Callable[[], str]]:
    """Call it to get the URL of a fresh empty utf8mb4 database; all are dropped afterwards."""
    with temporary_databases(mariadb_server) as create:
        yield create


@pytest.fixture
def mariadb_database(mariadb_database_factory: Callable[[], str]) -> str:
    """SQLAlchemy URL (mysql+aiomysql://root@127.0.0.1:PORT/t_...) of a fresh empty database."""
    return mariadb_database_factory()


def _envoy_factory() -> tuple[EnvoyFactory, list[EnvoyProcess]]:
    started: list[EnvoyProcess] = []

    def start(config: str, *, concurrency: int = 1, log_level: str = "info") -> EnvoyProcess:
        def make() -> EnvoyProcess:
            return EnvoyProcess(config, concurrency=concurrency, log_level=log_level)

        proc = _start(make)
        started.append(proc)
        return proc

    return start, started


@pytest.fixture
def envoy_factory() -> Iterator[EnvoyFactory]:
    """`start(config_text)` -> a running, ready EnvoyProcess; stopped when the test ends.

    The config picks its own ports (use `free_port()`) and must have an `admin:` listener.
    """
    start, started = _envoy_factory()
    yield start
    for proc in started:
        proc.close()


@pytest.fixture(scope="session")
def envoy_session_factory() -> Iterator[EnvoyFactory]:
    """Like `envoy_factory`, but the Envoys live until the session ends."""
    start, started = _envoy_factory()
    yield start
    for proc in started:
        proc.close()


def pytest_configure(config: pytest.Config) -> None:
    kill_servers_on_sigterm()


def pytest_report_header(config: pytest.Config) -> str:
    return "paymesh.testing.servers: real etcd / NATS / MariaDB / Envoy on free loopback ports"
