"""A read-only config view for `make dev`: apps and channel accounts with secrets masked,
and the JSON Schemas the ops console's forms are generated from. Editing, login, CSRF and
the audit log belong to the ops console proper."""

from __future__ import annotations

import html
import json

from aiohttp import web

from paymesh.config.registry import channels, schemas
from paymesh.config.repository import ConfigRepository, public_view


def console_app(repo: ConfigRepository) -> web.Application:
    async def page(_request: web.Request) -> web.Response:
        sections = []
        apps = [public_view(a) for a in await repo.list_apps()]
        sections.append(("Apps", apps))
        for channel in channels():
            accounts = [public_view(a) for a in await repo.list_channel_accounts(channel)]
            sections.append((f"{channel} accounts", accounts))
        body = "".join(
            f"<h2>{html.escape(title)}</h2>"
            + "".join(
                f"<pre>{html.escape(json.dumps(item, indent=2, ensure_ascii=False))}</pre>"
                for item in items
            )
            for title, items in sections
        )
        return web.Response(
            text="<!doctype html><meta charset=utf-8><title>paymesh config</title>"
            f"<h1>paymesh config (read-only)</h1><p><a href=schemas>JSON Schemas</a></p>{body}",
            content_type="text/html",
        )

    async def schema_list(_request: web.Request) -> web.Response:
        return web.json_response(schemas())

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/schemas", schema_list)
    return app
