"""ConfigRepository: typed, validated, decrypted access to the config under one prefix.

Services construct one, `await start()` it, and call `get_app` / `get_channel_account` /
`get_notify_config` on every request: reads come from an in-memory cache that a background
watch keeps current, so edits made in etcd (ops console, another process) apply without a
restart. Writes validate, encrypt secret fields (AES-256-GCM, `crypto.py`), and support
compare-and-swap through `expected_revision`.

Hardening: a secret field found in clear text in the store is refused (ConfigInvalid), never
used. A change that arrives through the watch and does not decode (bad JSON, fails its
schema, undecryptable) is logged and ignored while the last good document stays in use.

Before `start()` (or after `close()`) every read goes to the store directly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from paymesh.config import keys
from paymesh.config.apps import AppConfig, NotifyConfig
from paymesh.config.documents import (
    MASK,
    config_invalid,
    mask_secret,
    public_view,
    validate_input,
)
from paymesh.config.live import LiveConfig, Versioned
from paymesh.config.models import ChannelAccountBase
from paymesh.config.registry import channel_model
from paymesh.errors import AppNotFound, ConfigInvalid, ConfigNotFound
from paymesh.runtime.logging import get_logger

log = get_logger(__name__)


class ConfigRepository(LiveConfig):
    """Typed config under `prefix` over any ConfigStore."""

    # ---- apps ----

    async def get_app_versioned(self, app_id: str, *, shared: bool = False) -> Versioned[AppConfig]:
        try:
            key = keys.app_key(self.prefix, app_id)
        except ValueError:
            raise AppNotFound(f"app {app_id!r} not found", metadata={"app_id": app_id}) from None
        entry = await self._entry(key)
        if entry is None:
            raise AppNotFound(f"app {app_id!r} not found", metadata={"app_id": app_id})
        app = self._decode(entry, AppConfig, "app config", copy=not shared)
        return Versioned(app, entry.revision)

    async def get_app(self, app_id: str, *, shared: bool = False) -> AppConfig:
        """The app (AppNotFound if absent). Whether it is enabled is the caller's check.

        Reads are copies; ``shared=True`` returns the instance cached for the current
        revision itself (parsed and validated once, no copy per call) for the request paths,
        which only read it."""
        return (await self.get_app_versioned(app_id, shared=shared)).model

    async def list_apps(self) -> list[AppConfig]:
        entries = await self._entries_under(keys.apps_prefix(self.prefix))
        return [self._decode(e, AppConfig, "app config") for e in entries]

    async def put_app(
        self, app: AppConfig | Mapping[str, Any], *, expected_revision: int | None = None
    ) -> int:
        """Validate and store an app; returns its new revision (ConfigConflict on a lost CAS)."""
        app_id = app.app_id if isinstance(app, AppConfig) else str(app.get("app_id", ""))
        existing = None
        if not isinstance(app, AppConfig):
            with contextlib.suppress(AppNotFound):
                existing = await self.get_app(app_id)
        model = validate_input(AppConfig, app, "app config", existing)
        return await self._put(keys.app_key(self.prefix, model.app_id), model, expected_revision)

    async def delete_app(self, app_id: str, *, expected_revision: int | None = None) -> bool:
        return await self._delete(keys.app_key(self.prefix, app_id), expected_revision)

    # ---- channel accounts ----

    def _account_key(self, channel: str, account_id: str) -> str:
        try:
            return keys.channel_account_key(self.prefix, channel, account_id)
        except ValueError as e:
            raise ConfigNotFound(
                str(e), metadata={"channel": channel, "account_id": account_id}
            ) from None

    async def get_channel_account_versioned(
        self, channel: str, account_id: str, *, shared: bool = False
    ) -> Versioned[ChannelAccountBase]:
        model = channel_model(channel)
        entry = await self._entry(self._account_key(channel, account_id))
        if entry is None:
            raise ConfigNotFound(
                f"channel account {channel}/{account_id} not found",
                metadata={"channel": channel, "account_id": account_id},
            )
        account = self._decode(entry, model, f"{channel} account config", copy=not shared)
        if account.account_id != account_id:
            raise ConfigInvalid(f"{entry.key} holds account_id {account.account_id!r}")
        return Versioned(account, entry.revision)

    async def get_channel_account(
        self, channel: str, account_id: str, *, shared: bool = False
    ) -> ChannelAccountBase:
        """The account as the channel's registered model (ConfigNotFound if absent); a copy,
        or with ``shared=True`` the cached instance of the current revision (read only)."""
        versioned = await self.get_channel_account_versioned(channel, account_id, shared=shared)
        return versioned.model

    async def list_channel_accounts(self, channel: str) -> list[ChannelAccountBase]:
        model = channel_model(channel)
        entries = await self._entries_under(keys.channels_prefix(self.prefix, channel))
        return [self._decode(e, model, f"{channel} account config") for e in entries]

    async def put_channel_account(
        self,
        account: ChannelAccountBase | Mapping[str, Any],
        *,
        channel: str | None = None,
        expected_revision: int | None = None,
    ) -> int:
        """Validate against the channel's schema and store; returns the new revision.

        Pass a model instance, or a form's data plus `channel`.
        """
        if isinstance(account, ChannelAccountBase):
            channel = channel or type(account).channel
        if not channel:
            raise ConfigInvalid("channel is required", metadata={"fields": "channel"})
        model = channel_model(channel)
        existing = None
        if not isinstance(account, ChannelAccountBase):
            with contextlib.suppress(ConfigNotFound):
                existing = await self.get_channel_account(
                    channel, str(account.get("account_id", ""))
                )
        elif not isinstance(account, model):
            raise ConfigInvalid(f"{type(account).__name__} is not the {channel} account model")
        valid = validate_input(model, account, f"{channel} account config", existing)
        key = self._account_key(channel, valid.account_id)
        return await self._put(key, valid, expected_revision)

    async def delete_channel_account(
        self, channel: str, account_id: str, *, expected_revision: int | None = None
    ) -> bool:
        return await self._delete(self._account_key(channel, account_id), expected_revision)

    # ---- notify ----

    async def get_notify_config(self) -> NotifyConfig:
        """Notifier defaults (the notification schedule when nothing is stored)."""
        return (await self.get_notify_config_versioned()).model

    async def get_notify_config_versioned(self) -> Versioned[NotifyConfig]:
        entry = await self._entry(keys.notify_key(self.prefix))
        if entry is None:
            return Versioned(NotifyConfig(), 0)
        return Versioned(self._decode(entry, NotifyConfig, "notify config"), entry.revision)

    async def put_notify_config(
        self, config: NotifyConfig | Mapping[str, Any], *, expected_revision: int | None = None
    ) -> int:
        model = validate_input(NotifyConfig, config, "notify config", None)
        return await self._put(keys.notify_key(self.prefix), model, expected_revision)


__all__ = [
    "MASK",
    "ConfigRepository",
    "Versioned",
    "config_invalid",
    "mask_secret",
    "public_view",
]
