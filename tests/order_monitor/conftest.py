"""The order monitor runs against the real mesh of the end-to-end suite (MariaDB, etcd,
sandbox, every service, Envoy); each test builds its own OrderMonitor on the mesh's CoreDeps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from paymesh.core.deps import CoreDeps, build_core_deps
from paymesh.order_monitor.monitor import OrderMonitor
from paymesh.testing.processes import EtcdServer, MariaDBServer, NatsServer
from tests.e2e.conftest import BACKENDS, Mesh, http, merchant, start_mesh  # noqa: F401


class Clock:
    """Wall-clock time plus an offset the test moves forward (backoff, expiry)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


MonitorFactory = Callable[[CoreDeps], OrderMonitor]


@pytest.fixture(scope="session", params=BACKENDS)
async def mesh(
    request: pytest.FixtureRequest,
    etcd_server: EtcdServer,
    mariadb_server: MariaDBServer,
    nats_server: NatsServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Mesh]:
    """The e2e mesh, but one of its own (with its own NATS) so that it never takes the
    events of the e2e suite's mesh when both are alive in one session."""
    async with start_mesh(
        request.param, etcd_server, mariadb_server, nats_server, tmp_path_factory, own_nats=True
    ) as m:
        yield m


@pytest.fixture
async def deps(mesh: Mesh) -> CoreDeps:
    return await build_core_deps(mesh.server.context)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_monitor(clock: Clock) -> MonitorFactory:
    """A monitor on the given CoreDeps: no age threshold, the test's clock, 10 s first backoff."""

    def make(deps: CoreDeps) -> OrderMonitor:
        return OrderMonitor(deps, pending_after=timedelta(0), interval=10.0, batch=50, clock=clock)

    return make


@pytest.fixture
def monitor(deps: CoreDeps, make_monitor: MonitorFactory) -> OrderMonitor:
    return make_monitor(deps)
