"""Secret fields at rest: AES-256-GCM under a master key from the environment.

A secret is stored as `{"$enc": "v1:<base64(nonce || ciphertext+tag)>"}`. The associated data
binds the ciphertext to where it lives (store key and field name), so an encrypted value cannot
be copied into another field or record and still decrypt.

The master key is `PAYMESH_MASTER_KEY`: base64 of 32 random bytes, e.g.
`python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"`.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from paymesh.errors import ConfigInvalid

MASTER_KEY_ENV = "PAYMESH_MASTER_KEY"

# The fixed key `paymesh dev` (make dev) encrypts its local file store with. It is public
# (it is in the source), so it protects nothing: never use it outside local development.
DEV_MASTER_KEY = "chBTnIbPyD1wqPYJupGS1YlEOBP3PPnI97EgtuOltx4="

ENC_FIELD = "$enc"
_VERSION = "v1"
_NONCE_LEN = 12


class MasterKeyError(ConfigInvalid):
    """The master key is missing or malformed, or does not decrypt the stored secrets."""


def _decode_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as e:
        raise MasterKeyError(f"{MASTER_KEY_ENV} is not valid base64") from e
    if len(key) != 32:
        raise MasterKeyError(f"{MASTER_KEY_ENV} must be base64 of 32 bytes, got {len(key)} bytes")
    return key


class SecretCipher:
    """Encrypts and decrypts single secret values with AES-256-GCM."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise MasterKeyError(f"master key must be 32 bytes, got {len(key)}")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "SecretCipher(<key hidden>)"

    @classmethod
    def from_base64(cls, text: str) -> SecretCipher:
        return cls(_decode_key(text))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SecretCipher:
        """The cipher for `PAYMESH_MASTER_KEY`; MasterKeyError naming the variable if unset."""
        env = os.environ if environ is None else environ
        text = env.get(MASTER_KEY_ENV, "").strip()
        if not text:
            raise MasterKeyError(
                f"{MASTER_KEY_ENV} is not set: it must hold base64 of 32 random bytes "
                "(the key that encrypts secret config fields at rest)"
            )
        return cls(_decode_key(text))

    @classmethod
    def dev(cls) -> SecretCipher:
        """The cipher for `paymesh dev` only (DEV_MASTER_KEY is public)."""
        return cls.from_base64(DEV_MASTER_KEY)

    def encrypt(self, plaintext: str, *, context: str = "") -> dict[str, str]:
        nonce = os.urandom(_NONCE_LEN)
        ct = self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return {ENC_FIELD: f"{_VERSION}:{base64.b64encode(nonce + ct).decode('ascii')}"}

    def decrypt(self, stored: Any, *, context: str = "") -> str:
        if not is_encrypted(stored):
            raise ConfigInvalid("secret field is not an encrypted value")
        version, _, payload = str(stored[ENC_FIELD]).partition(":")
        if version != _VERSION:
            raise ConfigInvalid(f"unsupported encrypted value version {version!r}")
        try:
            raw = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as e:
            raise ConfigInvalid("encrypted value is not valid base64") from e
        if len(raw) < _NONCE_LEN + 16:
            raise ConfigInvalid("encrypted value is truncated")
        try:
            pt = self._aead.decrypt(raw[:_NONCE_LEN], raw[_NONCE_LEN:], context.encode("utf-8"))
        except InvalidTag as e:
            raise MasterKeyError(
                f"cannot decrypt a secret field ({context or 'no context'}): wrong "
                f"{MASTER_KEY_ENV}, or the value was altered or moved"
            ) from e
        return pt.decode("utf-8")


def is_encrypted(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and set(value) == {ENC_FIELD}
        and isinstance(value[ENC_FIELD], str)
    )


__all__ = [
    "DEV_MASTER_KEY",
    "ENC_FIELD",
    "MASTER_KEY_ENV",
    "MasterKeyError",
    "SecretCipher",
    "is_encrypted",
]
