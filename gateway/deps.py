"""What the merchant-facing operations need, built once per process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf.message import Message

from paymesh.config.apps import AppConfig, RouteTarget
from paymesh.config.repository import ConfigRepository
from paymesh.core import resources
from paymesh.core.channel_client import ChannelClient
from paymesh.core.db.store import Store
from paymesh.core.ids import IdGenerator
from paymesh.core.signing import authenticate
from paymesh.errors import ChannelNotEnabled
from paymesh.runtime.context import ServiceContext


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Deps:
    config: ConfigRepository
    store: Store
    ids: IdGenerator
    channels: ChannelClient
    callback_base_url: str
    clock: Callable[[], datetime] = field(default=utcnow)

    async def authenticated_app(self, request: Message) -> AppConfig:
        """The request's app, after its enabled flag, timestamp and signature check out."""
        app = await self.config.get_app(getattr(request, "app_id"))  # noqa: B009
        authenticate(request, app, self.clock())
        return app

    def callback_url(self, channel: str, account_id: str) -> str:
        return f"{self.callback_base_url.rstrip('/')}/v1/callbacks/{channel}/{account_id}"


def route(app: AppConfig, channel: str, method: str) -> RouteTarget:
    """The app's channel account for a method; a requested channel must match the route."""
    target = app.routes.get(f"{channel}:{method}") if channel else None
    target = target or app.routes.get(method)
    if target is None or (channel and target.channel != channel):
        wanted = f"{channel} {method}" if channel else method
        raise ChannelNotEnabled(
            f"app has no route for {wanted}", metadata={"method": method, "channel": channel}
        )
    return target


async def build_deps(ctx: ServiceContext) -> Deps:
    async def make() -> Deps:
        store = await resources.store(ctx)
        return Deps(
            config=await resources.config_repository(ctx),
            store=store,
            ids=await resources.id_generator(ctx),
            channels=ChannelClient(ctx, store),
            callback_base_url=ctx.settings.callback_base_url or "",
        )

    deps: Deps = await ctx.shared("gateway-deps", make)
    return deps
