"""What every service that moves money needs, built once per process.

The store, the channel client, the config repository, the id generator, the callback base
URL (notify URLs handed to providers) and a clock. The gateways add merchant authentication
on top (`paymesh.gateway.deps.Deps`); the callback service and the order monitor use it as is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from paymesh.config import factory as config_factory
from paymesh.config.repository import ConfigRepository
from paymesh.core import resources
from paymesh.core.channel_client import ChannelClient
from paymesh.core.db.store import Store
from paymesh.core.ids import IdGenerator
from paymesh.runtime.clock import utcnow
from paymesh.runtime.context import ServiceContext


@dataclass
class CoreDeps:
    config: ConfigRepository
    store: Store
    ids: IdGenerator
    channels: ChannelClient
    callback_base_url: str
    clock: Callable[[], datetime] = field(default=utcnow)

    def callback_url(self, channel: str, account_id: str) -> str:
        return f"{self.callback_base_url.rstrip('/')}/v1/callbacks/{channel}/{account_id}"


async def build_core_deps(ctx: ServiceContext) -> CoreDeps:
    async def make() -> CoreDeps:
        store = await resources.store(ctx)
        return CoreDeps(
            config=await config_factory.config_repository(ctx),
            store=store,
            ids=await resources.id_generator(ctx),
            channels=ChannelClient(ctx, store),
            callback_base_url=ctx.settings.callback_base_url or "",
        )

    deps: CoreDeps = await ctx.shared("core-deps", make)
    return deps
