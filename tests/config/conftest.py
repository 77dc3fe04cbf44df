"""Fixtures for config tests: each store test runs on the file store and on a real etcd."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from paymesh.config.etcd_store import EtcdConfigStore
from paymesh.config.file_store import FileConfigStore
from paymesh.config.store import ConfigStore
from paymesh.testing.servers import EtcdServer


@pytest.fixture(params=["file", "etcd"])
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
async def stores(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[list[ConfigStore]]:
    """Two independent store instances over the same backend (two processes, in effect)."""
    made: list[ConfigStore] = []
    if store_kind == "file":
        path = tmp_path / "config.json"
        made = [FileConfigStore(path, poll_interval=0.1), FileConfigStore(path, poll_interval=0.1)]
    else:
        server: EtcdServer = request.getfixturevalue("etcd_server")
        made = [EtcdConfigStore([server.endpoint]), EtcdConfigStore([server.endpoint])]
    yield made
    for s in made:
        await s.close()


@pytest.fixture
def store(stores: list[ConfigStore]) -> ConfigStore:
    return stores[0]
