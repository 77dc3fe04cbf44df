"""The console's aiohttp application: login, sessions, CSRF, roles, and the routes.

Entry points: the front page is a login form (a `type="password"`
field); every read of config and every write needs a session; every write (POST) also needs
the session's CSRF token (form field `csrf_token` or header `X-CSRF-Token`), and an `admin`
role. Cookies are HttpOnly, SameSite=Strict, and Secure unless the console serves loopback.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from paymesh.config.registry import document_schemas, schemas
from paymesh.config.repository import ConfigRepository
from paymesh.console.audit import AuditLog
from paymesh.console.connection import ConnectionTester
from paymesh.console.html import banner, csrf_field, esc, page
from paymesh.console.service import ConfigService
from paymesh.console.users import Session, Users
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.console")

SESSION_COOKIE = "paymesh_session"
LOGIN_COOKIE = "paymesh_login"  # pre-session CSRF token of the login form
PUBLIC = {("GET", "/"), ("POST", "/login"), ("GET", "/healthz")}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Console:
    """What the handlers share (stored on the app as `app[CONSOLE]`)."""

    repo: ConfigRepository
    service: ConfigService
    users: Users
    audit: AuditLog
    tester: ConnectionTester
    secure_cookies: bool
    supervision: Any = None  # paymesh.console.supervision.Supervision when a DB store is wired
    recon: Any = None  # paymesh.console.recon_client.ReconClient (the reconciliation pages)


CONSOLE = web.AppKey("console", Console)
SESSION = web.RequestKey("paymesh.session", Session)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE]


def session_of(request: web.Request) -> Session:
    return request[SESSION]


def remote_of(request: web.Request) -> str:
    return request.remote or ""


def html_page(request: web.Request, title: str, body: str, status: int = 200) -> web.Response:
    session: Session | None = request.get(SESSION)
    text = page(
        title,
        body,
        username=session.operator.username if session else "",
        role=session.operator.role.value if session else "",
        csrf=session.csrf_token if session else "",
    )
    return web.Response(text=text, content_type="text/html", status=status)


def _refuse(request: web.Request, status: int, message: str) -> web.Response:
    if request.method == "GET" and status == 401:
        raise web.HTTPSeeOther("/")
    return web.Response(status=status, text=message + "\n", content_type="text/plain")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    resp = await handler(request)
    resp.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    )
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    # same-origin (not no-referrer): with no-referrer Chromium sends `Origin: null` on forms
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    resp.headers.setdefault("Cache-Control", "no-store")
    return resp


@web.middleware
async def require_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    console = console_of(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    session = await console.users.session(token) if token else None
    if session is not None:
        request[SESSION] = session
    if (request.method, request.path) in PUBLIC:
        return await handler(request)
    if session is None:
        return _refuse(request, 401, "login required")
    if request.method not in ("GET", "HEAD"):
        origin = request.headers.get("Origin")
        if origin and origin != f"{request.scheme}://{request.host}":
            return _refuse(request, 403, "cross-origin write refused")
        form = await request.post()
        sent = str(form.get("csrf_token") or request.headers.get("X-CSRF-Token") or "")
        if not session.csrf_ok(sent):
            log.warning("console_csrf_refused", user=session.operator.username, path=request.path)
            return _refuse(request, 403, "missing or wrong CSRF token")
        if request.path != "/logout" and not session.operator.can_write:
            return _refuse(request, 403, "your role (viewer) cannot change anything")
    return await handler(request)


# ---- login ----


def _login_form(token: str, error: str = "", username: str = "") -> str:
    return (
        f"{banner(error)}"
        '<form method="post" action="/login" class="login">'
        f'<input type="hidden" name="login_token" value="{esc(token)}">'
        '<div class="field"><label for="username">Username</label>'
        f'<input type="text" id="username" name="username" value="{esc(username)}" '
        'autocomplete="username" required></div>'
        '<div class="field"><label for="password">Password</label>'
        '<input type="password" id="password" name="password" '
        'autocomplete="current-password" required></div>'
        '<button type="submit" class="primary">Log in</button></form>'
    )


def _set_cookie(resp: web.StreamResponse, request: web.Request, name: str, value: str) -> None:
    resp.set_cookie(
        name,
        value,
        httponly=True,
        samesite="Strict",
        secure=console_of(request).secure_cookies,
        path="/",
    )


async def front(request: web.Request) -> web.StreamResponse:
    if request.get(SESSION) is not None:
        raise web.HTTPSeeOther("/accounts")
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    resp = html_page(request, "Log in", _login_form(token))
    _set_cookie(resp, request, LOGIN_COOKIE, token)
    return resp


async def login(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    form = await request.post()
    username = str(form.get("username", ""))[:64]
    password = str(form.get("password", ""))
    token = request.cookies.get(LOGIN_COOKIE, "")
    sent = str(form.get("login_token", ""))
    if not token or not secrets.compare_digest(token, sent):
        return _refuse(request, 403, "missing or wrong login form token")
    remote = remote_of(request)
    if await console.users.throttled(username, remote):
        await console.audit.record(
            actor=username,
            source="console",
            action="login_throttled",
            outcome="refused",
            remote=remote,
        )
        return html_page(
            request,
            "Log in",
            _login_form(token, "Too many failed logins for this user: try again later.", username),
            status=429,
        )
    operator = await console.users.authenticate(username, password)
    if operator is None:
        await console.audit.record(
            actor=username,
            source="console",
            action="login_failed",
            outcome="refused",
            remote=remote,
        )
        return html_page(
            request, "Log in", _login_form(token, "Wrong username or password.", username), 401
        )
    cookie, _session = await console.users.open_session(operator)
    await console.audit.record(
        actor=operator.username, source="console", action="login", remote=remote
    )
    resp = web.HTTPSeeOther("/accounts")
    _set_cookie(resp, request, SESSION_COOKIE, cookie)
    resp.del_cookie(LOGIN_COOKIE, path="/")
    raise resp


async def logout(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    session = session_of(request)
    await console.users.close_session(request.cookies.get(SESSION_COOKIE, ""))
    await console.audit.record(
        actor=session.operator.username,
        source="console",
        action="logout",
        remote=remote_of(request),
    )
    resp = web.HTTPSeeOther("/")
    resp.del_cookie(SESSION_COOKIE, path="/")
    raise resp


async def healthz(_request: web.Request) -> web.StreamResponse:
    return web.Response(text="ok\n")


# ---- audit, schemas ----


async def audit_page(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    key = request.query.get("key") or None
    entries = await console.audit.entries(limit=200, key=key, before=request.query.get("before"))
    rows = "".join(
        f"<tr><td>{esc(e.at.strftime('%Y-%m-%d %H:%M:%S'))}</td><td>{esc(e.actor)}</td>"
        f"<td>{esc(e.source)}</td><td>{esc(e.action)}</td><td>{esc(e.key)}</td>"
        f"<td>{esc(', '.join(e.fields))}</td><td>{esc(e.revision or '')}</td>"
        f"<td>{esc(e.outcome)}</td><td>{esc(e.remote)}</td></tr>"
        for e in entries
    )
    more = (
        f'<p><a href="/audit?before={esc(entries[-1].id)}">older entries</a></p>'
        if len(entries) == 200
        else ""
    )
    body = (
        '<table class="list" id="audit"><tr><th>when (UTC)</th><th>who</th><th>via</th>'
        "<th>action</th><th>key</th><th>fields changed</th><th>revision</th><th>outcome</th>"
        f"<th>from</th></tr>{rows}</table>{more}"
    )
    return html_page(request, "Audit log", body)


async def schema_list(_request: web.Request) -> web.StreamResponse:
    return web.json_response(
        {"channels": schemas(), "documents": document_schemas()},
        dumps=lambda o: json.dumps(o, ensure_ascii=False),
    )


__all__ = ["CONSOLE", "Console", "csrf_field", "html_page", "is_loopback"]
