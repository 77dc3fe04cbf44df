"""The console's reconciliation pages in real headless Chromium (Debian's, driven by
Playwright) against the running mesh and its ReconciliationService: an operator runs a day
whose sandbox bill carries injected discrepancies, filters the mismatches by type, repairs
one (paymesh asks the provider again), accepts one with a note (the audit log shows who),
re-runs after the provider's fix and sees the rest resolved; a viewer sees the same pages
but cannot run or resolve; the settlement summary's CSV export holds the app's day.

Set PAYMESH_SCREENSHOTS=docs to refresh docs/console-reconciliation.png from this test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Page, async_playwright

from paymesh.channels.billfile import CHINA
from paymesh.console.runtime import open_backends, start_console
from paymesh.dev.seed import private_key_pem, seed_app, seed_wechat
from paymesh.merchant.v1 import pay_service_pb2
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import eventually, out_no
from tests.e2e.test_reconciliation import _fault, _paid

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
OPERATOR = ("olga", "olga-console-pw-31")
VIEWER = ("vera", "vera-console-pw-47")
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


async def _login(browser: Browser, url: str, user: tuple[str, str]) -> Page:
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    await page.goto(url + "/")
    await page.fill("#username", user[0])
    await page.fill("#password", user[1])
    await page.click("button[type=submit]")
    await page.wait_for_url(url + "/accounts")
    return page


def _card(page: Page, object_id: str, kind: str) -> str:
    return f'.mismatch[data-kind="{kind}"]:has(a:text-is("{object_id}"))'


@pytest.mark.parametrize("mesh", ["mariadb+etcd"], indirect=True)
async def test_operator_resolves_injected_mismatches_and_a_viewer_cannot(
    mesh: Mesh, browser: Browser, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:6]
    account = f"wx-reconui-{suffix}"
    await seed_wechat(mesh.repo, mesh.sandbox_url, private_key_pem(), account,
                      mchid=f"19{uuid.uuid4().int % 10**8:08d}", appid=f"wxui{suffix}")  # fmt: skip
    app = await seed_app(mesh.repo, app_id=f"reconui-{suffix}", wechat_account=account,
                         alipay_account=None)  # fmt: skip
    m = mesh.merchant(http, app)

    async def ready() -> bool:  # the services see the new app and account (config watch)
        status, _ = await m.post(
            "/v1/orders",
            {"out_trade_no": out_no(), "amount": 1, "subject": "warm-up", "method": "qr"},
            pay_service_pb2.CreateOrderRequest,
        )
        return status == 200

    await eventually(ready)
    today = datetime.now(CHINA).date().isoformat()
    plain = await _paid(mesh, http, m, 1200)
    off_by_one = await _paid(mesh, http, m, 900)
    revoked = await _paid(mesh, http, m, 700)
    unknown = "PUI" + suffix.upper()
    await _fault(http, mesh, fault="bill_unknown_trade", out_trade_no=unknown, amount=321)
    await _fault(http, mesh, fault="bill_amount_off", out_trade_no=off_by_one)
    await _fault(http, mesh, fault="bill_status_differs", out_trade_no=revoked)

    settings = mesh.server.context.settings.model_copy(
        update={"recon_target": f"127.0.0.1:{mesh.server.port}"}
    )
    async with open_backends(settings, source="console", live=True) as b:
        await b.users.add(*OPERATOR, "admin")
        await b.users.add(*VIEWER, "viewer")
        runner, port = await start_console(b, settings, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{port}"
        run_path = f"/recon/runs/wechat/{account}/{today}"
        try:
            # ---- the operator runs (account, today) from the runs page
            olga = await _login(browser, url, OPERATOR)
            await olga.click("text=Reconciliation · 对账")
            await olga.wait_for_url(url + "/recon")
            await olga.select_option("#run-account", f"wechat/{account}")
            await olga.fill("#run-date", today)
            await olga.click("#run-form button[type=submit]")
            await olga.wait_for_url(f"{url}{run_path}?ran=DONE")
            run_row = olga.locator("#runs tr[data-run]")
            assert await run_row.locator(".status").inner_text() == "DONE"
            assert await run_row.locator(".mismatches").inner_text() == "3"
            assert await run_row.locator(".open").inner_text() == "3"
            cards = olga.locator(".mismatch")
            assert sorted(await cards.evaluate_all("els => els.map(e => e.dataset.kind)")) == [
                "AMOUNT_DIFFERS",
                "PROVIDER_ONLY",
                "STATUS_DIFFERS",
            ]
            amount_card = olga.locator(_card(olga, off_by_one, "AMOUNT_DIFFERS"))
            assert "9.00" in await amount_card.inner_text()
            assert "9.01" in await amount_card.inner_text()
            amount_id = await amount_card.get_attribute("data-mismatch")
            assert amount_id
            assert plain not in await olga.locator("main").inner_text()  # matched: no mismatch

            # the type filter
            await olga.click("#kind-filter >> text=Amount differs")
            assert await cards.count() == 1
            assert await cards.first.get_attribute("data-kind") == "AMOUNT_DIFFERS"
            await olga.click("#kind-filter >> text=all")
            assert await cards.count() == 3

            # repair: paymesh asks the provider again (it says the trade is paid) and applies
            status_card = olga.locator(_card(olga, revoked, "STATUS_DIFFERS"))
            await status_card.locator("form.repair button").click()
            await olga.wait_for_load_state()
            assert await status_card.locator(".mismatch-status").inner_text() == "RESOLVED"
            assert await status_card.locator(".resolution").inner_text() == "repaired"
            assert await run_row.locator(".open").inner_text() == "2"
            assert (
                "provider says TRADE_STATE_PAID"
                in await status_card.locator("table.actions").inner_text()
            )
            repair_id = await status_card.get_attribute("data-mismatch")
            assert repair_id
            shot = DOCS if os.environ.get("PAYMESH_SCREENSHOTS") == "docs" else tmp_path
            await olga.screenshot(path=str(shot / "console-reconciliation.png"), full_page=True)

            # accepting needs a note: refused, nothing changes
            unknown_card = olga.locator(_card(olga, unknown, "PROVIDER_ONLY"))
            assert await unknown_card.locator("form.repair").count() == 0  # nothing to repair
            await unknown_card.locator("form.accept button").click()
            await olga.wait_for_load_state()
            assert "note" in (await olga.locator(".banner.error").inner_text()).lower()
            await olga.goto(url + run_path)
            assert await unknown_card.locator(".mismatch-status").inner_text() == "OPEN"
            # accepted with a note
            note = f"not ours: provider ticket {suffix}"
            await unknown_card.locator("textarea").fill(note)
            await unknown_card.locator("form.accept button").click()
            await olga.wait_for_load_state()
            assert "?resolved=" in olga.url
            assert await unknown_card.locator(".mismatch-status").inner_text() == "ACCEPTED"
            assert note in await unknown_card.inner_text()
            assert await run_row.locator(".open").inner_text() == "1"
            assert await unknown_card.locator("form").count() == 0
            mismatch_id = await unknown_card.get_attribute("data-mismatch")
            assert mismatch_id

            # ---- the audit log names the operator
            await olga.goto(url + "/audit")
            audit = await olga.locator("#audit").inner_text()
            cols = [ln.split("\t") for ln in audit.splitlines() if mismatch_id in ln]
            assert sorted((c[1], c[2], c[3], c[4], c[7]) for c in cols) == [
                ("olga", "console", "recon.accept", f"recon/mismatch/{mismatch_id}", "refused"),
                ("olga", "recon", "recon.accept", f"recon/mismatch/{mismatch_id}", "accepted"),
            ]
            (repaired,) = [ln.split("\t") for ln in audit.splitlines() if repair_id in ln]
            assert repaired[1:5] == ["olga", "recon", "recon.repair", f"recon/mismatch/{repair_id}"]
            assert repaired[7] == "resolved"
            (ran,) = [ln for ln in audit.splitlines() if f"recon/run/wechat/{account}" in ln]
            assert ran.split("\t")[1:4] == ["olga", "console", "recon.run"]

            # ---- a viewer sees the run but cannot resolve or run
            vera = await _login(browser, url, VIEWER)
            await vera.goto(url + run_path)
            assert await vera.locator(".mismatch").count() == 3
            assert await vera.locator(".mismatch form, #run-form").count() == 0
            csrf = await vera.get_attribute('input[name="csrf_token"]', "value")
            assert csrf
            resp = await vera.request.post(
                f"{url}/recon/mismatches/{amount_id}/resolve",
                form={"csrf_token": csrf, "action": "accept", "note": "viewer try"},
            )
            assert resp.status == 403
            resp = await vera.request.post(
                f"{url}/recon/run",
                form={"csrf_token": csrf, "account": f"wechat/{account}", "date": today},
            )
            assert resp.status == 403
            await olga.goto(url + run_path)
            assert await amount_card.locator(".mismatch-status").inner_text() == "OPEN"

            # ---- the provider fixes its side; a re-run shows it resolved
            async with http.delete(f"{mesh.sandbox_url}/_sandbox/faults?channel=wechat") as r:
                assert r.status == 200
            await olga.click("#run-form button[type=submit]")
            await olga.wait_for_url(f"{url}{run_path}?ran=DONE")
            assert await amount_card.locator(".mismatch-status").inner_text() == "RESOLVED"
            assert await amount_card.locator(".resolution").inner_text() == "cleared"
            assert await unknown_card.locator(".mismatch-status").inner_text() == "ACCEPTED"
            assert await run_row.locator(".open").inner_text() == "0"
            await olga.click("#status-filter >> text=OPEN")
            assert await cards.count() == 0

            # ---- the settlement summary and its CSV
            await olga.goto(f"{url}/recon/settlement?date={today}")
            summary = await olga.locator("#settlement").inner_text()
            (mine,) = [ln for ln in summary.splitlines() if app.app_id in ln]
            assert mine.split("\t")[1:4] == ["wechat", "3", "28.00"]
            async with olga.expect_download() as info:
                await olga.click("#csv")
            download = await info.value
            assert download.suggested_filename == f"settlement-{today}.csv"
            saved = tmp_path / "settlement.csv"
            await download.save_as(saved)
            rows = saved.read_text().splitlines()
            assert rows[0].startswith("bill_date,app_id,channel,payment_count,payment_amount")
            (csv_row,) = [ln for ln in rows if f",{app.app_id}," in ln]
            fields = csv_row.split(",")
            assert fields[:5] == [today, app.app_id, "wechat", "3", "2800"]
            assert int(fields[-1]) == 2800 - int(fields[-2])  # net = payments - fees (no refunds)
        finally:
            await runner.cleanup()
