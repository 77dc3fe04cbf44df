"""Secret encryption: AES-256-GCM, master key from PAYMESH_MASTER_KEY."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from paymesh.config.crypto import (
    DEV_MASTER_KEY,
    ENC_FIELD,
    MASTER_KEY_ENV,
    PREVIOUS_KEYS_ENV,
    MasterKeyError,
    SecretCipher,
    is_encrypted,
    key_id_of,
)
from paymesh.errors import ConfigInvalid


def test_round_trip_and_format(cipher: SecretCipher) -> None:
    stored = cipher.encrypt("s3cret-value", context="apps/a#secret")
    assert is_encrypted(stored)
    assert stored[ENC_FIELD].startswith(f"v2:{cipher.key_id}:")
    assert key_id_of(stored) == cipher.key_id
    assert "s3cret" not in stored[ENC_FIELD]
    assert cipher.decrypt(stored, context="apps/a#secret") == "s3cret-value"
    # a fresh nonce each time
    assert cipher.encrypt("s3cret-value")[ENC_FIELD] != cipher.encrypt("s3cret-value")[ENC_FIELD]


def test_wrong_key_fails_clearly(cipher: SecretCipher) -> None:
    stored = cipher.encrypt("x", context="c")
    other = SecretCipher(os.urandom(32))
    with pytest.raises(MasterKeyError, match=MASTER_KEY_ENV):
        other.decrypt(stored, context="c")


def test_context_binds_ciphertext(cipher: SecretCipher) -> None:
    stored = cipher.encrypt("x", context="apps/a#secret")
    with pytest.raises(MasterKeyError):
        cipher.decrypt(stored, context="apps/b#secret")


def test_tampered_or_malformed(cipher: SecretCipher) -> None:
    stored = cipher.encrypt("x")
    prefix, _, payload = stored[ENC_FIELD].rpartition(":")
    raw = bytearray(base64.b64decode(payload))
    raw[-1] ^= 1
    with pytest.raises(ConfigInvalid):
        cipher.decrypt({ENC_FIELD: f"{prefix}:" + base64.b64encode(bytes(raw)).decode()})
    with pytest.raises(ConfigInvalid, match="version"):
        cipher.decrypt({ENC_FIELD: "v9:AAAA"})
    with pytest.raises(ConfigInvalid):
        cipher.decrypt("plain")


def test_from_env() -> None:
    with pytest.raises(MasterKeyError, match=MASTER_KEY_ENV):
        SecretCipher.from_env({})
    with pytest.raises(MasterKeyError, match="32 bytes"):
        SecretCipher.from_env({MASTER_KEY_ENV: base64.b64encode(b"short").decode()})
    with pytest.raises(MasterKeyError, match="base64"):
        SecretCipher.from_env({MASTER_KEY_ENV: "not base64!"})
    key = base64.b64encode(os.urandom(32)).decode()
    a = SecretCipher.from_env({MASTER_KEY_ENV: key})
    b = SecretCipher.from_base64(key)
    assert b.decrypt(a.encrypt("v")) == "v"
    assert "key" not in repr(a).replace("<key hidden>", "")


def test_dev_key_is_valid() -> None:
    assert len(base64.b64decode(DEV_MASTER_KEY)) == 32
    dev = SecretCipher.dev()
    assert dev.decrypt(dev.encrypt("v")) == "v"


def test_previous_keys_stay_readable_and_new_values_use_the_current_key() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    old = SecretCipher(old_key)
    written = old.encrypt("v", context="c")
    rotated = SecretCipher(new_key, previous=[old_key])
    assert rotated.key_id != old.key_id
    assert rotated.key_ids == [rotated.key_id, old.key_id]
    assert rotated.decrypt(written, context="c") == "v"
    assert not rotated.is_current(written)
    again = rotated.encrypt("v", context="c")
    assert rotated.is_current(again)
    assert key_id_of(again) == rotated.key_id
    # the old key alone cannot read what the new key wrote, and says which key is missing
    with pytest.raises(MasterKeyError, match=rotated.key_id):
        old.decrypt(again, context="c")
    # once the old key is dropped, its values name the missing key id
    with pytest.raises(MasterKeyError, match=old.key_id):
        SecretCipher(new_key).decrypt(written, context="c")


def test_v1_values_without_key_id_are_read_with_any_configured_key() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    nonce = os.urandom(12)
    ct = AESGCM(old_key).encrypt(nonce, b"legacy", b"apps/a#secret")
    v1 = {ENC_FIELD: "v1:" + base64.b64encode(nonce + ct).decode()}
    assert key_id_of(v1) is None
    both = SecretCipher(new_key, previous=[old_key])
    assert both.decrypt(v1, context="apps/a#secret") == "legacy"
    assert not both.is_current(v1)
    with pytest.raises(MasterKeyError):
        SecretCipher(new_key).decrypt(v1, context="apps/a#secret")


def test_from_env_reads_previous_keys() -> None:
    old, new = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    written = SecretCipher.from_base64(old).encrypt("v")
    cipher = SecretCipher.from_env({MASTER_KEY_ENV: new, PREVIOUS_KEYS_ENV: f" {old} ,"})
    assert cipher.decrypt(written) == "v"
    with pytest.raises(MasterKeyError, match="base64"):
        SecretCipher.from_env({MASTER_KEY_ENV: new, PREVIOUS_KEYS_ENV: "nope!"})
