"""What the merchant-facing operations need, built once per process."""

from __future__ import annotations

from dataclasses import dataclass, fields

from google.protobuf.message import Message

from paymesh.config.apps import AppConfig, RouteTarget
from paymesh.core.deps import CoreDeps, build_core_deps
from paymesh.core.signing import authenticate
from paymesh.errors import ChannelNotEnabled
from paymesh.runtime.context import ServiceContext


@dataclass
class Deps(CoreDeps):
    """The core's dependencies plus merchant authentication."""

    async def authenticated_app(self, request: Message) -> AppConfig:
        """The request's app, after its enabled flag, timestamp and signature check out."""
        app = await self.config.get_app(getattr(request, "app_id"), shared=True)  # noqa: B009
        authenticate(request, app, self.clock())
        return app


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
        core = await build_core_deps(ctx)
        return Deps(**{f.name: getattr(core, f.name) for f in fields(core)})

    deps: Deps = await ctx.shared("gateway-deps", make)
    return deps
