"""`paymesh serve`: any set of services in one grpc.aio server, with health, reflection,
the error interceptor, and a graceful drain on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from paymesh.runtime.context import ServiceContext
from paymesh.runtime.interceptor import ErrorInterceptor
from paymesh.runtime.logging import get_logger
from paymesh.runtime.registry import ServiceSpec, resolve
from paymesh.runtime.settings import Settings, require

log = get_logger("paymesh.server")


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    context: ServiceContext
    health: health_aio.HealthServicer
    grpc_services: list[str] = field(default_factory=list)

    async def drain(self, grace: float) -> None:
        """Report NOT_SERVING, let in-flight RPCs finish within grace, then close resources."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        await self.context.close()


async def start_server(names: list[str], settings: Settings) -> RunningServer:
    specs: list[ServiceSpec] = resolve(names)
    require(settings, {s.name: s.needs for s in specs})
    context = ServiceContext(settings, [s.name for s in specs])
    server = grpc.aio.server(
        interceptors=[ErrorInterceptor()],
        options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 8 << 20)],
    )
    full_names: list[str] = []
    try:
        for spec in specs:
            full_names.extend(await spec.load()(server, context))
    except BaseException:
        await context.close()
        raise
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    for name in [*full_names, ""]:
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        [
            *full_names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    port = server.add_insecure_port(settings.listen)
    if port == 0:
        await context.close()
        raise SystemExit(f"cannot listen on {settings.listen}")
    await server.start()
    log.info("serving", services=[s.name for s in specs], grpc=full_names, port=port)
    return RunningServer(server, port, context, health, full_names)


async def serve_forever(names: list[str], settings: Settings) -> None:
    running = await start_server(names, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("draining", grace_seconds=settings.drain_seconds)
    await running.drain(settings.drain_seconds)
    log.info("stopped")
