"""Key layout under the config prefix.

- `{prefix}/channels/{channel}/{account_id}`: a channel account
- `{prefix}/apps/{app_id}`: a merchant app
- `{prefix}/notify`: notifier defaults
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

DEFAULT_PREFIX = "/paymesh/config"

_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def normalize_prefix(prefix: str) -> str:
    """`/paymesh/config/` -> `/paymesh/config` (always one leading slash, none trailing)."""
    p = "/" + prefix.strip().strip("/")
    if p == "/":
        raise ValueError("config prefix must not be empty")
    return p


def _segment(value: str, what: str) -> str:
    if not _SEGMENT.match(value):
        raise ValueError(f"{what} must be 1-64 of [A-Za-z0-9_-], got {value!r}")
    return value


def apps_prefix(prefix: str) -> str:
    return f"{normalize_prefix(prefix)}/apps/"


def app_key(prefix: str, app_id: str) -> str:
    return apps_prefix(prefix) + _segment(app_id, "app_id")


def channels_prefix(prefix: str, channel: str | None = None) -> str:
    base = f"{normalize_prefix(prefix)}/channels/"
    return base if channel is None else f"{base}{_segment(channel, 'channel')}/"


def channel_account_key(prefix: str, channel: str, account_id: str) -> str:
    return channels_prefix(prefix, channel) + _segment(account_id, "account_id")


def notify_key(prefix: str) -> str:
    return f"{normalize_prefix(prefix)}/notify"


@dataclass(frozen=True, slots=True)
class ParsedKey:
    kind: Literal["app", "channel_account", "notify"]
    app_id: str = ""
    channel: str = ""
    account_id: str = ""


def parse_key(prefix: str, key: str) -> ParsedKey | None:
    """What a store key under `prefix` names, or None for keys outside the layout."""
    base = normalize_prefix(prefix) + "/"
    if not key.startswith(base):
        return None
    parts = key[len(base) :].split("/")
    if parts == ["notify"]:
        return ParsedKey("notify")
    if len(parts) == 2 and parts[0] == "apps" and _SEGMENT.match(parts[1]):
        return ParsedKey("app", app_id=parts[1])
    if len(parts) == 3 and parts[0] == "channels" and all(_SEGMENT.match(p) for p in parts[1:]):
        return ParsedKey("channel_account", channel=parts[1], account_id=parts[2])
    return None


__all__ = [
    "DEFAULT_PREFIX",
    "ParsedKey",
    "app_key",
    "apps_prefix",
    "channel_account_key",
    "channels_prefix",
    "normalize_prefix",
    "notify_key",
    "parse_key",
]
