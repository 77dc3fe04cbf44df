"""Supervision pages (filled in by the supervision step)."""

from __future__ import annotations

from aiohttp import web

from paymesh.console.web import html_page


async def ops_index(request: web.Request) -> web.StreamResponse:
    return html_page(request, "Supervision", "<p>Nothing here yet.</p>")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/ops", ops_index)
