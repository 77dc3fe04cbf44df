"""The ops console in real headless Chromium (Debian's, driven by Playwright) against the
running mesh: two operators add a WeChat account and an app from the generated forms, the
mesh takes a first payment with them without a restart, edits apply on the next request,
the audit log shows who changed which fields, a viewer cannot write, CSRF-less and
unauthenticated writes are refused, and no secret ever reaches a page, a response, a log
line or the store in clear text.

Set PAYMESH_SCREENSHOTS=docs to refresh docs/console-account-form.png from this test.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Response, async_playwright

from paymesh.config import factory as config_factory
from paymesh.console.runtime import open_backends, start_console
from paymesh.dev.seed import private_key_pem, register_at_sandbox
from paymesh.errors import ConfigNotFound
from tests.e2e.client import Merchant, reason
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import create_qr_order, eventually, query_order, sandbox

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS = Path(__file__).resolve().parents[2] / "docs"

ALICE = ("alice", "alice-console-pw-1")
BOB = ("bob", "bob-console-pw-22")
VICTOR = ("victor", "victor-console-pw")
MCHID = "1900000777"
APPID = "wxd678efh567hg6787"
APP_SECRET = "shop-ops-secret-R7c2Vw9qXk4Tz8Lm3Np6"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


class Seen:
    """Every response body the browser received (to prove no secret ever reached it)."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    async def on_response(self, response: Response) -> None:
        with contextlib.suppress(Exception):  # redirects and aborted loads have no body
            self.bodies.append(await response.text())


async def _operator(browser: Browser, url: str, user: tuple[str, str], seen: Seen) -> Page:
    context: BrowserContext = await browser.new_context(viewport={"width": 1000, "height": 800})
    page = await context.new_page()
    page.on("response", seen.on_response)
    await page.goto(url + "/")
    assert await page.locator('input[type="password"]').count() == 1  # the CONTRACT
    await page.fill("#username", user[0])
    await page.fill("#password", user[1])
    await page.click("button[type=submit]")
    await page.wait_for_url(url + "/accounts")
    return page


async def _save(page: Page) -> None:
    await page.click("#config-form button[type=submit]")
    await page.wait_for_load_state()


