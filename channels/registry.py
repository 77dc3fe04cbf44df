"""Which `Channel` implementations exist, by name (`paymesh.catalog`), and how to build them.

Entries are "module:Class" strings loaded lazily, so a channel whose module is missing
(not implemented yet) is simply skipped. A channel class takes the shared `Transport`
as its only positional argument.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from paymesh.catalog import CHANNELS
from paymesh.channels.base import Channel
from paymesh.channels.transport import Transport
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.channels.registry")

CHANNEL_ENTRIES: dict[str, str] = {c.name: c.implementation for c in CHANNELS}


def load_channel_class(name: str) -> type[Any] | None:
    """The implementation class of `name`, or None when it is unknown or not installed."""
    entry = CHANNEL_ENTRIES.get(name)
    if entry is None:
        return None
    module_name, _, attr = entry.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            return None
        raise
    cls: type[Any] | None = getattr(module, attr, None)
    return cls


def build_channels(
    transport: Transport, names: Iterable[str] | None = None
) -> dict[str, Channel[Any]]:
    """Instantiate every available channel (or only `names`) on one shared transport."""
    out: dict[str, Channel[Any]] = {}
    for name in names if names is not None else list(CHANNEL_ENTRIES):
        cls = load_channel_class(name)
        if cls is None:
            log.info("channel_not_available", channel=name)
            continue
        channel: Channel[Any] = cls(transport)
        out[channel.name] = channel
    return out


__all__ = ["CHANNEL_ENTRIES", "build_channels", "load_channel_class"]
