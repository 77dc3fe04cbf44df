"""Secret fields at rest: AES-256-GCM under a master key from the environment.

A secret is stored as `{"$enc": "v2:<key id>:<base64(nonce || ciphertext+tag)>"}`. The
associated data binds the ciphertext to where it lives (store key and field name), so an
encrypted value cannot be copied into another field or record and still decrypt. The key id
(first 8 hex digits of a SHA-256 over the key; it reveals nothing usable) names the master key
that encrypted it, so keys can rotate: values written before key ids existed
(`v1:<base64>`) are tried against every configured key.

The master key is `PAYMESH_MASTER_KEY`: base64 of 32 random bytes, e.g.
`python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"`.
To rotate: set the new key as `PAYMESH_MASTER_KEY`, keep the old one(s) in
`PAYMESH_MASTER_KEYS_PREVIOUS` (comma-separated) so their values stay readable, run
`paymesh config rotate-key` (re-encrypts everything under the new key), then drop the old keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from paymesh.errors import ConfigInvalid

MASTER_KEY_ENV = "PAYMESH_MASTER_KEY"
PREVIOUS_KEYS_ENV = "PAYMESH_MASTER_KEYS_PREVIOUS"

# The fixed key `paymesh dev` (make dev) encrypts its local file store with. It is public
# (it is in the source), so it protects nothing: never use it outside local development.
DEV_MASTER_KEY = "chBTnIbPyD1wqPYJupGS1YlEOBP3PPnI97EgtuOltx4="

ENC_FIELD = "$enc"
_VERSION = "v2"
_LEGACY_VERSION = "v1"  # no key id: written before key rotation existed
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


def key_id_for(key: bytes) -> str:
    """The public id of a master key: 8 hex digits of SHA-256 over a label and the key."""
    return hashlib.sha256(b"paymesh-master-key-id:" + key).hexdigest()[:8]


class SecretCipher:
    """Encrypts single secret values with AES-256-GCM under the current master key, and
    decrypts values written under it or under any previous key still configured."""

    def __init__(self, key: bytes, *, previous: Iterable[bytes] = ()) -> None:
        keys = [key, *previous]
        for k in keys:
            if len(k) != 32:
                raise MasterKeyError(f"master key must be 32 bytes, got {len(k)}")
        self._key_id = key_id_for(key)
        self._aeads: dict[str, AESGCM] = {}
        for k in keys:
            self._aeads.setdefault(key_id_for(k), AESGCM(k))

    def __repr__(self) -> str:
        return f"SecretCipher(<key hidden>, id {self._key_id})"

    @property
    def key_id(self) -> str:
        """The id of the key new values are encrypted under."""
        return self._key_id

    @property
    def key_ids(self) -> list[str]:
        """Every key id this cipher can decrypt (current first)."""
        return list(self._aeads)

    @classmethod
    def from_base64(cls, text: str, *, previous: Iterable[str] = ()) -> SecretCipher:
        return cls(_decode_key(text), previous=[_decode_key(p) for p in previous])

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SecretCipher:
        """The cipher for `PAYMESH_MASTER_KEY` (plus `PAYMESH_MASTER_KEYS_PREVIOUS`, readable
        only); MasterKeyError naming the variable if unset."""
        env = os.environ if environ is None else environ
        text = env.get(MASTER_KEY_ENV, "").strip()
        if not text:
            raise MasterKeyError(
                f"{MASTER_KEY_ENV} is not set: it must hold base64 of 32 random bytes "
                "(the key that encrypts secret config fields at rest)"
            )
        previous = [p.strip() for p in env.get(PREVIOUS_KEYS_ENV, "").split(",") if p.strip()]
        return cls.from_base64(text, previous=previous)

    @classmethod
    def dev(cls) -> SecretCipher:
        """The cipher for `paymesh dev` only (DEV_MASTER_KEY is public)."""
        return cls.from_base64(DEV_MASTER_KEY)

    def encrypt(self, plaintext: str, *, context: str = "") -> dict[str, str]:
        nonce = os.urandom(_NONCE_LEN)
        aead = self._aeads[self._key_id]
        ct = aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        payload = base64.b64encode(nonce + ct).decode("ascii")
        return {ENC_FIELD: f"{_VERSION}:{self._key_id}:{payload}"}

    def decrypt(self, stored: Any, *, context: str = "") -> str:
        kid, raw = _parse(stored)
        if kid is None:
            candidates = list(self._aeads.values())
        elif kid in self._aeads:
            candidates = [self._aeads[kid]]
        else:
            raise MasterKeyError(
                f"a secret field ({context or 'no context'}) is encrypted under master key id "
                f"{kid}, which is neither {MASTER_KEY_ENV} ({self._key_id}) nor in "
                f"{PREVIOUS_KEYS_ENV}"
            )
        for aead in candidates:
            try:
                pt = aead.decrypt(raw[:_NONCE_LEN], raw[_NONCE_LEN:], context.encode("utf-8"))
            except InvalidTag:
                continue
            return pt.decode("utf-8")
        raise MasterKeyError(
            f"cannot decrypt a secret field ({context or 'no context'}): wrong "
            f"{MASTER_KEY_ENV}, or the value was altered or moved"
        )

    def is_current(self, stored: Any) -> bool:
        """Whether `stored` is already encrypted under the current key."""
        return key_id_of(stored) == self._key_id


def _parse(stored: Any) -> tuple[str | None, bytes]:
    """(key id or None for v1, nonce || ciphertext) of an encrypted value."""
    if not is_encrypted(stored):
        raise ConfigInvalid("secret field is not an encrypted value")
    version, _, rest = str(stored[ENC_FIELD]).partition(":")
    if version == _VERSION:
        kid, _, payload = rest.partition(":")
    elif version == _LEGACY_VERSION:
        kid, payload = None, rest
    else:
        raise ConfigInvalid(f"unsupported encrypted value version {version!r}")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ConfigInvalid("encrypted value is not valid base64") from e
    if len(raw) < _NONCE_LEN + 16:
        raise ConfigInvalid("encrypted value is truncated")
    return kid, raw


def key_id_of(stored: Any) -> str | None:
    """The key id an encrypted value names (None for v1 values, which name none)."""
    return _parse(stored)[0]


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
    "PREVIOUS_KEYS_ENV",
    "MasterKeyError",
    "SecretCipher",
    "is_encrypted",
    "key_id_for",
    "key_id_of",
]
