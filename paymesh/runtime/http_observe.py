"""One aiohttp middleware for paymesh's own HTTP servers (the cashier, the console): each
request is counted and timed by route pattern and status class (`paymesh_http_*`), and runs
in a server span that continues the caller's W3C traceparent (Envoy's), so the gRPC calls it
makes carry the trace on. Labels are route patterns (`/cashier/o/{token}`), never raw paths:
tokens and ids do not become series."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from paymesh.runtime import metrics, tracing

if TYPE_CHECKING:
    from opentelemetry.trace import SpanKind


UNMATCHED = "unmatched"


def route_of(request: web.Request) -> str:
    """The matched route's pattern, or "unmatched" (404s for paths no route knows)."""
    info = request.match_info
    route = getattr(info, "route", None)
    resource = route.resource if route is not None else None
    if resource is None:
        return UNMATCHED
    return str(resource.canonical)


def observed(server: str) -> Middleware:
    """The middleware for the server named `server` (a bounded label: cashier, console)."""

    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = route_of(request)
        started = time.perf_counter()
        status = 500
        with tracing.span(
            f"{request.method} {route}",
            parent=tracing.extract(request.headers),
            kind=_server_kind(),
            attributes={"http.request.method": request.method, "http.route": route},
        ):
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as e:  # redirects and refusals are answers too
                status = e.status
                raise
            finally:
                metrics.child(metrics.HTTP_SECONDS, server, route).observe(
                    time.perf_counter() - started
                )
                metrics.child(metrics.HTTP_TOTAL, server, route, metrics.http_class(status)).inc()

    return observe


def _server_kind() -> SpanKind | None:
    if not tracing.enabled():
        return None
    from opentelemetry.trace import SpanKind

    return SpanKind.SERVER


__all__ = ["UNMATCHED", "observed", "route_of"]
