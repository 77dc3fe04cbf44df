"""The console's aiohttp application: the routes of `web` (login, audit, schemas) and of
the views (`views_config`, `views_ops`, `views_recon`), which build on `web`'s request helpers."""

from __future__ import annotations

from aiohttp import web

from paymesh.console import views_config, views_ops, views_recon
from paymesh.console.web import (
    CONSOLE,
    Console,
    audit_page,
    front,
    healthz,
    login,
    logout,
    require_session,
    schema_list,
    security_headers,
)
from paymesh.runtime.http_observe import observed


def build_app(console: Console) -> web.Application:
    app = web.Application(
        middlewares=[observed("console"), security_headers, require_session],
        client_max_size=1024 * 1024,
    )
    app[CONSOLE] = console
    app.router.add_get("/", front)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/audit", audit_page)
    app.router.add_get("/schemas", schema_list)
    views_config.add_routes(app)
    views_ops.add_routes(app)
    views_recon.add_routes(app)

    async def close(_app: web.Application) -> None:
        await console.tester.aclose()

    app.on_cleanup.append(close)
    return app


__all__ = ["build_app"]
