"""Merchant request and notification signatures.

Canonical string: every top-level field except ``sign`` whose value is present and not
the proto3 default, snake_case names sorted, ``name=value`` joined with ``&``. Values:
strings as is, integers in decimal, booleans ``true``/``false``, maps, messages and lists
as compact JSON with sorted keys and non-ASCII kept.

The same string comes out of the transcoded proto message (server side) and out of the
merchant's JSON body or GET parameters (client side), so both sides agree.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from paymesh.errors import AppDisabled, SignatureInvalid, TimestampExpired
from paymesh.rsa import rsa_sign, rsa_verify

SIGN_FIELD = "sign"
DEFAULT_WINDOW = 300


class SignType(StrEnum):
    HMAC_SHA256 = "HMAC-SHA256"
    MD5 = "MD5"
    RSA2 = "RSA2"


class _Secret(Protocol):
    def get_secret_value(self) -> str: ...


SecretLike = str | bytes | _Secret


class AppAuth(Protocol):
    """What `authenticate` needs from a merchant app's config (read-only)."""

    @property
    def enabled(self) -> bool: ...

    @property
    def sign_type(self) -> str: ...

    @property
    def secret(self) -> SecretLike | None: ...

    @property
    def public_key_pem(self) -> str | None: ...


# ---------------------------------------------------------------------------- canonical


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _is_empty(value: Any) -> bool:
    if value is None or value is False:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return value == 0
    if isinstance(value, str | bytes | Mapping | list | tuple):
        return len(value) == 0
    return False


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list | tuple):
        return _json(value)
    return str(value)


def _join(pairs: Mapping[str, Any]) -> str:
    return "&".join(
        f"{name}={_render(pairs[name])}"
        for name in sorted(pairs)
        if name != SIGN_FIELD and not _is_empty(pairs[name])
    )


def _field_value(field: FieldDescriptor, value: Any) -> Any:
    """A set proto field's value as the JSON-side Python value."""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        vfield = field.message_type.fields_by_name["value"]
        return {str(k): _scalar_value(vfield, v) for k, v in value.items()}
    if field.is_repeated:
        return [_scalar_value(field, v) for v in value]
    return _scalar_value(field, value)


