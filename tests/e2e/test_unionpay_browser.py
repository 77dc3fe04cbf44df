"""A UnionPay `page` order paid by a real browser (Debian's headless Chromium, Playwright):
the merchant page renders `pay_data.form_html`, which posts the signed consume to the
sandbox's frontTransReq.do; the sandbox checks the signature and shows its payer page; the
payer pays there; UnionPay's signed backUrl notify settles the order through Envoy."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from paymesh.merchant.v1 import pay_service_pb2
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import eventually, out_no, query_order

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


@pytest.mark.parametrize("method", ["page", "h5"])
async def test_payer_submits_the_form_and_pays_on_the_sandbox_page(
    method: str, mesh: Mesh, merchant: Merchant, browser: Browser
) -> None:
    status, body = await merchant.post(
        "/v1/orders",
        {"out_trade_no": out_no(), "amount": 1234, "subject": "银联 browser", "method": method,
         "channel": "unionpay", "return_url": "https://shop.example/done"},
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
    finally:
        await page.close()

    async def paid() -> bool:
        return bool((await query_order(merchant, oid))["status"] == "PAID")

    await eventually(paid)
