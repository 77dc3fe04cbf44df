"""Lists and forms for channel accounts and apps, generated from the models' schemas."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from paymesh.config.models import secret_field_names
from paymesh.config.registry import channel_model, channels, document_schemas, schemas
from paymesh.console.forms import field_specs, parse_form, render_fields, submitted_values
from paymesh.console.html import banner, csrf_field, esc
from paymesh.console.service import Ref
from paymesh.console.web import console_of, html_page, remote_of, session_of
from paymesh.errors import AppNotFound, ConfigConflict, ConfigInvalid, ConfigNotFound


def _schema(ref: Ref) -> dict[str, Any]:
    if ref.kind == "app":
        return document_schemas()["app"]
    try:
        return schemas()[ref.channel]
    except KeyError:
        raise web.HTTPNotFound(text=f"no channel {ref.channel!r}") from None


def _secret_names(ref: Ref) -> list[str]:
    from paymesh.config.apps import AppConfig

    model = AppConfig if ref.kind == "app" else channel_model(ref.channel)
    return secret_field_names(model)


def _base(ref: Ref) -> str:
    return "/apps" if ref.kind == "app" else f"/accounts/{quote(ref.channel)}"


def _url(ref: Ref) -> str:
    return f"{_base(ref)}/{quote(ref.ident)}" if ref.ident else f"{_base(ref)}/new"


def _title(ref: Ref, model_title: str) -> str:
    what = model_title or ("App" if ref.kind == "app" else f"{ref.channel} account")
    return f"{what} {ref.ident}" if ref.ident else f"New {what}"


def _ref(request: web.Request, kind: str) -> Ref:
    ident = request.match_info.get("ident", "")
    if kind == "app":
        return Ref("app", ident)
    channel = request.match_info["channel"]
    if channel not in channels():
        raise web.HTTPNotFound(text=f"no channel {channel!r}")
    return Ref("channel_account", ident, channel)


def _form_page(
    request: web.Request,
    ref: Ref,
    values: dict[str, Any],
    revision: int,
    *,
    errors: dict[str, str] | None = None,
    message: str = "",
    ok: str = "",
    secrets_set: list[str] | None = None,
    status: int = 200,
    extra: str = "",
) -> web.Response:
    schema = _schema(ref)
    session = session_of(request)
    errors = errors or {}
    id_field = "app_id" if ref.kind == "app" else "account_id"
    fields = render_fields(
        field_specs(schema),
        values,
        errors,
        readonly=[id_field] if ref.ident else [],
        secrets_set=secrets_set or [],
    )
    doc_error = errors.get("", "")
    can_write = session.operator.can_write
    submit = (
        '<button type="submit" class="primary">Save</button>'
        if can_write
        else '<p class="muted">Read only (viewer).</p>'
    )
    body = (
        f"{banner(ok, 'ok')}{banner(message)}{banner(doc_error)}"
        f'<p class="muted">{esc(schema.get("description", ""))}</p>'
        f'<form method="post" action="{esc(_url(ref))}" id="config-form" novalidate>'
        f'{csrf_field(session.csrf_token)}<input type="hidden" name="revision" value="{revision}">'
        f"{fields}{submit}</form>{extra}"
    )
    return html_page(request, _title(ref, str(schema.get("title", ""))), body, status)


def _stored_values(model: Any) -> dict[str, Any]:
    secret = set(secret_field_names(type(model)))
    data: dict[str, Any] = model.model_dump(mode="json")
    return {k: v for k, v in data.items() if k not in secret}


def _secrets_set(model: Any) -> list[str]:
    return [n for n in secret_field_names(type(model)) if getattr(model, n) is not None]


# ---- lists ----


async def _rows(request: web.Request, refs: list[Ref]) -> str:
    service = console_of(request).service
    rows = []
    for ref in refs:
        try:
            current = await service.read(ref)
        except ConfigInvalid as e:
            rows.append(
                f'<tr><td><a href="{esc(_url(ref))}">{esc(ref.ident)}</a></td>'
                f'<td colspan="3" class="error">{esc(e.message)}</td></tr>'
            )
            continue
        m = current.model
        state = "enabled" if m.enabled else "disabled"
        extra = getattr(m, "base_url", "") or getattr(m, "name", "")
        rows.append(
            f'<tr><td><a href="{esc(_url(ref))}">{esc(ref.ident)}</a></td>'
            f"<td>{state}</td><td>{esc(extra)}</td><td>{current.revision}</td></tr>"
        )
    return "".join(rows)


async def _idents(request: web.Request, prefix: str) -> list[str]:
    repo = console_of(request).repo
    return [e.key.removeprefix(prefix) for e in await repo.store.list(prefix)]


async def accounts_list(request: web.Request) -> web.StreamResponse:
    from paymesh.config import keys

    repo = console_of(request).repo
    parts = []
    for channel in channels():
        prefix = keys.channels_prefix(repo.prefix, channel)
        refs = [Ref("channel_account", i, channel) for i in await _idents(request, prefix)]
        title = schemas()[channel].get("title", channel)
        parts.append(
            f'<h2>{esc(title)}</h2><table class="list" data-channel="{esc(channel)}">'
            "<tr><th>account</th><th>state</th><th>base URL</th><th>revision</th></tr>"
            f"{await _rows(request, refs)}</table>"
            f'<p><a href="/accounts/{esc(channel)}/new">New {esc(title)}</a></p>'
        )
    return html_page(request, "Channel accounts", "".join(parts))


async def apps_list(request: web.Request) -> web.StreamResponse:
    from paymesh.config import keys

    repo = console_of(request).repo
    refs = [Ref("app", i) for i in await _idents(request, keys.apps_prefix(repo.prefix))]
    body = (
        '<table class="list" id="apps"><tr><th>app</th><th>state</th><th>name</th>'
        f"<th>revision</th></tr>{await _rows(request, refs)}</table>"
        '<p><a href="/apps/new">New app</a></p>'
    )
    return html_page(request, "Apps", body)


# ---- forms ----


def _side_forms(request: web.Request, ref: Ref, model: Any, revision: int) -> str:
    session = session_of(request)
    if not session.operator.can_write:
        return ""
    csrf = csrf_field(session.csrf_token)
    flip = "Disable" if model.enabled else "Enable"
    out = (
        f'<form method="post" action="{esc(_url(ref))}/enabled" class="inline" id="enable-form">'
        f'{csrf}<input type="hidden" name="revision" value="{revision}">'
        f'<input type="hidden" name="enabled" value="{"0" if model.enabled else "1"}">'
        f'<button type="submit">{flip}</button></form> '
    )
    if ref.kind == "channel_account":
        out += (
            f'<form method="post" action="{esc(_url(ref))}/test" class="inline" id="test-form">'
            f'{csrf}<button type="submit">Test connection</button></form>'
        )
    return f"<h2>Actions</h2><p>{out}</p>"


async def show_form(request: web.Request, kind: str) -> web.StreamResponse:
    ref = _ref(request, kind)
    if not ref.ident:
        return _form_page(request, ref, {}, 0)
    try:
        current = await console_of(request).service.read(ref)
    except (AppNotFound, ConfigNotFound):
        raise web.HTTPNotFound(text=f"{ref.short()} not found") from None
    except ConfigInvalid as e:
        return _form_page(request, ref, {}, 0, message=f"Stored document is invalid: {e.message}")
    ok = "Saved." if request.query.get("saved") else ""
    return _form_page(
        request,
        ref,
        _stored_values(current.model),
        current.revision,
        ok=ok,
        secrets_set=_secrets_set(current.model),
        extra=_side_forms(request, ref, current.model, current.revision),
    )


async def save_form(request: web.Request, kind: str) -> web.StreamResponse:
    ref = _ref(request, kind)
    console = console_of(request)
    form = await request.post()
    specs = field_specs(_schema(ref))
    data, errors = parse_form(specs, form)
    try:
        revision = int(str(form.get("revision", "0")))
    except ValueError:
        revision = -1
    current_secrets: list[str] = []
    if ref.ident:
        try:
            current_secrets = _secrets_set((await console.service.read(ref)).model)
        except (AppNotFound, ConfigNotFound, ConfigInvalid):
            current_secrets = []
    if not errors:
        try:
            await console.service.save(
                ref,
                data,
                expected_revision=revision,
                actor=session_of(request).operator.username,
                remote=remote_of(request),
            )
        except ConfigInvalid as e:
            errors = e.field_errors or {"": e.message}
        except ConfigConflict as e:
            if not ref.ident:
                id_field = "app_id" if ref.kind == "app" else "account_id"
                errors = {id_field: "already exists: open it from the list to edit it"}
                return _form_page(
                    request,
                    ref,
                    submitted_values(specs, form),
                    0,
                    errors=errors,
                    message="Not saved.",
                    status=409,
                )
            return _form_page(
                request,
                ref,
                submitted_values(specs, form),
                revision,
                message="Someone else changed this since you opened it "
                f"(now at revision {e.metadata.get('revision', '?')}). Reload the page, "
                "then apply your change again.",
                secrets_set=current_secrets,
                status=409,
            )
        else:
            id_field = "app_id" if ref.kind == "app" else "account_id"
            saved = Ref(ref.kind, str(data.get(id_field) or ref.ident), ref.channel)
            raise web.HTTPSeeOther(_url(saved) + "?saved=1")
    return _form_page(
        request,
        ref,
        submitted_values(specs, form),
        revision,
        errors=errors,
        message="Not saved: fix the fields marked below.",
        secrets_set=current_secrets,
        status=400,
    )


async def set_enabled(request: web.Request, kind: str) -> web.StreamResponse:
    ref = _ref(request, kind)
    form = await request.post()
    try:
        revision = int(str(form.get("revision", "")))
    except ValueError:
        raise web.HTTPBadRequest(text="revision is required") from None
    try:
        await console_of(request).service.set_enabled(
            ref,
            str(form.get("enabled")) == "1",
            expected_revision=revision,
            actor=session_of(request).operator.username,
            remote=remote_of(request),
        )
    except ConfigConflict:
        return html_page(
            request,
            "Conflict",
            banner("Someone else changed this since you opened it: reload and try again."),
            409,
        )
    raise web.HTTPSeeOther(_url(ref) + "?saved=1")


async def test_connection(request: web.Request) -> web.StreamResponse:
    ref = _ref(request, "channel_account")
    console = console_of(request)
    account = (await console.service.read(ref)).model
    result = await console.tester.test(ref.channel, account)
    await console.audit.record(
        actor=session_of(request).operator.username,
        source="console",
        action="test_connection",
        key=ref.short(),
        outcome="ok" if result.ok else "failed",
        detail=result.provider_code,
        remote=remote_of(request),
    )
    detail = (
        f'<p>Provider code: <code id="provider-code">{esc(result.provider_code)}</code>'
        f" {esc(result.provider_message)}</p>"
        if result.provider_code
        else ""
    )
    body = (
        f'<div id="test-result">{banner(result.summary, "ok" if result.ok else "error")}'
        f'{detail}</div><p><a href="{esc(_url(ref))}">back to {esc(ref.short())}</a></p>'
    )
    return html_page(request, f"Test connection: {ref.short()}", body)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/accounts", accounts_list)
    r.add_get("/apps", apps_list)
    for kind, base in (("channel_account", "/accounts/{channel}"), ("app", "/apps")):

        def bind(fn: Any, k: str = kind) -> Any:
            async def handler(request: web.Request) -> web.StreamResponse:
                resp: web.StreamResponse = await fn(request, k)
                return resp

            return handler

        r.add_get(f"{base}/new", bind(show_form))
        r.add_post(f"{base}/new", bind(save_form))
        r.add_get(f"{base}/{{ident}}", bind(show_form))
        r.add_post(f"{base}/{{ident}}", bind(save_form))
        r.add_post(f"{base}/{{ident}}/enabled", bind(set_enabled))
    r.add_post("/accounts/{channel}/{ident}/test", test_connection)
