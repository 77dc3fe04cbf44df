from __future__ import annotations

from pathlib import Path

import pytest

from paymesh.config.etcd_store import EtcdConfigStore
from paymesh.config.factory import open_store
from paymesh.config.file_store import FileConfigStore
from paymesh.errors import ConfigInvalid


async def test_open_store(tmp_path: Path) -> None:
    f = open_store(f"file://{tmp_path}/c.json")
    assert isinstance(f, FileConfigStore)
    assert f.path == tmp_path / "c.json"
    await f.close()
    for target in ("etcd://127.0.0.1:2379,127.0.0.1:2380", "127.0.0.1:2379"):
        e = open_store(target)
        assert isinstance(e, EtcdConfigStore)
        await e.close()
    with pytest.raises(ConfigInvalid):
        open_store("redis://x")