def _scalar_value(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return json_format.MessageToDict(value, preserving_proto_field_name=True)
    if field.type == FieldDescriptor.TYPE_ENUM and field.enum_type is not None:
        enum_value = field.enum_type.values_by_number.get(value)
        return enum_value.name if enum_value is not None else value
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode("ascii")
    return value


def canonical_from_message(msg: Message) -> str:
    """The canonical string of a request/notification message (server side)."""
    pairs: dict[str, Any] = {}
    for field, value in msg.ListFields():
        pairs[field.name] = _field_value(field, value)
    return _join(pairs)


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(name: str) -> str:
    return name if "_" in name or name.islower() else _CAMEL.sub("_", name).lower()


def canonical_from_mapping(d: Mapping[str, Any], message_type: type[Message] | None = None) -> str:
    """The canonical string of a merchant's JSON body (or GET parameters).

    With ``message_type`` the mapping is first parsed as that proto (int64 strings become
    integers, ``"false"`` query values become false), which is exactly what the server sees
    after transcoding. Without it, values are rendered as they come: int64 fields sent as
    decimal strings ("100") give the same string as the integer.
    """
    if message_type is not None:
        msg = message_type()
        fields = msg.DESCRIPTOR.fields_by_name
        body: dict[str, Any] = {}
        for k, v in d.items():
            name = _snake(str(k))
            field = fields.get(name)
            if name == SIGN_FIELD or field is None:
                continue
            if field.type == FieldDescriptor.TYPE_BOOL and isinstance(v, str):
                v = v.strip().lower() in ("true", "1")
            body[name] = v
        json_format.ParseDict(body, msg, ignore_unknown_fields=True)
        return canonical_from_message(msg)
    return _join({_snake(str(k)): v for k, v in d.items()})


def canonical_from_params(
    path_params: Mapping[str, str],
    query: Mapping[str, str],
    message_type: type[Message] | None = None,
) -> str:
    """GET: the canonical string over the path and query parameters."""
    merged: dict[str, Any] = dict(query)
    merged.update(path_params)
    return canonical_from_mapping(merged, message_type)


# ---------------------------------------------------------------------------- sign / verify


def _reveal(key: SecretLike | None) -> bytes:
    if key is None:
        return b""
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        return key.encode("utf-8")
    return key.get_secret_value().encode("utf-8")


def _hex_digest(canonical: str, sign_type: str, secret: bytes) -> str:
    if sign_type == SignType.HMAC_SHA256:
        return hmac.new(secret, canonical.encode("utf-8"), hashlib.sha256).hexdigest().upper()
    if sign_type == SignType.MD5:
        data = canonical.encode("utf-8") + b"&key=" + secret
        return hashlib.md5(data, usedforsecurity=False).hexdigest().upper()
    raise SignatureInvalid(f"unsupported sign_type {sign_type!r}")


def sign(canonical: str, sign_type: str, secret_or_private_key: SecretLike) -> str:
    """Sign a canonical string: hex for HMAC-SHA256/MD5, base64 for RSA2."""
    key = _reveal(secret_or_private_key)
    if sign_type == SignType.RSA2:
        return rsa_sign(key, canonical)
    return _hex_digest(canonical, sign_type, key)


def verify(canonical: str, sign_type: str, sign: str, secret_or_public_key: SecretLike) -> bool:
    """Check a signature in constant time. Unknown sign types raise SignatureInvalid."""
    key = _reveal(secret_or_public_key)
    if not sign or not key:
        return False
    if sign_type == SignType.RSA2:
        return rsa_verify(key, canonical, sign)
    expected = _hex_digest(canonical, sign_type, key)
    return hmac.compare_digest(expected.encode("ascii"), sign.strip().upper().encode("utf-8"))


# ---------------------------------------------------------------------------- request auth


def _unix(now: datetime | float) -> float:
    return now.timestamp() if isinstance(now, datetime) else float(now)


def check_timestamp(ts: int, now: datetime | float, window: int = DEFAULT_WINDOW) -> None:
    """Reject a unix-seconds timestamp more than ``window`` seconds from ``now``."""
    if ts <= 0 or abs(_unix(now) - ts) > window:
        raise TimestampExpired(f"timestamp must be within {window} s of the server clock")


def authenticate(
    request_msg: Message, app: AppAuth, now: datetime | float, window: int = DEFAULT_WINDOW
) -> None:
    """Verify a merchant request: fresh timestamp, valid signature, then app enabled.

    A disabled app is reported only to a caller who signed with its key: nobody else can
    learn which app ids exist and are switched off."""
    fields = request_msg.DESCRIPTOR.fields_by_name
    requested = getattr(request_msg, "sign_type", "") if "sign_type" in fields else ""
    sign_type = app.sign_type
    if requested and requested != sign_type:
        raise SignatureInvalid(f"sign_type must be {sign_type}")
    check_timestamp(int(getattr(request_msg, "timestamp", 0)), now, window)
    signature = str(getattr(request_msg, SIGN_FIELD, "")) if SIGN_FIELD in fields else ""
    if not signature:
        raise SignatureInvalid("sign is missing")
    key = app.public_key_pem if sign_type == SignType.RSA2 else app.secret
    if not key:
        raise SignatureInvalid("app has no key for its sign_type")
    if not verify(canonical_from_message(request_msg), sign_type, signature, key):
        raise SignatureInvalid("signature does not match")
    if not app.enabled:
        raise AppDisabled("app is disabled")


__all__ = [
    "AppAuth",
    "SignType",
    "authenticate",
    "canonical_from_mapping",
    "canonical_from_message",
    "canonical_from_params",
    "check_timestamp",
    "sign",
    "verify",
]
