from __future__ import annotations

from pathlib import Path

import pytest

from paymesh.config.etcd_store import EtcdConfigStore
from paymesh.config.factory import open_store
from paymesh.config.file_store import FileConfigStore
from paymesh.runtime.settings import Settings


async def test_open_store_follows_the_backend_setting(tmp_path: Path) -> None:
    f = open_store(Settings(config_backend="file", config_file=str(tmp_path / "c.json")))
    assert isinstance(f, FileConfigStore)
    assert f.path == tmp_path / "c.json"
    await f.close()
    e = open_store(Settings(config_backend="etcd", etcd_endpoints=["127.0.0.1:2379"]))
    assert isinstance(e, EtcdConfigStore)
    await e.close()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (Settings(config_backend="etcd"), "config_backend=etcd needs etcd_endpoints"),
        (Settings(config_backend="file"), "config_backend=file needs config_file"),
        (Settings(config_backend="redis"), "config_backend must be etcd or file, not 'redis'"),
    ],
)
def test_open_store_refuses_incomplete_settings(settings: Settings, message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        open_store(settings)
