"""The cashier's rules, in a phone's browser: a tampered link or an expired order shows a
clear page and creates nothing; the static counter code creates the order from the amount
the payer enters; switching wallets never leaves two trades that took money."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import aiohttp
import sqlalchemy as sa
from playwright.async_api import Browser
from pydantic import SecretStr

from paymesh.config.apps import AppConfig, RouteTarget, SignType
from paymesh.core.cashier import static_url
from paymesh.core.db.models import ChannelRequest, PayOrder
from paymesh.dev.seed import UNIONPAY_ACCOUNT, WECHAT_ACCOUNT, DemoApp, seed_app
from paymesh.merchant.v1 import pay_service_pb2
from paymesh.runtime.clock import utcnow
from tests.e2e.cashier_helpers import browser, cashier_order, notifications, phone, screenshot
from tests.e2e.client import Merchant, reason
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import eventually, out_no, query_order, sandbox

__all__ = ["browser"]


def _flip(url: str, at: int) -> str:
    """The URL with one character of its token changed."""
    i = len(url) - at
    return url[:i] + ("A" if url[i] != "A" else "B") + url[i + 1 :]


async def _trades(http: aiohttp.ClientSession, mesh: Mesh, oid: str) -> list[dict[str, Any]]:
    listed = await sandbox(http, mesh.sandbox_url, "/_sandbox/trades")
    return [t for t in listed["trades"] if t["out_trade_no"] == oid]


async def _count(mesh: Mesh, table: Any, *where: Any) -> int:
    store = await mesh.store()
    async with store.engine.connect() as c:
        stmt = sa.select(sa.func.count()).select_from(table).where(*where)
        return int((await c.execute(stmt)).scalar_one())


async def _cashier_orders(mesh: Mesh, app_id: str) -> int:
    return await _count(mesh, PayOrder, PayOrder.app_id == app_id, PayOrder.method == "cashier")


async def _queries(mesh: Mesh, order_id: str) -> int:
    """Channel Query calls made for the order (every call is in the channel log)."""
    where = (ChannelRequest.object_id == order_id, ChannelRequest.rpc == "Query")
    return await _count(mesh, ChannelRequest, *where)


async def test_tampered_links_and_expired_orders_show_a_page_and_create_nothing(
    mesh: Mesh, merchant: Merchant, browser: Browser, http: aiohttp.ClientSession
) -> None:
    order = await cashier_order(mesh, merchant, 300)
    oid, url = order["order_id"], order["pay_data"]["code_url"]
    short = await cashier_order(mesh, merchant, 400, expire_seconds=1)
    ctx = await phone(browser, "wechat")
    page = await ctx.new_page()
    try:
        for at in (1, 5, 30, len(url.split("/o/")[1]) - 1):
            answer = await page.goto(_flip(url, at))
            assert answer is not None
            assert answer.status == 400
            assert await page.get_attribute(".problem", "data-problem") == "invalid"
            assert "链接无效" in await page.inner_text("body")
            assert "/cashier/o/" in page.url  # no OAuth redirect: nothing was started
        await screenshot(page, mesh, "invalid-link")
        # a tampered commit is refused too
        pay = await page.request.post(_flip(url, 3) + "/pay", form={"wallet": "alipay"})
        assert pay.status == 400
        await asyncio.sleep(1.2)
        answer = await page.goto(short["pay_data"]["code_url"])
        assert answer is not None
        assert answer.status == 410
        assert "订单已过期" in await page.inner_text("body")
        await screenshot(page, mesh, "expired")
    finally:
        await ctx.close()
    for o in (oid, short["order_id"]):
        assert (await query_order(merchant, o))["channel"] == ""
        assert await _trades(http, mesh, o) == []
    # a static code with a changed character creates no order
    before = await _cashier_orders(mesh, mesh.app.app_id)
    static = static_url(mesh.edge_url, mesh.app.app_id, utcnow() + timedelta(days=1))
    async with http.post(_flip(static, 4), data={"amount": "9.99"}) as r:
        assert r.status == 400
        assert 'data-problem="invalid"' in await r.text()
    assert await _cashier_orders(mesh, mesh.app.app_id) == before


async def _app_visible(http: aiohttp.ClientSession, url: str) -> bool:
    async with http.get(url) as r:
        return r.status == 200


async def test_the_static_code_takes_the_amount_the_payer_enters(
    mesh: Mesh, browser: Browser, http: aiohttp.ClientSession
) -> None:
    # a shop whose counter orders notify its default notify_url (same secret as the demo's)
    shop = await seed_app(
        mesh.repo,
        app_id=f"counter-{mesh.backend[:6]}",
        secret=mesh.app.secret,
        notify_url=mesh.notify_url,
        unionpay_account=UNIONPAY_ACCOUNT,
    )
    static = static_url(mesh.edge_url, shop.app_id, utcnow() + timedelta(days=1))
    ctx = await phone(browser, "wechat")
    page = await ctx.new_page()
    try:
        await eventually(lambda: _app_visible(http, static))
        await page.goto(static)
        await page.fill("#amount", "0")
        await page.click("button.pay")
        assert "请输入大于 0 的金额" in await page.inner_text("body")
        await page.fill("#amount", "8.88")
        await screenshot(page, mesh, "static-amount")
        await page.click("button.pay")
        # the order exists now; WeChat's OAuth, then the pay button for ¥8.88
        await page.wait_for_selector("button.pay.wechat")
        assert "¥8.88" in await page.inner_text("body")
        await page.click("button.pay.wechat")
        await page.click("#sandbox-wechat-sheet .sheet-pay")
        await page.wait_for_selector(".result[data-status=PAID]", timeout=15000)
        oid = await page.inner_text(".result .muted")
    finally:
        await ctx.close()
    oid = oid.split()[-1]
    paid = await query_order(mesh.merchant(http, shop), oid)
    assert (paid["status"], paid["amount"], paid["method"]) == ("PAID", "888", "cashier")
    assert paid["metadata"] == {"cashier": "static"}

    async def notified() -> bool:
        return bool(notifications(mesh, oid))

    await eventually(notified, within=20)


async def test_switching_wallets_never_leaves_two_paid_trades(
    mesh: Mesh, merchant: Merchant, browser: Browser, http: aiohttp.ClientSession
) -> None:
    order = await cashier_order(mesh, merchant, 777)
    oid, url = order["order_id"], order["pay_data"]["code_url"]
    wechat = await phone(browser, "wechat")
    alipay = await phone(browser, "alipay")
    try:
        # WeChat: commit, then cancel the pay sheet; the JSAPI trade exists at WeChat
        wx = await wechat.new_page()
        await wx.goto(url)
        await wx.click("button.pay.wechat")
        await wx.click("#sandbox-wechat-sheet .sheet-cancel")
        await wx.wait_for_selector("#again:not([hidden])")
        assert "已取消支付" in await wx.inner_text("#msg")
        (trade,) = await _trades(http, mesh, oid)
        assert (trade["channel"], trade["status"]) == ("wechat", "PENDING")
        # the payer switches to Alipay: the WeChat trade is closed before Alipay's starts
        ali = await alipay.new_page()
        await ali.goto(url)
        await ali.click("button.pay.alipay")
        await ali.wait_for_selector("#sandbox-alipay-sheet .sheet-pay")
        states = {t["channel"]: t["status"] for t in await _trades(http, mesh, oid)}
        assert states == {"wechat": "CLOSED", "alipay": "PENDING"}
        # the WeChat page's "try again" can no longer take money
        await wx.click("#again")
        await wx.wait_for_selector("#msg.error")
        assert "get_brand_wcpay_request:fail" in await wx.inner_text("#msg")
        # nor can the payer go back to WeChat: its trade for this order is closed for good
        answer = await wx.goto(url)
        assert answer is not None
        await wx.click("button.pay.wechat")
        assert await wx.get_attribute(".problem", "data-problem") == "busy"
        await ali.click("#sandbox-alipay-sheet .sheet-pay")
        await ali.wait_for_selector(".result[data-status=PAID]", timeout=15000)
    finally:
        await wechat.close()
        await alipay.close()
    states = {t["channel"]: t["status"] for t in await _trades(http, mesh, oid)}
    assert states == {"wechat": "CLOSED", "alipay": "PAID"}

    async def paid() -> bool:
        return bool((await query_order(merchant, oid))["status"] == "PAID")

    await eventually(paid, within=20)
    assert (await query_order(merchant, oid))["channel"] == "alipay"
    await eventually(lambda: _one(notifications(mesh, oid)), within=20)
    await asyncio.sleep(1.0)
    assert len(notifications(mesh, oid)) == 1


async def _one(items: list[Any]) -> bool:
    return len(items) == 1


async def test_a_page_the_payer_may_still_complete_blocks_a_switch(
    mesh: Mesh, merchant: Merchant, browser: Browser, http: aiohttp.ClientSession
) -> None:
    """UnionPay's signed form (and Alipay's wap URL) can be paid until it expires, whatever a
    close says: a switch inside that window is refused, and nothing else is created."""
    order = await cashier_order(mesh, merchant, 555)
    oid, url = order["order_id"], order["pay_data"]["code_url"]
    plain = await phone(browser, None)
    wechat = await phone(browser, "wechat")
    try:
        page = await plain.new_page()
        await page.goto(url)
        await page.click("button.pay.unionpay")
        await page.wait_for_url(f"**/_sandbox/pay/unionpay/{oid}*")
        wx = await wechat.new_page()
        await wx.goto(url)
        await wx.click("button.pay.wechat")
        assert await wx.get_attribute(".problem", "data-problem") == "busy"
        assert [t["channel"] for t in await _trades(http, mesh, oid)] == ["unionpay"]
        await page.click("button.pay")
        await page.wait_for_selector("text=Paid at")
    finally:
        await plain.close()
        await wechat.close()

    async def paid() -> bool:
        return bool((await query_order(merchant, oid))["status"] == "PAID")

    await eventually(paid, within=20)
    assert (await query_order(merchant, oid))["channel"] == "unionpay"


async def test_an_app_routing_no_wallet_gets_no_cashier_order(
    mesh: Mesh, http: aiohttp.ClientSession
) -> None:
    app = AppConfig(
        app_id=f"qr-only-{mesh.backend[:6]}",
        name="QR only",
        sign_type=SignType.HMAC_SHA256,
        secret=SecretStr(mesh.app.secret),
        routes={"qr": RouteTarget(channel="wechat", account_id=WECHAT_ACCOUNT)},
    )
    await mesh.repo.put_app(app)
    shop = mesh.merchant(http, DemoApp(app.app_id, "HMAC-SHA256", mesh.app.secret))
    body = {"out_trade_no": out_no("n"), "amount": 5, "subject": "s", "method": "cashier"}

    async def refused() -> bool:
        status, answer = await shop.post("/v1/orders", body, pay_service_pb2.CreateOrderRequest)
        return status == 400 and reason(answer) == "CHANNEL_NOT_ENABLED"

    await eventually(refused)
    assert await _cashier_orders(mesh, app.app_id) == 0


async def test_two_wallets_committing_at_once_bind_the_order_once(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    """Two payers (or tabs) press pay in different wallets at the same moment: one
    conditional bind wins, the other is told the order is being paid."""
    for _ in range(5):
        order = await cashier_order(mesh, merchant, 123)
        pay = order["pay_data"]["code_url"] + "/pay"

        async def commit(url: str, wallet: str) -> tuple[str, int]:
            async with http.post(url, data={"wallet": wallet}, allow_redirects=False) as r:
                return wallet, r.status

        answers = dict(await asyncio.gather(commit(pay, "alipay-wap"), commit(pay, "unionpay")))
        won = [w for w, status in answers.items() if status in (200, 303)]
        assert len(won) == 1, answers
        assert sorted(answers.values()) in ([200, 409], [303, 409]), answers
        bound = (await query_order(merchant, order["order_id"]))["channel"]
        assert bound == won[0].split("-")[0]


async def test_hammering_the_result_page_does_not_hammer_the_provider(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    """Anyone holding the link can refresh the result page as fast as they like: the
    provider is asked about the order once per pacing interval, not once per request (a
    provider throttles the merchant's whole query API, not one order)."""
    order = await cashier_order(mesh, merchant, 321)
    oid, url = order["order_id"], order["pay_data"]["code_url"]
    async with http.post(url + "/pay", data={"wallet": "unionpay"}, allow_redirects=False) as r:
        assert r.status in (200, 303), r.status
    assert await _queries(mesh, oid) == 0

    async def result() -> tuple[int, str]:
        async with http.get(url + "/result") as r:
            return r.status, await r.text()

    answers = await asyncio.gather(*(result() for _ in range(20)))
    assert {status for status, _ in answers} == {200}
    assert all("refresh" in text for _, text in answers)  # still pending: the page polls
    assert await _queries(mesh, oid) == 1
    await asyncio.sleep(1.6)  # past the interval: the next refresh asks again
    assert (await result())[0] == 200
    assert await _queries(mesh, oid) == 2
    assert (await query_order(merchant, oid))["status"] == "PENDING"
