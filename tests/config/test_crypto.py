"""Secret encryption: AES-256-GCM, master key from PAYMESH_MASTER_KEY."""

from __future__ import annotations

import base64
import os

import pytest

from paymesh.config.crypto import (
    DEV_MASTER_KEY,
    ENC_FIELD,
    MASTER_KEY_ENV,
    MasterKeyError,
    SecretCipher,
    is_encrypted,
)
from paymesh.errors import ConfigInvalid


def test_round_trip_and_format(cipher: SecretCipher) -> None:
    stored = cipher.encrypt("s3cret-value", context="apps/a#secret")
    assert is_encrypted(stored)
    assert stored[ENC_FIELD].startswith("v1:")
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
    raw = bytearray(base64.b64decode(stored[ENC_FIELD][3:]))
    raw[-1] ^= 1
    with pytest.raises(ConfigInvalid):
        cipher.decrypt({ENC_FIELD: "v1:" + base64.b64encode(bytes(raw)).decode()})
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
