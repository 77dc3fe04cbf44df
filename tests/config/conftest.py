"""Fixtures for config tests: each store test runs on the file store and on a real etcd."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel, Field, SecretStr

from paymesh.config.crypto import SecretCipher
from paymesh.config.etcd_store import EtcdConfigStore
from paymesh.config.file_store import FileConfigStore
from paymesh.config.models import ChannelAccountBase, secret_field
from paymesh.config.registry import register_channel, unregister_channel
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


class DemoSubKey(BaseModel):
    serial: str
    key: SecretStr


class DemoAccount(ChannelAccountBase):
    """A channel account model for tests (channel "demo")."""

    channel: ClassVar[str] = "demo"

    merchant_id: str = Field(title="Merchant id", description="Provider's merchant number.")
    api_key: SecretStr = secret_field("API key", "Signs requests.", min_length=16)
    private_key_pem: SecretStr | None = secret_field("Private key", default=None)
    sub_keys: list[DemoSubKey] = Field(default_factory=list, title="Nested secrets")


@pytest.fixture
def demo_channel() -> Iterator[type[DemoAccount]]:
    register_channel(DemoAccount)
    try:
        yield DemoAccount
    finally:
        unregister_channel("demo")


@pytest.fixture
def cipher() -> SecretCipher:
    return SecretCipher(os.urandom(32))
