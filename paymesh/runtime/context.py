"""Shared, lazily created resources of one `paymesh serve` process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from paymesh.runtime import tls
from paymesh.runtime.settings import Settings

Closer = Callable[[], Awaitable[None]]


class ServiceContext:
    """What services in one process share: settings, config repository, database, stubs."""

    def __init__(self, settings: Settings, services: list[str]) -> None:
        self.settings = settings
        self.services = services
        self._closers: list[Closer] = []
        self._cache: dict[str, Any] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._claims: set[str] = set()
        self._local: dict[str, Any] = {}
        self.serving_conditions: dict[str, Callable[[], bool]] = {}

    def on_close(self, closer: Closer) -> None:
        self._closers.append(closer)

    def add_serving_condition(self, name: str, holds: Callable[[], bool]) -> None:
        """Health reports NOT_SERVING while `holds()` is False (e.g. no worker-id lease)."""
        self.serving_conditions[name] = holds

    def serving(self) -> bool:
        return all(holds() for holds in self.serving_conditions.values())

    async def shared(self, key: str, make: Callable[[], Awaitable[Any]]) -> Any:
        """Create a resource once per process (config repository, engine, channels...)."""
        async with self._locks.setdefault(key, asyncio.Lock()):
            if key not in self._cache:
                self._cache[key] = await make()
            return self._cache[key]

    def claim(self, key: str) -> bool:
        """True the first time `key` is claimed in this process (register something once)."""
        if key in self._claims:
            return False
        self._claims.add(key)
        return True

    def provide(self, key: str, servicer: Any) -> None:
        """Offer a servicer this process serves to the others in it (`local`)."""
        self._local[key] = servicer

    def local(self, key: str) -> Any | None:
        """A servicer this process serves itself (`provide`), to be called in-process."""
        return self._local.get(key)

    def channel(self, target: str) -> grpc.aio.Channel:
        key = f"grpc:{target}"
        if key not in self._cache:
            # mTLS when the settings carry a CA (paymesh.runtime.tls); round_robin spreads
            # calls over every address a `dns:///` target resolves to (headless Services).
            self._cache[key] = tls.open_channel(
                target,
                self.settings,
                [("grpc.keepalive_time_ms", 30_000), ("grpc.lb_policy_name", "round_robin")],
            )
            self.on_close(self._cache[key].close)
        chan: grpc.aio.Channel = self._cache[key]
        return chan

    async def close(self) -> None:
        for closer in reversed(self._closers):
            await closer()
        self._closers.clear()
        self._cache.clear()
