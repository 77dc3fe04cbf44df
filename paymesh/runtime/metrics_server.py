"""`/metrics` on the ``metrics_listen`` address, and the gRPC server interceptor that times
every RPC (latency histogram by method, count by method and status code)."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import grpc
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from paymesh.runtime import metrics
from paymesh.runtime.logging import get_logger

if TYPE_CHECKING:
    from aiohttp import web

log = get_logger("paymesh.metrics")

Handler = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]
_OK = grpc.StatusCode.OK.name
_UNKNOWN = grpc.StatusCode.UNKNOWN.name


def _timed(method: str, inner: Handler) -> Handler:
    seconds = metrics.RPC_SECONDS.labels(method)
    counts: dict[str, Any] = {}

    def count(code: str) -> None:
        child = counts.get(code)
        if child is None:
            child = counts[code] = metrics.RPC_TOTAL.labels(method, code)
        child.inc()

    async def handle(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        started = time.perf_counter()
        code = _OK
        try:
            return await inner(request, context)
        except BaseException:
            status = context.code()
            code = status.name if isinstance(status, grpc.StatusCode) else _UNKNOWN
            raise
        finally:
            seconds.observe(time.perf_counter() - started)
            count(code)

    return handle


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Outermost interceptor: sees the status the error interceptor set."""

    def __init__(self) -> None:
        self._handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler  # unknown methods never become a label
        method = handler_call_details.method
        inner = cast(Handler, handler.unary_unary)
        return grpc.unary_unary_rpc_method_handler(
            _timed(method, inner),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


async def _metrics(_request: web.Request) -> web.Response:
    from aiohttp import web

    return web.Response(
        body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


def listen_address(listen: str, env: dict[str, str] | None = None) -> tuple[str, int]:
    """host, port of ``metrics_listen``; worker N of `paymesh serve --workers` adds N to a
    fixed port (each worker serves its own counters)."""
    host, _, port_text = listen.rpartition(":")
    port = int(port_text)
    index = int((env if env is not None else os.environ).get("PAYMESH_WORKER_INDEX", "0") or 0)
    if port and index:
        port += index
    return host.strip("[]") or "0.0.0.0", port  # noqa: S104 (an operator's setting)


class MetricsServer:
    """aiohttp on the service's own event loop: GET /metrics (Prometheus text format)."""

    def __init__(self, runner: web.AppRunner, port: int, host: str) -> None:
        self.runner = runner
        self.port = port
        self.host = host

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_metrics(listen: str) -> MetricsServer:
    from aiohttp import web  # only processes that serve metrics pay for importing it

    host, port = listen_address(listen)
    app = web.Application()
    app.router.add_get("/metrics", _metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        raise SystemExit(f"cannot serve metrics on {host}:{port}: {e}") from e
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    log.info("metrics_serving", host=host, port=bound)
    return MetricsServer(runner, bound, host)


__all__ = ["MetricsInterceptor", "MetricsServer", "listen_address", "start_metrics"]
