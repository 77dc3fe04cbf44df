"""A demo merchant for `make dev`: receives paymesh notifications, verifies them, shows them.

POST /notify   verifies the signature with the demo app's secret and answers `SUCCESS`
GET  /         an HTML page listing what arrived (newest first)
GET  /notifications  the same as JSON
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from paymesh.core.signing import canonical_from_mapping, verify
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.dev.merchant")


@dataclass
class Received:
    at: str
    verified: bool
    body: dict[str, Any]


@dataclass
class DemoMerchant:
    sign_type: str
    secret: str
    received: list[Received] = field(default_factory=list)

    async def notify(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return web.Response(status=400, text="FAIL: not JSON")
        ok = isinstance(body, dict) and verify(
            canonical_from_mapping(body), self.sign_type, str(body.get("sign", "")), self.secret
        )
        self.received.append(Received(datetime.now(UTC).isoformat(), ok, body))
        log.info("notification", event_type=body.get("event_type"), verified=ok)
        if not ok:
            return web.Response(status=401, text="FAIL: bad signature")
        return web.Response(text="SUCCESS")

    async def page(self, _request: web.Request) -> web.Response:
        rows = "".join(
            f"<tr><td>{html.escape(r.at)}</td><td>{'yes' if r.verified else 'NO'}</td>"
            f"<td>{html.escape(str(r.body.get('event_type', '')))}</td>"
            f"<td><code>{html.escape(json.dumps(r.body, ensure_ascii=False))}</code></td></tr>"
            for r in reversed(self.received)
        )
        page = (
            "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=2>"
            "<title>paymesh demo merchant</title><h1>Notifications received</h1>"
            "<table border=1 cellpadding=4><tr><th>at</th><th>signature ok</th><th>event</th>"
            f"<th>body</th></tr>{rows or '<tr><td colspan=4>none yet</td></tr>'}</table>"
        )
        return web.Response(text=page, content_type="text/html")

    async def list_json(self, _request: web.Request) -> web.Response:
        return web.json_response(
            [{"at": r.at, "verified": r.verified, "body": r.body} for r in self.received]
        )

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/notify", self.notify)
        app.router.add_get("/", self.page)
        app.router.add_get("/notifications", self.list_json)
        return app
