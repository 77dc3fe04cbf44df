"""A UnionPay `page` order paid by a real browser (Debian's headless Chromium, Playwright):
the merchant page renders `pay_data.form_html`, which posts the signed consume to the
sandbox's frontTransReq.do; the sandbox checks the signature and shows its payer page; the
payer pays there; UnionPay's signed backUrl notify settles the order through Envoy."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, async_playwright

from paymesh.channels.unionpay import sign
from paymesh.merchant.v1 import pay_service_pb2
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import eventually, out_no, query_order, sandbox

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def shop() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """The shop's return page (frontUrl): records the form UnionPay's page posts to it."""
    got: list[dict[str, str]] = []

    async def done(request: web.Request) -> web.Response:
        got.append({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        return web.Response(text="<p>thanks</p>", content_type="text/html")

    app = web.Application()
    app.router.add_post("/done", done)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/done", got
    await runner.cleanup()


@pytest.mark.parametrize("method", ["page", "h5"])
async def test_payer_submits_the_form_and_pays_on_the_sandbox_page(
    method: str,
    mesh: Mesh,
    merchant: Merchant,
    browser: Browser,
    http: aiohttp.ClientSession,
    shop: tuple[str, list[dict[str, str]]],
) -> None:
    front_url, returned = shop
    status, body = await merchant.post(
        "/v1/orders",
        {"out_trade_no": out_no(), "amount": 1234, "subject": "银联 browser", "method": method,
         "channel": "unionpay", "return_url": front_url},
        pay_service_pb2.CreateOrderRequest,
    )  # fmt: skip
    assert status == 200, body
    oid = body["order"]["order_id"]
    page = await browser.new_page()
    try:
        # the merchant's page embeds the form; it submits itself to UnionPay (the sandbox)
        await page.set_content(body["order"]["pay_data"]["form_html"])
        await page.wait_for_url(f"**/_sandbox/pay/unionpay/{oid}*")
        assert "12.34" in await page.content()
        assert await page.locator(".state").inner_text() == "PENDING"
        await page.click("button.pay")
        await page.wait_for_selector("text=Paid at")
        # back to the shop: the signed result is posted to frontUrl (前台通知)
        await page.click("button.return")
        await page.wait_for_selector("text=thanks")
    finally:
        await page.close()
    (front,) = returned
    roots = await sandbox(http, mesh.sandbox_url, "/_sandbox/unionpay/trust-roots")
    sign.verify_message(
        front,
        sign.load_certificates(roots["root_cert_pem"]),
        sign.load_certificates(roots["middle_cert_pem"]),
        dt.datetime.now(dt.UTC),
    )
    assert (front["orderId"], front["respCode"], front["txnAmt"]) == (oid, "00", "1234")

    async def paid() -> bool:
        return bool((await query_order(merchant, oid))["status"] == "PAID")

    await eventually(paid)
