"""Health follows the serving conditions (e.g. the worker-id lease): NOT_SERVING while one
fails, SERVING again once it holds."""

from __future__ import annotations

import asyncio

import pytest
from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio

from paymesh.runtime import server as server_mod
from paymesh.runtime.context import ServiceContext
from paymesh.runtime.settings import Settings


async def _status(health: health_aio.HealthServicer, name: str) -> int:
    resp = await health.Check(health_pb2.HealthCheckRequest(service=name), None)
    status: int = resp.status
    return status


async def test_health_is_not_serving_while_a_condition_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(server_mod, "HEALTH_POLL_SECONDS", 0.02)
    ctx = ServiceContext(Settings(), ["pay"])
    held = [True]
    ctx.add_serving_condition("worker-id lease", lambda: held[0])
    health = health_aio.HealthServicer()
    for name in ("paymesh.merchant.v1.PayService", ""):
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    task = asyncio.create_task(
        server_mod._watch_health(ctx, health, ["paymesh.merchant.v1.PayService"])
    )
    try:
        held[0] = False
        await asyncio.sleep(0.1)
        assert await _status(health, "") == health_pb2.HealthCheckResponse.NOT_SERVING
        assert await _status(health, "paymesh.merchant.v1.PayService") == (
            health_pb2.HealthCheckResponse.NOT_SERVING
        )
        held[0] = True
        await asyncio.sleep(0.1)
        assert await _status(health, "") == health_pb2.HealthCheckResponse.SERVING
    finally:
        task.cancel()
