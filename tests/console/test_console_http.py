"""The console's entry points over HTTP: login form, sessions, CSRF,
roles, throttle, forms validated by the models, compare-and-swap, audit, no secrets out."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import ClassVar

import aiohttp
import pytest
from pydantic import Field, SecretStr

from paymesh.config.models import ChannelAccountBase, secret_field
from paymesh.config.registry import register_channel, unregister_channel
from paymesh.console.runtime import open_backends, start_console
from paymesh.console.web import LOGIN_COOKIE, SESSION_COOKIE

from .conftest import ADMIN, ADMIN2, VIEWER, RunningConsole, csrf_of, login

SECRET = "app-secret-Zq8vX2mP-9dL4wN6hT2cY8vG3"
NEW_SECRET = "app-secret-Kd93hLw0-7pS2mF5jX9qZ4bH1"


def _app_form(csrf: str, revision: int = 0, **over: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "revision": str(revision),
        "app_id": "shop",
        "name": "Shop",
        "enabled.present": "1",
        "enabled": "on",
        "sign_type": "HMAC-SHA256",
        "secret": SECRET,
        "public_key_pem": "",
        "routes[0][key]": "qr",
        "routes[0][channel]": "wechat",
        "routes[0][account_id]": "wechat-a",
        "routes[1][key]": "",
        "routes[1][channel]": "",
        "routes[1][account_id]": "",
        "notify_url": "",
        "allow_private_notify_urls.present": "1",
        "notify_retry_delays": "",
    }
    form.update(over)
    return form


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        yield s


async def _page(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as r:
        assert r.status == 200, (url, r.status)
        return await r.text()


async def _count_writes(console: RunningConsole) -> int:
    return len(await console.backends.repo.store.list(console.backends.repo.prefix + "/"))


async def test_front_page_is_a_login_form_and_everything_else_needs_a_session(
    console: RunningConsole, http: aiohttp.ClientSession
) -> None:
    async with http.get(console.url + "/") as r:
        assert r.status == 200
        page = await r.text()
        assert 'type="password"' in page
        assert LOGIN_COOKIE in r.cookies
        assert r.headers["X-Frame-Options"] == "DENY"
    for path in (
        "/accounts",
        "/apps",
        "/apps/new",
        "/accounts/wechat/new",
        "/audit",
        "/schemas",
        "/ops",
    ):
        async with http.get(console.url + path, allow_redirects=False) as r:
            assert r.status == 303, path
            assert r.headers["Location"] == "/"
    async with http.post(console.url + "/apps/new", data=_app_form("x")) as r:
        assert r.status == 401
    assert await _count_writes(console) == 0


async def test_login_sets_a_strict_httponly_cookie_and_logs_the_login(
    console: RunningConsole, http: aiohttp.ClientSession
) -> None:
    resp = await login(http, console.url, ADMIN)
    assert resp.status == 303
    cookie = next(v for v in resp.headers.getall("Set-Cookie") if v.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # loopback
    page = await _page(http, console.url + "/accounts")
    assert "WeChat" in page
    assert "Alipay" in page
    entries = await console.backends.audit.entries(actions=["login"])
    assert [(e.actor, e.source) for e in entries] == [(ADMIN[0], "console")]


async def test_cookies_are_secure_off_loopback(console: RunningConsole) -> None:
    runner, port = await start_console(console.backends, console.settings, "0.0.0.0", 0)
    url = f"http://127.0.0.1:{port}"
    try:
        # A browser would not send Secure cookies back over plain http: send it by hand.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            async with http.get(url + "/") as r:
                login_cookie = r.headers["Set-Cookie"]
                token = r.cookies[LOGIN_COOKIE].value
            assert "Secure" in login_cookie
            async with http.post(
                url + "/login",
                data={"login_token": token, "username": ADMIN[0], "password": ADMIN[1]},
                headers={"Cookie": f"{LOGIN_COOKIE}={token}"},
                allow_redirects=False,
            ) as r:
                assert r.status == 303
                cookie = next(
                    v for v in r.headers.getall("Set-Cookie") if v.startswith(SESSION_COOKIE)
                )
        assert "Secure" in cookie
        assert "HttpOnly" in cookie
    finally:
        await runner.cleanup()


async def test_login_throttle(console: RunningConsole, http: aiohttp.ClientSession) -> None:
    for _ in range(5):
        resp = await login(http, console.url, (ADMIN[0], "wrong-password-x"))
        assert resp.status == 401
    resp = await login(http, console.url, ADMIN)  # right password, but throttled
    assert resp.status == 429
    assert SESSION_COOKIE not in resp.cookies
    failed = await console.backends.audit.entries(actions=["login_failed"])
    assert len(failed) == 5
    assert all(e.actor == ADMIN[0] and e.outcome == "refused" for e in failed)
    # another user is not throttled
    assert (await login(http, console.url, ADMIN2)).status == 303


async def test_one_address_spraying_usernames_is_throttled_at_every_replica(
    console: RunningConsole, http: aiohttp.ClientSession
) -> None:
    # A second console process on the same database: the spray is split between the two.
    async with open_backends(console.settings, source="console", live=True) as b:
        runner, port = await start_console(b, console.settings, "127.0.0.1", 0)
        other = f"http://127.0.0.1:{port}"
        try:
            for i in range(20):
                url = console.url if i % 2 else other
                assert (await login(http, url, (f"nobody{i}", "wrong-password-x"))).status == 401
            for url in (console.url, other):  # a right password, from the same address
                resp = await login(http, url, ADMIN)
                assert resp.status == 429
                assert SESSION_COOKIE not in resp.cookies
        finally:
            await runner.cleanup()


async def test_writes_need_the_csrf_token_and_an_admin(
    console: RunningConsole, http: aiohttp.ClientSession
) -> None:
    await login(http, console.url, ADMIN)
    csrf = csrf_of(await _page(http, console.url + "/apps/new"))
    for token in ("", "forged-token"):
        async with http.post(console.url + "/apps/new", data=_app_form(token)) as r:
            assert r.status == 403
    async with http.post(
        console.url + "/apps/new",
        data=_app_form(csrf),
        headers={"Origin": "http://evil.example"},
    ) as r:
        assert r.status == 403
    assert await _count_writes(console) == 0

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as viewer:
        await login(viewer, console.url, VIEWER)
        page = await _page(viewer, console.url + "/apps/new")
        assert "Read only" in page
        async with viewer.post(console.url + "/apps/new", data=_app_form(csrf_of(page))) as r:
            assert r.status == 403
    assert await _count_writes(console) == 0


async def test_form_create_validate_edit_keep_secret_conflict_and_audit(
    console: RunningConsole, http: aiohttp.ClientSession
) -> None:
    repo = console.backends.repo
    await login(http, console.url, ADMIN)
    csrf = csrf_of(await _page(http, console.url + "/apps/new"))

    # a bad value: the error is shown beside the field and nothing is stored
    async with http.post(
        console.url + "/apps/new", data=_app_form(csrf, notify_url="ftp://x")
    ) as r:
        assert r.status == 400
        page = await r.text()
    assert re.search(r'id="err-notify_url">[^<]*http', page)
    assert SECRET not in page  # never echoed back, not even after an error
    assert await _count_writes(console) == 0

    async with http.post(
        console.url + "/apps/new", data=_app_form(csrf), allow_redirects=False
    ) as r:
        assert r.status == 303
        assert r.headers["Location"] == "/apps/shop?saved=1"
    stored = await repo.get_app_versioned("shop")
    assert stored.model.secret is not None
    assert stored.model.secret.get_secret_value() == SECRET
    raw = await repo.store.get(repo.prefix + "/apps/shop")
    assert raw is not None
    assert SECRET.encode() not in raw.value

    # edit without retyping the secret: it is kept
    page = await _page(http, console.url + "/apps/shop")
    assert SECRET not in page
    assert 'placeholder="leave empty to keep"' in page
    async with http.post(
        console.url + "/apps/shop",
        data=_app_form(csrf, stored.revision, name="Shop 2", secret=""),
        allow_redirects=False,
    ) as r:
        assert r.status == 303
    edited = await repo.get_app_versioned("shop")
    assert edited.model.name == "Shop 2"
    assert edited.model.secret == stored.model.secret

    # a second operator who opened the form before that edit gets a conflict
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as bob:
        await login(bob, console.url, ADMIN2)
        bob_csrf = csrf_of(await _page(bob, console.url + "/apps/shop"))
        async with bob.post(
            console.url + "/apps/shop",
            data=_app_form(bob_csrf, stored.revision, name="Bob's", secret=NEW_SECRET),
        ) as r:
            assert r.status == 409
            assert "Someone else changed this" in await r.text()
    assert (await repo.get_app("shop")).name == "Shop 2"

    # disable, through the side form (CAS on the revision too)
    async with http.post(
        console.url + "/apps/shop/enabled",
        data={"csrf_token": csrf, "revision": str(edited.revision), "enabled": "0"},
        allow_redirects=False,
    ) as r:
        assert r.status == 303
    assert (await repo.get_app("shop")).enabled is False

    entries = await console.backends.audit.entries(key="apps/shop")
    summary = [(e.actor, e.action, e.fields, e.outcome) for e in reversed(entries)]
    assert summary[0] == (ADMIN[0], "create", (), "invalid")  # refused, audited, not stored
    assert summary[1][:2] == (ADMIN[0], "create")
    assert "secret" in summary[1][2]
    assert summary[2] == (ADMIN[0], "update", ("name",), "ok")
    assert summary[3] == (ADMIN2[0], "update", (), "conflict")
    assert summary[4] == (ADMIN[0], "disable", ("enabled",), "ok")
    audit_page = await _page(http, console.url + "/audit")
    assert "apps/shop" in audit_page
    everything = audit_page + json.dumps([e.as_json() for e in entries])
    for secret in (SECRET, NEW_SECRET):
        assert secret not in everything


async def test_schemas_need_a_session_and_list_every_registered_channel(
    console: RunningConsole, http: aiohttp.ClientSession
) -> None:
    await login(http, console.url, VIEWER)
    async with http.get(console.url + "/schemas") as r:
        data = await r.json()
    assert {"wechat", "alipay"} <= set(data["channels"])
    assert data["channels"]["wechat"]["properties"]["api_v3_key"]["writeOnly"] is True


class PigeonAccount(ChannelAccountBase):
    """A channel the console has never heard of."""

    channel: ClassVar[str] = "pigeon"

    loft: str = Field(title="Loft number", description="Where the birds live.")
    seed_key: SecretStr = secret_field("Seed key", "Feeds the birds.")


async def test_a_new_channel_model_gets_its_list_and_form_without_console_changes(
    console: RunningConsole, http: aiohttp.ClientSession
) -> None:
    register_channel(PigeonAccount)
    try:
        await login(http, console.url, ADMIN)
        assert "/accounts/pigeon/new" in await _page(http, console.url + "/accounts")
        page = await _page(http, console.url + "/accounts/pigeon/new")
        assert "Loft number" in page
        assert 'type="password" id="f-seed_key"' in page
        form = {
            "csrf_token": csrf_of(page),
            "revision": "0",
            "account_id": "p1",
            "base_url": "http://127.0.0.1:9",
            "loft": "7",
            "seed_key": "bird-seed-123",
        }
        async with http.post(
            console.url + "/accounts/pigeon/new", data=form, allow_redirects=False
        ) as r:
            assert r.status == 303
        stored = await console.backends.repo.get_channel_account("pigeon", "p1")
        assert isinstance(stored, PigeonAccount)
        assert stored.seed_key.get_secret_value() == "bird-seed-123"
    finally:
        unregister_channel("pigeon")
