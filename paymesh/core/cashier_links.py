"""Signed cashier links: what a payer's QR code or link carries, tamper-evident.

A link names what it opens (an order, or an app's static counter code), the app, and an
expiry, and carries an HMAC-SHA256 over all of it under a key only paymesh holds: derived
with HKDF from the master key (`PAYMESH_MASTER_KEY`), so that every service of one
deployment agrees on it with no new secret to distribute, and a link of one deployment
never opens in another. Changing any character of a link, or using it past its expiry,
makes `verify` fail; a link is never looked up before it verifies.

Token: base64url(`v1|<kind>|<app_id>|<order_id>|<expires unix>`) "." base64url(mac[:16]).
Pure: no I/O, `now` passed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from paymesh.config.crypto import MASTER_KEY_ENV, MasterKeyError

VERSION: Final = "v1"
MAC_BYTES: Final = 16
MAX_TOKEN: Final = 400
PATH_PREFIX: Final = "/cashier"


class LinkKind(StrEnum):
    ORDER = "o"  # one order: the payer pays its amount
    STATIC = "s"  # an app's counter code: the payer enters the amount


class LinkInvalid(ValueError):
    """The link was not issued by paymesh (malformed or tampered with)."""


class LinkExpired(ValueError):
    """The link verified but is past its expiry."""


@dataclass(frozen=True)
class Link:
    kind: LinkKind
    app_id: str
    order_id: str
    expires: int  # unix seconds

    def payload(self) -> str:
        return "|".join((VERSION, self.kind.value, self.app_id, self.order_id, str(self.expires)))


def derive_key(master_key_b64: str) -> bytes:
    """The cashier's HMAC key, from the base64 master key (HKDF-SHA256, own label)."""
    try:
        master = base64.b64decode(master_key_b64.strip(), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"{MASTER_KEY_ENV} is not valid base64") from e
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"paymesh cashier links v1")
    return hkdf.derive(master)


def key_from_env() -> bytes:
    """The key of this deployment, from `PAYMESH_MASTER_KEY` (`paymesh dev` sets its own);
    unset is an error, never a default key anyone could sign links with."""
    master = os.environ.get(MASTER_KEY_ENV, "").strip()
    if not master:
        raise MasterKeyError(f"{MASTER_KEY_ENV} is not set: cashier links are signed with it")
    return derive_key(master)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def sign(link: Link, key: bytes) -> str:
    payload = link.payload()
    return f"{_b64(payload.encode())}.{_b64(mac(key, payload)[:MAC_BYTES])}"


def verify(token: str, key: bytes, now: datetime) -> Link:
    """The link a token carries; LinkInvalid unless paymesh signed exactly this token,
    LinkExpired once it is past its expiry."""
    if not token or len(token) > MAX_TOKEN or token.count(".") != 1:
        raise LinkInvalid("malformed cashier link")
    body, tag = token.split(".")
    try:
        payload = _unb64(body).decode("utf-8")
        got = _unb64(tag)
    except (binascii.Error, ValueError) as e:
        raise LinkInvalid("malformed cashier link") from e
    # the encoding must be canonical too, so that no two tokens carry one link
    if _b64(payload.encode()) != body or _b64(got) != tag:
        raise LinkInvalid("malformed cashier link")
    if not hmac.compare_digest(got, mac(key, payload)[:MAC_BYTES]):
        raise LinkInvalid("cashier link signature does not match")
    parts = payload.split("|")
    if len(parts) != 5 or parts[0] != VERSION or parts[1] not in ("o", "s"):
        raise LinkInvalid("unknown cashier link version")
    link = Link(LinkKind(parts[1]), parts[2], parts[3], int(parts[4]))
    if now.timestamp() >= link.expires:
        raise LinkExpired("cashier link has expired")
    return link


def order_link(app_id: str, order_id: str, expire_time: datetime) -> Link:
    return Link(LinkKind.ORDER, app_id, order_id, int(expire_time.astimezone(UTC).timestamp()))


def static_link(app_id: str, expires: datetime) -> Link:
    return Link(LinkKind.STATIC, app_id, "", int(expires.astimezone(UTC).timestamp()))


def url(base_url: str, link: Link, key: bytes) -> str:
    """The absolute URL of a link at the edge (`base_url`: the public edge URL)."""
    return f"{base_url.rstrip('/')}{PATH_PREFIX}/{link.kind.value}/{sign(link, key)}"


def sub_token(key: bytes, purpose: str, *parts: str) -> str:
    """A short MAC binding values to one purpose (OAuth `state`, a payer id in a form):
    32 hex characters, [A-Za-z0-9] as WeChat's `state` requires."""
    return mac(key, "|".join((purpose, *parts))).hex()[:32]


__all__ = [
    "PATH_PREFIX",
    "Link",
    "LinkExpired",
    "LinkInvalid",
    "LinkKind",
    "derive_key",
    "key_from_env",
    "order_link",
    "sign",
    "static_link",
    "sub_token",
    "url",
    "verify",
]
