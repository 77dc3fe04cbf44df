"""Channel account schema registry: channel name -> its account model.

Each channel service registers its `ChannelAccountBase` subclass at import time; the
repository validates `{prefix}/channels/{channel}/...` documents against it, and the ops
console renders forms from `schemas()`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from paymesh.config.apps import AppConfig, NotifyConfig
from paymesh.config.models import ChannelAccountBase
from paymesh.errors import ConfigNotFound

M = TypeVar("M", bound=type[ChannelAccountBase])

_MODELS: dict[str, type[ChannelAccountBase]] = {}


def _qualified(model: type[ChannelAccountBase]) -> str:
    return f"{model.__module__}.{model.__qualname__}"


def register_channel(model: M) -> M:
    """Register `model` under `model.channel`. Usable as a class decorator.

    Registering the same class twice is a no-op; another class for a taken channel is an error.
    """
    channel = model.channel
    if not channel:
        raise ValueError(f"{model.__name__}.channel must name the channel")
    current = _MODELS.get(channel)
    if current is not None and _qualified(current) != _qualified(model):
        raise ValueError(f"channel {channel!r} is already registered by {current.__name__}")
    _MODELS[channel] = model
    return model


def unregister_channel(channel: str) -> None:
    """Forget a channel (tests)."""
    _MODELS.pop(channel, None)


def channel_model(channel: str) -> type[ChannelAccountBase]:
    """The account model of `channel`; ConfigNotFound when no service registered it."""
    try:
        return _MODELS[channel]
    except KeyError:
        raise ConfigNotFound(
            f"no account schema registered for channel {channel!r}",
            metadata={"channel": channel},
        ) from None


def channels() -> list[str]:
    return sorted(_MODELS)


def _schema(model: type[Any]) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema(mode="validation")
    return schema


def schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every registered channel's account model (ops console forms)."""
    return {c: _schema(_MODELS[c]) for c in sorted(_MODELS)}


def document_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schemas of the non-channel documents: `app` and `notify`."""
    return {"app": _schema(AppConfig), "notify": _schema(NotifyConfig)}


__all__ = [
    "channel_model",
    "channels",
    "document_schemas",
    "register_channel",
    "schemas",
    "unregister_channel",
]
