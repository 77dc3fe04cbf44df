"""Shared pieces of the cashier browser tests: a mobile browser per wallet, orders."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

from paymesh.cashier.wallets import USER_AGENTS
from paymesh.merchant.v1 import pay_service_pb2
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import out_no

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
# The README's screenshots of the cashier in each wallet: the tests take them when run with
# PAYMESH_SCREENSHOTS=docs (on the embedded backend), so that `make test` leaves docs alone.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "cashier"
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


async def phone(browser: Browser, wallet: str | None) -> BrowserContext:
    """A phone's browser: the wallet's in-app browser (its User-Agent), or a plain one."""
    ua = USER_AGENTS[wallet] if wallet else (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Mobile Safari/537.36"
    )  # fmt: skip
    return await browser.new_context(
        user_agent=ua,
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )


async def cashier_order(
    mesh: Mesh, merchant: Merchant, amount: int, **extra: Any
) -> dict[str, Any]:
    status, body = await merchant.post(
        "/v1/orders",
        {"out_trade_no": out_no("c"), "amount": amount, "subject": "收银台测试 cashier test",
         "method": "cashier", "notify_url": mesh.notify_url, **extra},
        pay_service_pb2.CreateOrderRequest,
    )  # fmt: skip
    assert status == 200, body
    order: dict[str, Any] = body["order"]
    return order


def notifications(mesh: Mesh, order_id: str) -> list[dict[str, Any]]:
    return [r.body for r in mesh.demo_merchant.received if r.body.get("order_id") == order_id]


async def screenshot(page: Page, mesh: Mesh, name: str, *, full_page: bool = False) -> None:
    """Refresh docs/cashier/<name>.png (only with PAYMESH_SCREENSHOTS=docs)."""
    if os.environ.get("PAYMESH_SCREENSHOTS") == "docs" and mesh.backend == "sqlite+file":
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
