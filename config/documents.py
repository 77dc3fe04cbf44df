"""How a config document is stored and shown: JSON with every secret field (a SecretStr at
any depth) encrypted for its key and field path, a masked public view, and validation errors
that name fields without echoing values.

`live.LiveConfig` caches and follows the documents; this module is the pure encoding it
applies to each one. A secret field found in clear text in the store is refused
(ConfigInvalid), never used.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from paymesh.config.crypto import SecretCipher, is_encrypted
from paymesh.config.models import secret_field_names
from paymesh.config.store import Entry
from paymesh.errors import ConfigInvalid

M = TypeVar("M", bound=BaseModel)

MASK = "****"


def mask_secret(value: str) -> str:
    """`****` plus the last four characters when the secret is long enough to spare them."""
    return MASK + value[-4:] if len(value) >= 12 else MASK


def _map_secrets(py: Any, js: Any, path: str, fn: Callable[[str, str], Any]) -> Any:
    """Walk a model's python-mode and JSON-mode dumps together; where the python value is a
    SecretStr (at any depth), put `fn(path, secret)` into the JSON value."""
    if isinstance(py, SecretStr):
        return fn(path, py.get_secret_value())
    if isinstance(py, dict) and isinstance(js, dict):
        return {
            k: _map_secrets(py.get(k), v, f"{path}.{k}" if path else str(k), fn)
            for k, v in js.items()
        }
    if isinstance(py, list | tuple) and isinstance(js, list) and len(py) == len(js):
        return [
            _map_secrets(p, j, f"{path}.{i}", fn)
            for i, (p, j) in enumerate(zip(py, js, strict=True))
        ]
    return js


def public_view(model: BaseModel) -> dict[str, Any]:
    """The model as JSON-ready data with every secret masked (never the secret itself).

    A secret becomes `mask_secret(value)`; an unset optional secret stays None.
    """
    view: dict[str, Any] = _map_secrets(
        model.model_dump(), model.model_dump(mode="json"), "", lambda _p, v: mask_secret(v)
    )
    return view


def config_invalid(what: str, err: ValidationError) -> ConfigInvalid:
    """ConfigInvalid naming the failing fields (never echoing the submitted values)."""
    problems: list[str] = []
    fields: list[str] = []
    by_field: dict[str, str] = {}
    for e in err.errors(include_url=False, include_input=False, include_context=False):
        loc = ".".join(str(p) for p in e["loc"])
        if loc and loc not in fields:
            fields.append(loc)
        problems.append(f"{loc}: {e['msg']}" if loc else str(e["msg"]))
        by_field[loc] = f"{by_field[loc]}; {e['msg']}" if loc in by_field else str(e["msg"])
    return ConfigInvalid(
        f"invalid {what}: " + "; ".join(problems),
        metadata={"fields": ",".join(fields)},
        field_errors=by_field,
    )


def validate_input(model: type[M], data: M | Mapping[str, Any], what: str, existing: M | None) -> M:
    """Validate a model or a form's data; secrets the form left out (or sent back
    masked) keep their stored value."""
    if isinstance(data, BaseModel):
        raw: dict[str, Any] = data.model_dump()
    else:
        raw = dict(data)
        for name in secret_field_names(model):
            value = raw.get(name)
            keep = name not in raw or (isinstance(value, str) and value.startswith(MASK))
            if keep and existing is not None:
                raw[name] = getattr(existing, name)
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise config_invalid(what, e) from e


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")


class DocumentCodec:
    """Encrypts and decrypts the secrets of the documents under one prefix.

    Each secret is bound to its key (relative to the prefix) and field path, so a
    ciphertext copied to another document or field does not decrypt."""

    def __init__(self, cipher: SecretCipher, watch_prefix: str) -> None:
        self.cipher = cipher
        self._watch_prefix = watch_prefix

    @property
    def key_id(self) -> str:
        """Id of the master key new secrets are encrypted under."""
        return self.cipher.key_id

    def _context(self, key: str, field: str) -> str:
        return f"{key.removeprefix(self._watch_prefix)}#{field}"

    def decode(self, entry: Entry, model: type[M], what: str) -> M:
        """The entry's model: JSON, no clear-text secret, decrypted, validated."""
        try:
            data = json.loads(entry.value)
        except (UnicodeDecodeError, ValueError) as e:
            raise ConfigInvalid(f"{what} at {entry.key} is not JSON") from e
        if not isinstance(data, dict):
            raise ConfigInvalid(f"{what} at {entry.key} is not a JSON object")
        for name in secret_field_names(model):
            if isinstance(data.get(name), str):
                raise ConfigInvalid(
                    f"{what} at {entry.key}: secret field {name} is stored in clear text "
                    "(refused: write it through the console or `paymesh config set`, "
                    "which encrypt it)",
                    metadata={"key": entry.key, "field": name},
                )
        data = self.decrypt_tree(entry.key, data, "")
        try:
            return model.model_validate(data)
        except ValidationError as e:
            raise config_invalid(f"{what} stored at {entry.key}", e) from e

    def encode(self, key: str, model: BaseModel) -> bytes:
        """JSON with every SecretStr (at any depth) replaced by its encrypted form."""
        data = _map_secrets(
            model.model_dump(),
            model.model_dump(mode="json"),
            "",
            lambda path, v: self.cipher.encrypt(v, context=self._context(key, path)),
        )
        return _dumps(data)

    def decrypt_tree(self, key: str, value: Any, path: str = "") -> Any:
        """`value` with every `{"$enc": ...}` inside it decrypted for `key`."""
        if is_encrypted(value):
            return self.cipher.decrypt(value, context=self._context(key, path))
        if isinstance(value, dict):
            return {
                k: self.decrypt_tree(key, v, f"{path}.{k}" if path else str(k))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.decrypt_tree(key, v, f"{path}.{i}") for i, v in enumerate(value)]
        return value

    def _reencrypt_tree(self, key: str, value: Any, path: str) -> tuple[Any, bool]:
        if is_encrypted(value):
            if self.cipher.is_current(value):
                return value, False
            context = self._context(key, path)
            plain = self.cipher.decrypt(value, context=context)
            return self.cipher.encrypt(plain, context=context), True
        if isinstance(value, dict):
            changed = False
            out: dict[str, Any] = {}
            for k, v in value.items():
                out[k], c = self._reencrypt_tree(key, v, f"{path}.{k}" if path else str(k))
                changed = changed or c
            return out, changed
        if isinstance(value, list):
            items = [self._reencrypt_tree(key, v, f"{path}.{i}") for i, v in enumerate(value)]
            return [v for v, _ in items], any(c for _, c in items)
        return value, False

    def reencrypt(self, entry: Entry) -> bytes | None:
        """The entry re-encrypted under the current master key (None: nothing to change)."""
        try:
            data = json.loads(entry.value)
        except (UnicodeDecodeError, ValueError) as e:
            raise ConfigInvalid(f"{entry.key} is not JSON", metadata={"key": entry.key}) from e
        new, changed = self._reencrypt_tree(entry.key, data, "")
        return _dumps(new) if changed else None


__all__ = [
    "MASK",
    "DocumentCodec",
    "config_invalid",
    "mask_secret",
    "public_view",
    "validate_input",
]
