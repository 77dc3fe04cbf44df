"""The reconciliation pages' edges over HTTP (the browser test covers the flow): bad days
refused, a console without `recon_target` says so, amounts shown in yuan."""

from __future__ import annotations

import aiohttp

from paymesh.console.recon_client import valid_day
from paymesh.money import yuan
from tests.console.conftest import ADMIN, RunningConsole, csrf_of, login


def test_yuan_and_days() -> None:
    assert [yuan(v) for v in (0, 5, 100, 123456, -5, -1234)] == [
        "0.00", "0.05", "1.00", "1234.56", "-0.05", "-12.34"
    ]  # fmt: skip
    assert valid_day("2026-12-03")
    assert not valid_day("2026-02-30")
    assert not valid_day("20261203")
    assert not valid_day("2026-12-03'")


async def test_without_recon_target_the_pages_say_so(console: RunningConsole) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await login(http, console.url, ADMIN)
        async with http.get(console.url + "/recon") as r:
            assert r.status == 502
            assert "recon_target is not configured" in await r.text()
        async with http.get(console.url + "/recon/settlement?date=2026-13-01") as r:
            assert r.status == 400
        async with http.get(console.url + "/recon/runs/wechat/a/2026-1-1") as r:
            assert r.status == 400
        async with http.get(console.url + "/audit") as r:
            csrf = csrf_of(await r.text())
        form = {"csrf_token": csrf, "account": "wechat", "date": "2026-12-01"}
        async with http.post(console.url + "/recon/run", data=form) as r:
            assert r.status == 400
            assert "choose a channel account" in await r.text()
        form = {"csrf_token": csrf, "action": "delete", "note": "x"}
        async with http.post(console.url + "/recon/mismatches/M1/resolve", data=form) as r:
            assert r.status == 400
