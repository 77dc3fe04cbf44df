"""A merchant's HTTP client for the end-to-end tests: signs as the merchant API says."""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
from google.protobuf.message import Message

from paymesh.core.signing import canonical_from_mapping, canonical_from_params, sign


class Merchant:
    def __init__(
        self, edge_url: str, app_id: str, sign_type: str, key: str, session: aiohttp.ClientSession
    ) -> None:
        self.edge = edge_url
        self.app_id = app_id
        self.sign_type = sign_type
        self.key = key  # secret, or the merchant's RSA private key for RSA2
        self.session = session

    def signed(
        self, body: dict[str, Any], message_type: type[Message], *, timestamp: int | None = None
    ) -> dict[str, Any]:
        out = {"app_id": self.app_id, **body}
        if "nonce" in message_type.DESCRIPTOR.fields_by_name and "nonce" not in out:
            out["nonce"] = secrets.token_hex(8)  # mutating requests carry a signed nonce
        out["timestamp"] = int(time.time()) if timestamp is None else timestamp
        out["sign_type"] = self.sign_type
        out["sign"] = sign(canonical_from_mapping(out, message_type), self.sign_type, self.key)
        return out

    async def post(
        self, path: str, body: dict[str, Any], message_type: type[Message], **kw: Any
    ) -> tuple[int, dict[str, Any]]:
        payload = self.signed(body, message_type, **kw)
        async with self.session.post(self.edge + path, json=payload) as r:
            return r.status, await r.json()

    async def get(
        self,
        path: str,
        params: dict[str, Any],
        message_type: type[Message],
        path_params: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        query: dict[str, Any] = {"app_id": self.app_id, **params}
        query["timestamp"] = int(time.time())
        query["sign_type"] = self.sign_type
        canonical = canonical_from_params(path_params or {}, query, message_type)
        query["sign"] = sign(canonical, self.sign_type, self.key)
        async with self.session.get(f"{self.edge}{path}?{urlencode(query)}") as r:
            return r.status, await r.json()


def reason(body: dict[str, Any]) -> str:
    """The ErrorInfo reason of an error body."""
    (detail,) = [d for d in body.get("details", []) if d.get("@type", "").endswith("ErrorInfo")]
    value: str = detail["reason"]
    return value
