"""Pick the event bus from a URL."""

from __future__ import annotations

from typing import Any

from paymesh.notify.bus import Bus
from paymesh.notify.jetstream import JetStreamBus
from paymesh.notify.memory_bus import MemoryBus


def open_bus(url: str, **kwargs: Any) -> Bus:
    """``memory://`` -> MemoryBus (``paymesh dev``); ``nats://...`` -> JetStreamBus."""
    if url.startswith("memory:"):
        return MemoryBus()
    if url.startswith(("nats://", "tls://", "ws://", "wss://")):
        return JetStreamBus(url, **kwargs)
    raise ValueError(f"unsupported bus URL {url!r} (memory:// or nats://host:port)")


__all__ = ["open_bus"]
