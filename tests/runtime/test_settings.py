from __future__ import annotations

from pathlib import Path

import pytest

from paymesh.runtime.settings import MissingSettings, load_settings, require


def test_file_then_env_override(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('listen = "127.0.0.1:6000"\ndatabase_url = "sqlite+aiosqlite:///x.db"\n')
    s = load_settings(
        f,
        env={
            "PAYMESH_LISTEN": "127.0.0.1:7000",
            "PAYMESH_ETCD_ENDPOINTS": "127.0.0.1:2379, 127.0.0.1:2380",
            "PAYMESH_CHANNEL_TARGETS": "wechat=127.0.0.1:1,alipay=127.0.0.1:2",
        },
    )
    assert s.listen == "127.0.0.1:7000"
    assert s.database_url == "sqlite+aiosqlite:///x.db"
    assert s.etcd_endpoints == ["127.0.0.1:2379", "127.0.0.1:2380"]
    assert s.channel_targets == {"wechat": "127.0.0.1:1", "alipay": "127.0.0.1:2"}


def test_missing_required_settings_are_all_named() -> None:
    s = load_settings(env={})
    with pytest.raises(MissingSettings) as exc:
        require(s, {"pay": ["database_url", "config_backend"], "info": []})
    text = str(exc.value)
    assert "database_url (env PAYMESH_DATABASE_URL) for service 'pay'" in text
    assert "config_backend (env PAYMESH_CONFIG_BACKEND)" in text


def test_invalid_value_names_the_field() -> None:
    with pytest.raises(MissingSettings, match="drain_seconds"):
        load_settings(env={"PAYMESH_DRAIN_SECONDS": "soon"})