@pytest.mark.parametrize("mesh", ["mariadb+etcd"], indirect=True)
async def test_two_operators_configure_and_the_mesh_takes_a_first_payment(
    mesh: Mesh, browser: Browser, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    settings = mesh.server.context.settings
    served = await config_factory.config_repository(mesh.server.context)
    seen = Seen()
    key_pem = private_key_pem()
    reg = await register_at_sandbox(
        mesh.sandbox_url, "wechat", MCHID, APPID, key_pem, platform_key_mode="public_key"
    )
    secrets = [APP_SECRET, reg["api_v3_key"], key_pem.splitlines()[5]]

    async with open_backends(settings, source="console", live=True) as b:
        for (name, password), role in ((ALICE, "admin"), (BOB, "admin"), (VICTOR, "viewer")):
            await b.users.add(name, password, role)
        runner, port = await start_console(b, settings, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{port}"
        try:
            # ---- operator 1 (alice) adds a WeChat account from the generated form
            alice = await _operator(browser, url, ALICE, seen)
            await alice.click("text=New WeChat Pay account")
            await alice.fill("#f-account_id", "wechat-ops")
            await alice.fill("#f-base_url", mesh.sandbox_url)
            await alice.check('input[name="enabled_methods"][value="qr"]')
            await alice.fill("#f-mchid", "19OO-not-digits")  # a bad value
            await alice.fill("#f-appid", APPID)
            await alice.fill("#f-merchant_serial_no", reg["merchant_serial_no"])
            await alice.fill("#f-private_key_pem", key_pem)
            await alice.fill("#f-api_v3_key", reg["api_v3_key"])
            await alice.fill("#f-platform_public_key_id", reg["platform_public_key_id"])
            await alice.fill("#f-platform_public_key_pem", reg["platform_public_key_pem"])
            await _save(alice)
            error = alice.locator("#err-mchid")
            assert await error.is_visible()
            assert "pattern" in (await error.inner_text())
            assert await alice.locator('[data-field="mchid"].has-error').count() == 1
            with pytest.raises(ConfigNotFound):
                await b.repo.get_channel_account("wechat", "wechat-ops")
            # secrets are never echoed back: type them again with the fixed value
            assert await alice.input_value("#f-private_key_pem") == ""
            await alice.fill("#f-mchid", MCHID)
            await alice.fill("#f-private_key_pem", key_pem)
            await alice.fill("#f-api_v3_key", reg["api_v3_key"])
            await _save(alice)
            assert alice.url.endswith("/accounts/wechat/wechat-ops?saved=1")
            assert await alice.locator(".banner.ok").inner_text() == "Saved."
            placeholder = await alice.get_attribute("#f-api_v3_key", "placeholder")
            assert placeholder == "leave empty to keep"
            shot = (DOCS if os.environ.get("PAYMESH_SCREENSHOTS") == "docs" else tmp_path) / (
                "console-account-form.png"
            )
            shot.parent.mkdir(exist_ok=True)
            await alice.screenshot(path=str(shot), full_page=True)
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

            # test connection: a signed query of an order that does not exist
            await alice.click("#test-form button")
            await alice.wait_for_selector("#test-result")
            assert await alice.inner_text("#provider-code") == "ORDER_NOT_EXIST"
            assert "signature verified" in await alice.inner_text("#test-result")
            await alice.go_back()

            # ---- operator 2 (bob) adds an app and points it at the account
            bob = await _operator(browser, url, BOB, seen)
            await bob.goto(url + "/apps/new")
            await bob.fill("#f-app_id", "shop-ops")
            await bob.fill("#f-name", "Shop (ops walk-through)")
            await bob.select_option("#f-sign_type", "HMAC-SHA256")
            await bob.fill("#f-secret", APP_SECRET)
            await bob.fill('input[name="routes[0][key]"]', "qr")
            await bob.fill('input[name="routes[0][channel]"]', "wechat")
            await bob.fill('input[name="routes[0][account_id]"]', "wechat-ops")
            await bob.check("#f-allow_private_notify_urls")
            await _save(bob)
            assert bob.url.endswith("/apps/shop-ops?saved=1")

            # ---- the running mesh takes a first payment with it, no restart
            async def app_served() -> bool:
                return any(a.app_id == "shop-ops" for a in await served.list_apps())

            await eventually(app_served)
            async with aiohttp.ClientSession() as http:
                merchant = Merchant(mesh.edge_url, "shop-ops", "HMAC-SHA256", APP_SECRET, http)
                order = await create_qr_order(merchant, 1)
                assert order["status"] == "PENDING"
                assert order["pay_data"]["code_url"]
                await sandbox(
                    http,
                    mesh.sandbox_url,
                    "/_sandbox/pay",
                    {"channel": "wechat", "out_trade_no": order["order_id"]},
                )
                paid = await query_order(merchant, order["order_id"], sync=True)
                assert paid["status"] == "PAID"

                # ---- alice edits the account without retyping secrets
                await alice.goto(url + "/accounts/wechat/wechat-ops")
                await alice.check('input[name="enabled_methods"][value="h5"]')
                await _save(alice)
                assert alice.url.endswith("?saved=1")
                edited = await b.repo.get_channel_account("wechat", "wechat-ops")
                assert edited.enabled_methods == ["qr", "h5"]
                assert await create_qr_order(merchant, 2)  # the kept key still signs

                # ---- and disables it: the mesh refuses the next payment
                await alice.click("#enable-form button")
                await alice.wait_for_url(re.compile(r".*saved=1$"))

                async def refused() -> bool:
                    status, body = await merchant.post(
                        "/v1/orders",
                        {
                            "out_trade_no": f"o{os.urandom(4).hex()}",
                            "amount": 3,
                            "subject": "t",
                            "method": "qr",
                        },
                        __import__(
                            "paymesh.merchant.v1.pay_service_pb2", fromlist=["x"]
                        ).CreateOrderRequest,
                    )
                    return status != 200 and reason(body) == "CHANNEL_NOT_ENABLED"

                await eventually(refused)

            # ---- the audit log: who, which key, which fields; never values
            await alice.goto(url + "/audit")
            audit_text = await alice.inner_text("#audit")
            assert re.search(r"alice\s+console\s+create\s+channels/wechat/wechat-ops", audit_text)
            assert re.search(r"bob\s+console\s+create\s+apps/shop-ops", audit_text)
            assert re.search(r"update\s+channels/wechat/wechat-ops\s+enabled_methods\s", audit_text)
            assert re.search(r"disable\s+channels/wechat/wechat-ops\s+enabled\s", audit_text)
            assert "test_connection" in audit_text

            # ---- a viewer reads but cannot write
            victor = await _operator(browser, url, VICTOR, seen)
            await victor.goto(url + "/accounts/wechat/wechat-ops")
            assert await victor.locator("#config-form button[type=submit]").count() == 0
            csrf = await victor.get_attribute('input[name="csrf_token"]', "value")
            assert csrf
            resp = await victor.request.post(
                url + "/accounts/wechat/wechat-ops/enabled",
                form={"csrf_token": csrf, "revision": "1", "enabled": "1"},
            )
            assert resp.status == 403

            # ---- CSRF-less and unauthenticated writes are refused
            resp = await alice.request.post(
                url + "/accounts/wechat/wechat-ops/enabled",
                form={"revision": "1", "enabled": "1"},
            )
            assert resp.status == 403
            stranger = await browser.new_context()
            resp = await stranger.request.post(
                url + "/apps/new", form={"app_id": "evil", "name": "x"}, max_redirects=0
            )
            assert resp.status == 401
            await stranger.close()
            assert (await b.repo.get_channel_account("wechat", "wechat-ops")).enabled is False
        finally:
            await runner.cleanup()

    # ---- no secret in any page or response, any log line, or the store in clear text
    out, err = capfd.readouterr()
    raw = b"".join(e.value for e in await mesh.repo.store.list(mesh.repo.prefix + "/"))
    assert len(seen.bodies) > 10
    for secret in secrets:
        assert all(secret not in body for body in seen.bodies), "secret in a page"
        assert secret not in out + err, "secret in a log line"
        assert secret.encode() not in raw, "secret in the store in clear text"
