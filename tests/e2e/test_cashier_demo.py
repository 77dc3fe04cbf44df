"""`make dev`'s cashier demo: an order made through the edge, "scanned" at the sandbox's
wallet page as each wallet by an ordinary browser (the sandbox names the wallet, plays its
OAuth and serves its bridge), paid, settled."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from paymesh.dev.cashier_demo import cashier_demo
from tests.e2e.cashier_helpers import browser, phone, screenshot
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import eventually, query_order

__all__ = ["browser"]


@pytest.mark.parametrize("wallet", ["wechat", "alipay", "unionpay"])
async def test_the_demo_order_scanned_at_the_sandbox_as_each_wallet(
    wallet: str, mesh: Mesh, merchant: Merchant, browser: Browser
) -> None:
    demo = await cashier_demo(mesh.edge_url, mesh.sandbox_url, mesh.app, mesh.notify_url)
    assert demo["code_url"].startswith(f"{mesh.edge_url}/cashier/o/")
    assert demo["static_url"].startswith(f"{mesh.edge_url}/cashier/s/")
    ctx = await phone(browser, None)  # an ordinary browser: the sandbox says which wallet
    page = await ctx.new_page()
    try:
        await page.goto(demo["scan_order"]["qr_page"])
        assert await page.locator(".qr svg").count() == 1
        if wallet == "wechat":
            await screenshot(page, mesh, "sandbox-scan", full_page=True)
        await page.click(f"a.scan[data-wallet={wallet}]")
        await page.click(f"button.pay.{wallet}")
        if wallet == "unionpay":
            await page.click("button.pay")  # UnionPay's page at the sandbox
            await page.click(".return")
        else:
            await page.click(f"#sandbox-{wallet}-sheet .sheet-pay")
        await page.wait_for_selector(".result[data-status=PAID]", timeout=15000)
    finally:
        await ctx.close()

    async def paid() -> bool:
        order = await query_order(merchant, demo["order_id"])
        return bool((order["status"], order["channel"]) == ("PAID", wallet))

    await eventually(paid, within=20)
