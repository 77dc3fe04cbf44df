"""The cashier in each wallet's browser (Debian's Chromium, a phone's viewport, the wallet's
User-Agent): open it from the order's code_url, OAuth at the sandbox, pay in the wallet,
see the result; the merchant is notified once."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Browser

from tests.e2e.cashier_helpers import browser, cashier_order, notifications, phone, screenshot
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import eventually, query_order

__all__ = ["browser"]


async def test_wechat_pays_after_silent_oauth(
    mesh: Mesh, merchant: Merchant, browser: Browser
) -> None:
    order = await cashier_order(mesh, merchant, 1234)
    oid = order["order_id"]
    code_url = order["pay_data"]["code_url"]
    assert order["method"] == "cashier"
    assert order["channel"] == ""
    assert code_url == order["pay_data"]["pay_url"]
    assert code_url.startswith(f"{mesh.edge_url}/cashier/o/")
    ctx = await phone(browser, "wechat")
    page = await ctx.new_page()
    try:
        seen: list[str] = []
        page.on("request", lambda r: seen.append(r.url) if r.is_navigation_request() else None)
        await page.goto(code_url)
        # WeChat's silent OAuth at the sandbox, then back with the code: the pay button
        assert any(
            "/connect/oauth2/authorize?appid=" in u and "scope=snsapi_base" in u for u in seen
        )
        assert "code=" in page.url
        assert "state=" in page.url
        await page.wait_for_selector("button.pay.wechat")
        assert "¥12.34" in await page.inner_text("body")
        await screenshot(page, mesh, "wechat-confirm")
        # nothing exists at WeChat before the payer commits
        assert (await query_order(merchant, oid))["channel"] == ""
        await page.click("button.pay.wechat")
        # WeChat's pay sheet (the sandbox's WeixinJSBridge) for the signed JSAPI parameters
        await page.wait_for_selector("#sandbox-wechat-sheet .sheet-pay")
        assert "¥12.34" in await page.inner_text("#sandbox-wechat-sheet")
        await screenshot(page, mesh, "wechat-sheet")
        await page.click("#sandbox-wechat-sheet .sheet-pay")
        await page.wait_for_selector(".result[data-status=PAID]", timeout=15000)
        assert "支付成功" in await page.inner_text("body")
        await screenshot(page, mesh, "wechat-paid")
    finally:
        await ctx.close()
    paid = await query_order(merchant, oid)
    assert (paid["status"], paid["channel"], paid["method"]) == ("PAID", "wechat", "cashier")
    assert paid["pay_data"]["code_url"] == code_url  # the merchant's view is the cashier link

    async def notified() -> bool:
        return bool(notifications(mesh, oid))

    await eventually(notified, within=20)
    await asyncio.sleep(1.0)  # a second notification would have come by now
    (note,) = notifications(mesh, oid)
    assert (note["event_type"], str(note["amount"]), note["channel"]) == (
        "order.paid",
        "1234",
        "wechat",
    )


async def test_alipay_pays_with_jsapi_after_silent_oauth(
    mesh: Mesh, merchant: Merchant, browser: Browser
) -> None:
    order = await cashier_order(mesh, merchant, 1888)
    oid = order["order_id"]
    ctx = await phone(browser, "alipay")
    page = await ctx.new_page()
    try:
        seen: list[str] = []
        page.on("request", lambda r: seen.append(r.url) if r.is_navigation_request() else None)
        await page.goto(order["pay_data"]["code_url"])
        # Alipay's silent OAuth (auth_base) at the sandbox, back with the auth_code
        assert any("/oauth2/publicAppAuthorize.htm?app_id=" in u for u in seen)
        assert any("scope=auth_base" in u for u in seen)
        assert "auth_code=" in page.url
        await page.wait_for_selector("button.pay.alipay")
        assert "¥18.88" in await page.inner_text("body")
        await screenshot(page, mesh, "alipay-confirm")
        assert (await query_order(merchant, oid))["channel"] == ""
        await page.click("button.pay.alipay")
        # alipay.trade.create for this buyer, then Alipay's pay sheet (the sandbox's bridge)
        await page.wait_for_selector("#sandbox-alipay-sheet .sheet-pay")
        assert "¥18.88" in await page.inner_text("#sandbox-alipay-sheet")
        await screenshot(page, mesh, "alipay-sheet")
        await page.click("#sandbox-alipay-sheet .sheet-pay")
        await page.wait_for_selector(".result[data-status=PAID]", timeout=15000)
        await screenshot(page, mesh, "alipay-paid")
    finally:
        await ctx.close()
    paid = await query_order(merchant, oid)
    assert (paid["status"], paid["channel"]) == ("PAID", "alipay")

    async def notified() -> bool:
        return bool(notifications(mesh, oid))

    await eventually(notified, within=20)
    await asyncio.sleep(1.0)
    (note,) = notifications(mesh, oid)
    assert (note["event_type"], note["channel"]) == ("order.paid", "alipay")


@pytest.mark.parametrize("wallet", ["unionpay", "alipay-wap"])
async def test_pages_the_payer_completes_in_a_browser(
    wallet: str, mesh: Mesh, merchant: Merchant, browser: Browser
) -> None:
    """UnionPay QuickPass's browser pays with the gateway page (frontTransReq); a plain
    phone browser gets the chooser and pays with Alipay wap there. Both come back to the
    cashier's result page."""
    channel = wallet.split("-")[0]
    order = await cashier_order(mesh, merchant, 2501)
    oid = order["order_id"]
    ctx = await phone(browser, "unionpay" if wallet == "unionpay" else None)
    page = await ctx.new_page()
    try:
        await page.goto(order["pay_data"]["code_url"])
        await page.wait_for_selector(f"button.pay.{channel}")
        assert "¥25.01" in await page.inner_text("body")
        if wallet == "alipay-wap":  # the chooser: a QR code per wallet
            walleted = await page.eval_on_selector_all(
                ".qr figure", "fs => fs.map(f => f.dataset.wallet)"
            )
            assert walleted == ["wechat", "alipay", "unionpay"]
            assert await page.locator(".qr svg").count() == 3
        name = "chooser" if wallet == "alipay-wap" else f"{wallet}-confirm"
        await screenshot(page, mesh, name, full_page=True)
        assert (await query_order(merchant, oid))["channel"] == ""
        await page.click(f"button.pay.{channel}")
        # the provider's own pay page (the sandbox's)
        await page.wait_for_url(f"**/_sandbox/pay/{channel}/{oid}*")
        assert "25.01" in await page.content()
        await page.click("button.pay")
        await page.wait_for_selector("text=Paid at")
        await page.click(".return")
        await page.wait_for_selector(".result[data-status=PAID]", timeout=15000)
        assert "/cashier/o/" in page.url
        if wallet == "unionpay":
            await screenshot(page, mesh, f"{wallet}-paid")
    finally:
        await ctx.close()
    paid = await query_order(merchant, oid)
    assert (paid["status"], paid["channel"]) == ("PAID", channel)

    async def notified() -> bool:
        return bool(notifications(mesh, oid))

    await eventually(notified, within=20)
    await asyncio.sleep(1.0)
    (note,) = notifications(mesh, oid)
    assert (note["event_type"], note["channel"]) == ("order.paid", channel)
