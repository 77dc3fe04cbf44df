"""`paymesh serve monitor`: the order monitor as a background task of the service process.

It has no gRPC service of its own; it shares the core's CoreDeps (store, channel client) and
stops with the process (ServiceContext.on_close). Optional environment:
PAYMESH_MONITOR_PENDING_AFTER and PAYMESH_MONITOR_INTERVAL, in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from datetime import timedelta

import grpc

from paymesh.core.deps import build_core_deps
from paymesh.order_monitor.monitor import DEFAULT_INTERVAL, DEFAULT_PENDING_AFTER, OrderMonitor
from paymesh.runtime.context import ServiceContext
from paymesh.runtime.logging import get_logger
from paymesh.runtime.settings import MissingSettings

log = get_logger("paymesh.order_monitor")

PENDING_AFTER_ENV = "PAYMESH_MONITOR_PENDING_AFTER"
INTERVAL_ENV = "PAYMESH_MONITOR_INTERVAL"
STOP_GRACE_SECONDS = 5.0


def _seconds(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= minimum:  # also rejects NaN
        raise MissingSettings(f"invalid settings: {name} must be a number of seconds >= {minimum}")
    return value


def monitor_options(env: Mapping[str, str] | None = None) -> tuple[timedelta, float]:
    """(pending_after, interval) from the environment, with the monitor's defaults."""
    env = os.environ if env is None else env
    pending_after = _seconds(env, PENDING_AFTER_ENV, DEFAULT_PENDING_AFTER.total_seconds(), 0.0)
    interval = _seconds(env, INTERVAL_ENV, DEFAULT_INTERVAL, 0.1)
    return timedelta(seconds=pending_after), interval


async def register(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    pending_after, interval = monitor_options()
    deps = await build_core_deps(ctx)
    monitor = OrderMonitor(deps, pending_after=pending_after, interval=interval)
    task = asyncio.create_task(monitor.run(), name="order-monitor")

    async def stop() -> None:
        monitor.stop()
        try:
            await asyncio.wait_for(task, timeout=STOP_GRACE_SECONDS)
        except TimeoutError:
            log.warning("monitor_stop_timeout")
        except asyncio.CancelledError:
            pass
        with contextlib.suppress(asyncio.CancelledError):
            if not task.done():
                task.cancel()
                await task

    ctx.on_close(stop)
    return []


__all__ = ["INTERVAL_ENV", "PENDING_AFTER_ENV", "monitor_options", "register"]
