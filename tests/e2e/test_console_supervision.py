"""Supervision pages against the running mesh: look a paid order up by its merchant number,
see its history (state changes, redacted channel exchanges, callbacks, notification
attempts), find its failed notification in the needs-an-operator list, re-send it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from paymesh.config import factory as config_factory
from paymesh.config.apps import AppConfig
from paymesh.console.runtime import open_backends, start_console
from paymesh.dev.seed import ALIPAY_ACCOUNT, UNIONPAY_ACCOUNT, WECHAT_ACCOUNT
from paymesh.testing.ports import free_port
from tests.console.conftest import ADMIN, csrf_of, login
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import create_qr_order, eventually, query_order, sandbox

SECRET = "supervised-app-secret-0123456789abc"


@pytest.fixture
async def console_url(mesh: Mesh) -> AsyncIterator[str]:
    settings = mesh.server.context.settings.model_copy(
        update={"notify_admin_target": f"127.0.0.1:{mesh.server.port}"}
    )
    async with open_backends(settings, source="console", live=True) as b:
        await b.users.add(*ADMIN, "admin")
        runner, port = await start_console(b, settings, "127.0.0.1", 0)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await runner.cleanup()


@pytest.mark.parametrize("mesh", ["mariadb+etcd"], indirect=True)
async def test_lookup_history_failed_notification_and_resend(mesh: Mesh, console_url: str) -> None:
    app = AppConfig.model_validate(
        {
            "app_id": "supervised",
            "name": "Supervised",
            "sign_type": "HMAC-SHA256",
            "secret": SECRET,
            "routes": {"qr": {"channel": "wechat", "account_id": "wechat-demo"}},
            "notify_url": f"http://127.0.0.1:{free_port()}/gone",  # nobody listens
            "allow_private_notify_urls": True,
            "notify_retry_delays": [0.2],
        }
    )
    await mesh.repo.put_app(app)
    served = await config_factory.config_repository(mesh.server.context)

    async def app_served() -> bool:
        return any(a.app_id == "supervised" for a in await served.list_apps())

    await eventually(app_served)

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        merchant = Merchant(mesh.edge_url, "supervised", "HMAC-SHA256", SECRET, http)
        order = await create_qr_order(merchant, 7)
        await sandbox(
            http,
            mesh.sandbox_url,
            "/_sandbox/pay",
            {"channel": "wechat", "out_trade_no": order["order_id"]},
        )
        assert (await query_order(merchant, order["order_id"], sync=True))["status"] == "PAID"

        assert (await login(http, console_url, ADMIN)).status == 303

        async def failed_listed() -> bool:
            async with http.get(console_url + "/ops") as r:
                page = await r.text()
            table = re.search(r'id="failed-notifications">(.*?)</table>', page, re.S)
            return bool(table and "supervised" in table.group(1))

        await eventually(failed_listed, within=30)
        async with http.get(console_url + "/ops") as r:
            page = await r.text()
        assert mesh.notify_public_key_pem.strip().splitlines()[1] in page

        # look it up by the merchant's number: straight to its history
        async with http.get(console_url + "/ops/lookup", params={"q": order["out_trade_no"]}) as r:
            assert r.url.path == f"/ops/order/{order['order_id']}"
            page = await r.text()
        assert re.search(r"<th>status</th><td>PAID</td>", page)
        assert "<strong>Pay</strong>" in page  # the channel exchange, redacted
        assert "verified=True" in page  # the provider callback
        event_id = re.search(r'data-event="(E[^"]+)"', page)
        assert event_id
        assert "class=delivery-status>FAILED</span>" in page
        attempts_before = page.count("<tr><td>" + event_id.group(1))
        assert SECRET not in page

        # re-send: a new delivery round through the notify service
        async with http.post(
            console_url + f"/ops/events/{event_id.group(1)}/resend",
            data={"csrf_token": csrf_of(page)},
        ) as r:
            assert r.status == 200
            assert "Re-sent as" in await r.text()

        async def more_attempts() -> bool:
            async with http.get(console_url + f"/ops/order/{order['order_id']}") as r:
                text = await r.text()
            return text.count("<tr><td>" + event_id.group(1)) > attempts_before

        await eventually(more_attempts, within=20)
        async with http.get(console_url + "/audit") as r:
            assert f"events/{event_id.group(1)}" in await r.text()
        async with http.get(console_url + "/ops/lookup", params={"q": "no-such-thing"}) as r:
            assert "Nothing found" in await r.text()


@pytest.mark.parametrize("mesh", ["mariadb+etcd"], indirect=True)
@pytest.mark.parametrize(
    ("channel", "account", "code"),
    [
        ("wechat", WECHAT_ACCOUNT, "ORDER_NOT_EXIST"),
        ("alipay", ALIPAY_ACCOUNT, "TRADE_NOT_EXIST"),
        ("unionpay", UNIONPAY_ACCOUNT, "34"),
    ],
)
async def test_test_connection_shows_each_providers_verified_not_found(
    mesh: Mesh, console_url: str, channel: str, account: str, code: str
) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await login(http, console_url, ADMIN)
        async with http.get(f"{console_url}/accounts/{channel}/{account}") as r:
            csrf = csrf_of(await r.text())
        async with http.post(
            f"{console_url}/accounts/{channel}/{account}/test", data={"csrf_token": csrf}
        ) as r:
            page = await r.text()
    assert f'<code id="provider-code">{code}</code>' in page
    assert 'class="banner ok"' in page
    assert "signature verified" in page
