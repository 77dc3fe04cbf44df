"""ConfigRepository over the file store and a real etcd: typed, encrypted, live-updated."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from paymesh.config.apps import AppConfig, NotifyConfig
from paymesh.config.crypto import MASTER_KEY_ENV, MasterKeyError, SecretCipher
from paymesh.config.repository import ConfigRepository, public_view
from paymesh.config.store import ConfigStore, WatchEvent
from paymesh.errors import AppNotFound, ConfigConflict, ConfigInvalid, ConfigNotFound

from .conftest import DemoAccount

SECRET = "hmac-secret-0123456789-0123456789abc"
API_KEY = "api-key-abcdefghijklmnop"


def _app(name: str = "Shop", **kw: object) -> AppConfig:
    return AppConfig.model_validate(
        {"app_id": "app1", "name": name, "sign_type": "HMAC-SHA256", "secret": SECRET} | kw
    )


def _account(**kw: object) -> DemoAccount:
    base: dict[str, object] = {
        "account_id": "acc1",
        "base_url": "http://127.0.0.1:9/sandbox",
        "merchant_id": "1900000001",
        "api_key": API_KEY,
        "enabled_methods": ["qr"],
    }
    return DemoAccount.model_validate(base | kw)


@pytest.fixture
async def repo(
    stores: list[ConfigStore], etcd_prefix: str, cipher: SecretCipher
) -> AsyncIterator[ConfigRepository]:
    r = ConfigRepository(stores[0], etcd_prefix, cipher)
    await r.start()
    yield r
    await r.close()


async def test_app_round_trip_encrypted_at_rest(
    repo: ConfigRepository, stores: list[ConfigStore], etcd_prefix: str
) -> None:
    with pytest.raises(AppNotFound):
        await repo.get_app("app1")
    rev = await repo.put_app(_app(routes={"qr": {"channel": "demo", "account_id": "acc1"}}))
    got = await repo.get_app("app1")
    assert got.secret is not None
    assert got.secret.get_secret_value() == SECRET
    assert got.routes["qr"].account_id == "acc1"
    raw = await stores[1].get(etcd_prefix + "apps/app1")  # what etcd / the file holds
    assert raw is not None
    assert raw.revision == rev
    assert SECRET.encode() not in raw.value
    assert json.loads(raw.value)["secret"]["$enc"].startswith("v2:")
    assert json.loads(raw.value)["name"] == "Shop"
    assert [a.app_id for a in await repo.list_apps()] == ["app1"]


async def test_wrong_master_key_fails_clearly(
    repo: ConfigRepository, stores: list[ConfigStore], etcd_prefix: str
) -> None:
    await repo.put_app(_app())
    other = ConfigRepository(stores[1], etcd_prefix, SecretCipher(os.urandom(32)))
    with pytest.raises(MasterKeyError, match=MASTER_KEY_ENV):
        await other.get_app("app1")


async def test_missing_master_key_names_variable(
    stores: list[ConfigStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MASTER_KEY_ENV, raising=False)
    with pytest.raises(MasterKeyError, match=MASTER_KEY_ENV):
        ConfigRepository(stores[0])


async def test_channel_account(
    repo: ConfigRepository,
    demo_channel: type[DemoAccount],
    stores: list[ConfigStore],
    etcd_prefix: str,
) -> None:
    with pytest.raises(ConfigNotFound):
        await repo.get_channel_account("demo", "acc1")
    with pytest.raises(ConfigNotFound):
        await repo.get_channel_account("unregistered", "acc1")
    await repo.put_channel_account(_account())
    account = await repo.get_channel_account("demo", "acc1")
    assert isinstance(account, DemoAccount)
    assert account.api_key.get_secret_value() == API_KEY
    assert account.merchant_id == "1900000001"
    raw = await stores[0].get(etcd_prefix + "channels/demo/acc1")
    assert raw is not None
    assert API_KEY.encode() not in raw.value
    assert [a.account_id for a in await repo.list_channel_accounts("demo")] == ["acc1"]
    view = public_view(account)
    assert view["api_key"] == "****mnop"
    assert API_KEY not in json.dumps(view)


async def test_form_update_keeps_secrets_and_validates(
    repo: ConfigRepository, demo_channel: type[DemoAccount]
) -> None:
    await repo.put_channel_account(_account())
    form = public_view(await repo.get_channel_account("demo", "acc1"))
    form["merchant_id"] = "1900000002"  # the masked api_key is sent back unchanged
    await repo.put_channel_account(form, channel="demo")
    del form["api_key"]  # or left out entirely
    form["enabled"] = False
    await repo.put_channel_account(form, channel="demo")
    account = await repo.get_channel_account("demo", "acc1")
    assert isinstance(account, DemoAccount)
    assert (account.merchant_id, account.enabled) == ("1900000002", False)
    assert account.api_key.get_secret_value() == API_KEY

    with pytest.raises(ConfigInvalid) as info:
        await repo.put_channel_account(form | {"base_url": 5, "bogus": 1}, channel="demo")
    assert set(info.value.metadata["fields"].split(",")) == {"base_url", "bogus"}
    with pytest.raises(ConfigInvalid) as info:
        await repo.put_app({"app_id": "app2", "name": "x", "sign_type": "MD5"})
    assert "secret" in info.value.message
    with pytest.raises(ConfigInvalid, match="channel"):
        await repo.put_channel_account({"account_id": "x"})


async def test_compare_and_swap(repo: ConfigRepository) -> None:
    rev = await repo.put_app(_app(), expected_revision=0)
    with pytest.raises(ConfigConflict):
        await repo.put_app(_app(name="Dup"), expected_revision=0)
    current = await repo.get_app_versioned("app1")
    assert current.revision == rev
    await repo.put_app(_app(name="New"), expected_revision=current.revision)
    with pytest.raises(ConfigConflict):
        await repo.put_app(_app(name="Stale"), expected_revision=current.revision)
    assert (await repo.get_app("app1")).name == "New"
    assert await repo.delete_app("app1") is True
    with pytest.raises(AppNotFound):
        await repo.get_app("app1")


async def test_notify_config(repo: ConfigRepository) -> None:
    assert await repo.get_notify_config() == NotifyConfig()
    await repo.put_notify_config({"retry_delays": [1, 2, 3], "attempt_timeout_seconds": 3})
    got = await repo.get_notify_config()
    assert got.retry_delays == [1, 2, 3]
    assert got.attempt_timeout_seconds == 3
    with pytest.raises(ConfigInvalid, match="retry_delays"):
        await repo.put_notify_config({"retry_delays": []})


async def test_cache_follows_other_writers(
    repo: ConfigRepository,
    stores: list[ConfigStore],
    etcd_prefix: str,
    cipher: SecretCipher,
    demo_channel: type[DemoAccount],
) -> None:
    """A change made through another store instance (another process) is applied quickly."""
    seen: list[WatchEvent] = []
    repo.add_listener(seen.append)
    writer = ConfigRepository(stores[1], etcd_prefix, cipher)  # not started: direct writes
    await writer.put_app(_app(name="v1"))
    await writer.put_channel_account(_account())

    async def until(check: object) -> None:
        async with asyncio.timeout(5):
            while True:
                try:
                    if await check():  # type: ignore[operator]
                        return
                except (AppNotFound, ConfigNotFound):
                    pass
                await asyncio.sleep(0.05)

    async def app_named(name: str) -> bool:
        return (await repo.get_app("app1")).name == name

    await until(lambda: app_named("v1"))
    await writer.put_app(_app(name="v2", enabled=False))
    await until(lambda: app_named("v2"))
    assert not (await repo.get_app("app1")).enabled

    account = _account(api_key=SecretStr("rotated-key-0000000000"))
    rev = await writer.put_channel_account(account)
    async with asyncio.timeout(5):
        await repo.wait_for_revision(rev)
    got = await repo.get_channel_account("demo", "acc1")
    assert isinstance(got, DemoAccount)
    assert got.api_key.get_secret_value() == "rotated-key-0000000000"

    await writer.delete_app("app1")

    async def app_gone() -> bool:
        try:
            await repo.get_app("app1")
        except AppNotFound:
            return True
        return False

    await until(app_gone)
    assert any(ev.kind == "delete" and ev.key.endswith("apps/app1") for ev in seen)


async def test_reads_are_copies(repo: ConfigRepository) -> None:
    await repo.put_app(_app())
    a = await repo.get_app("app1")
    a.name = "mutated"
    assert (await repo.get_app("app1")).name == "Shop"


async def test_nested_secrets_are_encrypted_and_masked(
    repo: ConfigRepository,
    demo_channel: type[DemoAccount],
    stores: list[ConfigStore],
    etcd_prefix: str,
) -> None:
    nested = "nested-secret-value-9876"
    await repo.put_channel_account(_account(sub_keys=[{"serial": "S1", "key": nested}]))
    raw = await stores[1].get(etcd_prefix + "channels/demo/acc1")
    assert raw is not None
    assert nested.encode() not in raw.value
    assert "$enc" in json.loads(raw.value)["sub_keys"][0]["key"]
    reader = ConfigRepository(stores[1], etcd_prefix, repo._cipher)
    got = await reader.get_channel_account("demo", "acc1")
    assert isinstance(got, DemoAccount)
    assert got.sub_keys[0].key.get_secret_value() == nested
    view = public_view(got)
    assert view["sub_keys"] == [{"serial": "S1", "key": "****9876"}]
    assert nested not in json.dumps(view)
