"""`paymesh serve`: any set of services in one grpc.aio server, with health, reflection,
the error interceptor, and a graceful drain on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from paymesh.runtime import tls, tracing
from paymesh.runtime.context import ServiceContext
from paymesh.runtime.interceptor import ErrorInterceptor
from paymesh.runtime.logging import get_logger
from paymesh.runtime.metrics_server import MetricsInterceptor, MetricsServer, start_metrics
from paymesh.runtime.registry import ServiceSpec, resolve
from paymesh.runtime.settings import Settings, require

log = get_logger("paymesh.server")
HEALTH_POLL_SECONDS = 0.5
METADATA_LIMIT = 64 << 10


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    context: ServiceContext
    health: health_aio.HealthServicer
    grpc_services: list[str] = field(default_factory=list)
    # The plaintext health-only server (settings.health_listen), if any.
    health_server: grpc.aio.Server | None = None
    health_port: int = 0
    watcher: asyncio.Task[None] | None = None
    # /metrics (settings.metrics_listen), if any.
    metrics: MetricsServer | None = None

    async def drain(self, grace: float) -> None:
        """Report NOT_SERVING, let in-flight RPCs finish within grace, then close resources."""
        if self.watcher is not None:
            self.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.watcher
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self.health_server is not None:
            await self.health_server.stop(0)
        if self.metrics is not None:
            await self.metrics.close()
        await self.context.close()
        if self.context.settings.otlp_endpoint:
            await asyncio.to_thread(tracing.disable)  # flushing blocks on the collector


async def start_server(names: list[str], settings: Settings) -> RunningServer:
    specs: list[ServiceSpec] = resolve(names)
    require(settings, {s.name: s.needs for s in specs})
    credentials = tls.server_credentials(settings)  # fails fast on a partial TLS setup
    context = ServiceContext(settings, [s.name for s in specs])
    if settings.otlp_endpoint:
        tracing.enable(settings.otlp_endpoint, "paymesh-" + "-".join(s.name for s in specs[1:]))
    server = grpc.aio.server(
        interceptors=[*tracing.server_interceptors(), MetricsInterceptor(), ErrorInterceptor()],
        options=[
            ("grpc.so_reuseport", int(settings.reuse_port)),
            ("grpc.max_receive_message_length", 8 << 20),
            # Envoy passes up to 60 KiB of request headers (provider callbacks arrive with
            # theirs as metadata). gRPC's default 8 KiB soft limit rejects bigger metadata at
            # random (a 429 RESOURCE_EXHAUSTED); one deterministic limit above Envoy's instead.
            ("grpc.max_metadata_size", METADATA_LIMIT),
            ("grpc.absolute_max_metadata_size", METADATA_LIMIT),
        ],
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
    if credentials is None:
        port = server.add_insecure_port(settings.listen)
    else:
        port = server.add_secure_port(settings.listen, credentials)
    if port == 0:
        await context.close()
        raise SystemExit(f"cannot listen on {settings.listen}")
    health_server, health_port = None, 0
    if settings.health_listen:
        health_server = grpc.aio.server(options=[("grpc.so_reuseport", int(settings.reuse_port))])
        health_pb2_grpc.add_HealthServicer_to_server(health, health_server)
        health_port = health_server.add_insecure_port(settings.health_listen)
        if health_port == 0:
            await context.close()
            raise SystemExit(f"cannot listen on {settings.health_listen}")
        await health_server.start()
    metrics_server = None
    if settings.metrics_listen:
        try:
            metrics_server = await start_metrics(settings.metrics_listen)
        except BaseException:
            if health_server is not None:
                await health_server.stop(0)
            await context.close()
            raise
    await server.start()
    log.info(
        "serving",
        services=[s.name for s in specs],
        grpc=full_names,
        port=port,
        tls="mutual" if settings.tls_ca_file else ("server" if credentials else "off"),
        health_port=health_port or None,
        pid=os.getpid(),
        metrics_url=metrics_server.url if metrics_server else None,
    )
    running = RunningServer(server, port, context, health, full_names, health_server, health_port)
    running.metrics = metrics_server
    if context.serving_conditions:
        running.watcher = asyncio.create_task(
            _watch_health(context, health, full_names), name="health-watch"
        )
    return running


async def _watch_health(
    context: ServiceContext, health: health_aio.HealthServicer, names: list[str]
) -> None:
    """NOT_SERVING while a serving condition fails (no worker-id lease), SERVING again after."""
    serving = True
    while True:
        await asyncio.sleep(HEALTH_POLL_SECONDS)
        now = context.serving()
        if now == serving:
            continue
        serving = now
        status = health_pb2.HealthCheckResponse.SERVING if now else (
            health_pb2.HealthCheckResponse.NOT_SERVING)  # fmt: skip
        failing = [n for n, holds in context.serving_conditions.items() if not holds()]
        log.warning("health_changed", serving=now, failing=failing)
        for name in [*names, ""]:
            await health.set(name, status)


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
