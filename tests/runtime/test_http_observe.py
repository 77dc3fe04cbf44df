"""The cashier's and console's HTTP middleware on a real aiohttp server: every answer is
timed and counted by route pattern and status class; raw paths never become label values."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from paymesh.runtime.http_observe import observed
from paymesh.testing.ports import free_port

SERVER = "cashier"


async def page(request: web.Request) -> web.Response:
    return web.Response(text=request.match_info["token"])


async def moved(_request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/elsewhere")


async def broken(_request: web.Request) -> web.Response:
    raise RuntimeError("a bug")


@pytest.fixture
async def base() -> AsyncIterator[str]:
    app = web.Application(middlewares=[observed(SERVER)])
    app.router.add_get("/t/o/{token}", page)
    app.router.add_post("/t/o/{token}/pay", moved)
    app.router.add_get("/t/broken", broken)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def count(route: str, code: str) -> float:
    labels = {"server": SERVER, "route": route, "code": code}
    return REGISTRY.get_sample_value("paymesh_http_requests_total", labels) or 0.0


def timed(route: str) -> float:
    labels = {"server": SERVER, "route": route}
    return REGISTRY.get_sample_value("paymesh_http_request_duration_seconds_count", labels) or 0


async def test_answers_are_counted_by_route_pattern_and_status_class(base: str) -> None:
    routes = ["/t/o/{token}", "/t/o/{token}/pay", "/t/broken", "unmatched"]
    before = {(r, c): count(r, c) for r in routes for c in ("2xx", "3xx", "4xx", "5xx")} | {
        (r, "timed"): timed(r) for r in routes
    }
    tokens = [secrets.token_urlsafe(12) for _ in range(5)]
    async with aiohttp.ClientSession() as http:
        for token in tokens:
            async with http.get(f"{base}/t/o/{token}") as r:
                assert r.status == 200
        async with http.post(f"{base}/t/o/{tokens[0]}/pay", allow_redirects=False) as r:
            assert r.status == 303
        async with http.get(f"{base}/t/broken") as r:
            assert r.status == 500
        async with http.get(f"{base}/nowhere/{tokens[1]}") as r:
            assert r.status == 404

    def moved_by(route: str, code: str) -> float:
        return count(route, code) - before[(route, code)]

    assert moved_by("/t/o/{token}", "2xx") == 5
    assert moved_by("/t/o/{token}/pay", "3xx") == 1
    assert moved_by("/t/broken", "5xx") == 1
    assert moved_by("unmatched", "4xx") == 1
    assert timed("/t/o/{token}") - before[("/t/o/{token}", "timed")] == 5
    values = {
        v
        for family in REGISTRY.collect()
        if family.name.startswith("paymesh_http_")
        for s in family.samples
        for v in s.labels.values()
    }
    assert not values & set(tokens), "a token became a label value"
