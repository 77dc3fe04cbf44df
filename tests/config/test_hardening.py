"""Config store hardening on the file store and a real etcd: clear-text secrets refused, a
malformed document never replaces the last good one in a running service, key rotation."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from prometheus_client import REGISTRY

from paymesh.config.apps import AppConfig
from paymesh.config.crypto import ENC_FIELD, MasterKeyError, SecretCipher, key_id_of
from paymesh.config.repository import ConfigRepository
from paymesh.config.store import ConfigStore
from paymesh.errors import ConfigConflict, ConfigInvalid

SECRET = "hmac-secret-0123456789-0123456789abc"


def _app(name: str = "Shop") -> AppConfig:
    return AppConfig.model_validate(
        {"app_id": "app1", "name": name, "sign_type": "HMAC-SHA256", "secret": SECRET}
    )


async def _wait(repo: ConfigRepository, revision: int) -> None:
    async with asyncio.timeout(10):
        await repo.wait_for_revision(revision)


async def test_clear_text_secret_in_store_is_refused(
    stores: list[ConfigStore], etcd_prefix: str, cipher: SecretCipher
) -> None:
    key = etcd_prefix + "apps/app1"
    doc = {"app_id": "app1", "name": "Shop", "sign_type": "HMAC-SHA256", "secret": SECRET}
    await stores[0].put(key, json.dumps(doc).encode())
    repo = ConfigRepository(stores[1], etcd_prefix, cipher)
    with pytest.raises(ConfigInvalid, match="clear text") as info:
        await repo.get_app("app1")
    assert SECRET not in str(info.value)
    assert info.value.metadata["field"] == "secret"


def _sample(name: str) -> float:
    return REGISTRY.get_sample_value(name, {"document": "app"}) or 0.0


@pytest.mark.parametrize(
    "bad",
    [
        b"{not json",
        json.dumps({"app_id": "app1", "name": "", "sign_type": "HMAC-SHA256"}).encode(),
        json.dumps(
            {"app_id": "app1", "name": "X", "sign_type": "HMAC-SHA256", "secret": SECRET}
        ).encode(),
    ],
    ids=["not-json", "fails-schema", "clear-text-secret"],
)
async def test_malformed_document_never_replaces_the_last_good_one(
    stores: list[ConfigStore], etcd_prefix: str, cipher: SecretCipher, bad: bytes
) -> None:
    writer = ConfigRepository(stores[0], etcd_prefix, cipher)
    running = ConfigRepository(stores[1], etcd_prefix, cipher)
    await writer.put_app(_app("Good"))
    await running.start()
    try:
        assert (await running.get_app("app1")).name == "Good"
        rejected = _sample("paymesh_config_documents_rejected_total")
        reloads = _sample("paymesh_config_reloads_total")
        bad_rev = await stores[0].put(etcd_prefix + "apps/app1", bad)
        await _wait(running, bad_rev)
        kept = await running.get_app_versioned("app1")
        assert kept.model.name == "Good"
        assert kept.revision < bad_rev
        assert _sample("paymesh_config_documents_rejected_total") == rejected + 1
        # a later good document is taken again
        good_rev = await writer.put_app(_app("Better"))
        await _wait(running, good_rev)
        assert (await running.get_app("app1")).name == "Better"
        assert _sample("paymesh_config_reloads_total") == reloads + 1
    finally:
        await running.close()


async def test_rotate_key_reencrypts_and_old_key_ids_stay_readable(
    stores: list[ConfigStore], etcd_prefix: str
) -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    old = ConfigRepository(stores[0], etcd_prefix, SecretCipher(old_key))
    await old.put_app(_app())
    key = etcd_prefix + "apps/app1"

    new = ConfigRepository(stores[1], etcd_prefix, SecretCipher(new_key, previous=[old_key]))
    # before rotation: readable through the previous key
    got = await new.get_app("app1")
    assert got.secret is not None
    assert got.secret.get_secret_value() == SECRET
    assert await new.rotate_key() == [key]
    assert await new.rotate_key() == []  # idempotent
    raw = await stores[0].get(key)
    assert raw is not None
    stored = json.loads(raw.value)["secret"]
    assert key_id_of(stored) == SecretCipher(new_key).key_id
    assert SECRET.encode() not in raw.value
    assert stored[ENC_FIELD] != ""
    # after rotation the new key alone reads it; the old key alone no longer can
    alone = ConfigRepository(stores[0], etcd_prefix, SecretCipher(new_key))
    assert (await alone.get_app("app1")).secret == got.secret
    with pytest.raises(MasterKeyError, match=SecretCipher(new_key).key_id):
        await ConfigRepository(stores[1], etcd_prefix, SecretCipher(old_key)).get_app("app1")


async def test_two_operators_editing_the_same_key_conflict(
    stores: list[ConfigStore], etcd_prefix: str, cipher: SecretCipher
) -> None:
    a = ConfigRepository(stores[0], etcd_prefix, cipher)
    b = ConfigRepository(stores[1], etcd_prefix, cipher)
    await a.put_app(_app("v1"), expected_revision=0)
    seen_a = await a.get_app_versioned("app1")
    seen_b = await b.get_app_versioned("app1")
    assert seen_a.revision == seen_b.revision
    await a.put_app(_app("by A"), expected_revision=seen_a.revision)
    with pytest.raises(ConfigConflict) as info:
        await b.put_app(_app("by B"), expected_revision=seen_b.revision)
    assert info.value.metadata["expected_revision"] == str(seen_b.revision)
    assert (await b.get_app("app1")).name == "by A"
