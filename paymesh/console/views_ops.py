"""Supervision pages: look up an order, refund or transfer and its history (transitions,
redacted channel exchanges, callbacks, notification attempts), re-send a notification, what
needs an operator, and paymesh's notify public key."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import grpc
from aiohttp import web

from paymesh.console.html import banner, csrf_field, esc
from paymesh.console.supervision import KINDS, Found, Supervision
from paymesh.console.web import console_of, html_page, remote_of, session_of

BODY_CHARS = 2000


def _sup(request: web.Request) -> Supervision:
    sup = console_of(request).supervision
    if sup is None:
        raise web.HTTPNotFound(text="supervision needs the database")
    assert isinstance(sup, Supervision)
    return sup


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        return esc(value.strftime("%Y-%m-%d %H:%M:%S"))
    return esc(value)


def _table(rows: list[dict[str, Any]], cols: list[str], tid: str, link: Any = None) -> str:
    if not rows:
        return '<p class="muted">none</p>'
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)
    body = []
    for r in rows:
        cells = []
        for c in cols:
            text = _cell(r.get(c, ""))
            href = link(c, r) if link else None
            cells.append(
                f'<td><a href="{esc(href)}">{text}</a></td>' if href else f"<td>{text}</td>"
            )
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f'<table class="list" id="{esc(tid)}"><tr>{head}</tr>{"".join(body)}</table>'


def _object_url(kind: str, object_id: str) -> str:
    return f"/ops/{quote(kind)}/{quote(object_id)}"


def _found_list(found: list[Found]) -> str:
    rows = [{"kind": f.kind, "id": f.object_id, **f.row} for f in found]
    cols = ["kind", "id", "app_id", "status", "amount", "currency", "channel", "created_at"]
    return _table(
        rows,
        cols,
        "found",
        lambda c, r: _object_url(r["kind"], r["id"]) if c == "id" else None,
    )


def _search_form(q: str = "", app_id: str = "") -> str:
    return (
        '<form method="get" action="/ops/lookup" id="lookup">'
        '<div class="field"><label for="q">Order, refund or transfer id, or merchant number'
        f'</label><input type="text" id="q" name="q" value="{esc(q)}"></div>'
        '<div class="field"><label for="app_id">App id (optional)</label>'
        f'<input type="text" id="app_id" name="app_id" value="{esc(app_id)}"></div>'
        '<button type="submit" class="primary">Look up</button></form>'
    )


def _order_link(c: str, r: dict[str, Any]) -> str | None:
    if c == "order_id" and r.get("order_id"):
        return _object_url("order", r["order_id"])
    if c == "refund_id":
        return _object_url("refund", r["refund_id"])
    if c == "transfer_id":
        return _object_url("transfer", r["transfer_id"])
    if c == "aggregate_id" and r.get("aggregate_id"):
        kind = {"P": "order", "R": "refund", "T": "transfer"}.get(str(r["aggregate_id"])[:1])
        return _object_url(kind, r["aggregate_id"]) if kind else None
    return None


async def ops_index(request: web.Request) -> web.StreamResponse:
    sup = _sup(request)
    a = await sup.attention()
    pem = sup.notify_public_key_pem()
    body = (
        _search_form()
        + "<h2>Needs an operator</h2>"
        + "<h3>Failed notifications</h3>"
        + _table(
            a.failed_notifications,
            ["event_id", "app_id", "event_type", "attempts", "last_error", "failed_at"],
            "failed-notifications",
            lambda c, r: f"/ops/events/{quote(r['event_id'])}" if c == "event_id" else None,
        )
        + "<h3>Outbox rows not published</h3>"
        + _table(
            a.stuck_outbox,
            ["event_id", "event_type", "app_id", "aggregate_id", "attempts", "created_at"],
            "stuck-outbox",
            _order_link,
        )
        + "<h3>Quarantined outbox rows</h3>"
        + _table(
            a.quarantined_outbox,
            ["event_id", "event_type", "app_id", "aggregate_id", "quarantine_reason", "created_at"],
            "quarantined-outbox",
            _order_link,
        )
        + "<h3>Refunds PENDING past their budget, or in a provider state such as ABNORMAL</h3>"
        + _table(
            a.pending_refunds,
            ["refund_id", "order_id", "app_id", "amount", "channel", "channel_state", "created_at"],
            "pending-refunds",
            _order_link,
        )
        + "<h3>Transfers PENDING past their budget, or in a provider state such as ABNORMAL</h3>"
        + _table(
            a.pending_transfers,
            ["transfer_id", "app_id", "amount", "channel", "channel_state", "created_at"],
            "pending-transfers",
            _order_link,
        )
        + "<h3>Late payments</h3>"
        + _table(
            a.late_payments,
            ["order_id", "app_id", "amount", "order_status", "policy", "refund_id", "paid_at"],
            "late-payments",
            _order_link,
        )
        + "<h2>Notify public key</h2>"
        + (
            "<p>RSA2 apps verify paymesh's notifications with this key.</p>"
            f'<pre id="notify-public-key">{esc(pem)}</pre>'
            if pem
            else '<p class="muted">No notify signing key configured (notify_signing_key_file).</p>'
        )
    )
    return html_page(request, "Supervision", body)


async def lookup(request: web.Request) -> web.StreamResponse:
    q, app_id = request.query.get("q", ""), request.query.get("app_id", "")
    found = await _sup(request).lookup(q, app_id)
    if len(found) == 1:
        raise web.HTTPSeeOther(_object_url(found[0].kind, found[0].object_id))
    note = "" if found else banner(f"Nothing found for {q!r}.")
    return html_page(request, "Look up", _search_form(q, app_id) + note + _found_list(found))


def _pre(text: Any) -> str:
    s = str(text or "")
    return f"<pre>{esc(s[:BODY_CHARS])}{'…' if len(s) > BODY_CHARS else ''}</pre>" if s else ""


async def object_page(request: web.Request) -> web.StreamResponse:
    kind, object_id = request.match_info["kind"], request.match_info["object_id"]
    if kind not in KINDS:
        raise web.HTTPNotFound()
    h = await _sup(request).history(kind, object_id)
    if h is None:
        raise web.HTTPNotFound(text=f"{kind} {object_id} not found")
    session = session_of(request)
    facts = "".join(
        f"<tr><th>{esc(k)}</th><td>{_cell(v)}</td></tr>" for k, v in h.found.row.items()
    )
    events = []
    for e in h.events:
        d = h.deliveries.get(e["event_id"], {})
        resend = (
            f'<form method="post" action="/ops/events/{esc(e["event_id"])}/resend" class="inline">'
            f'{csrf_field(session.csrf_token)}<button type="submit">Re-send</button></form>'
            if session.operator.can_write
            else ""
        )
        attempts = _table(
            h.attempts.get(e["event_id"], []),
            ["round_id", "attempt", "attempted_at", "http_status", "delivered", "error"],
            f"attempts-{e['event_id']}",
        )
        events.append(
            f'<div class="field" data-event="{esc(e["event_id"])}"><strong>'
            f"{esc(e['event_type'])}</strong> {esc(e['event_id'])} · outbox {esc(e['status'])}"
            f" · delivery <span class=delivery-status>{esc(d.get('status', '–'))}</span> "
            f"({esc(d.get('attempts', 0))} attempts) {resend}{attempts}</div>"
        )
    exchanges = "".join(
        f'<div class="field"><strong>{esc(x["rpc"])}</strong> {esc(x["http_method"])} '
        f"{esc(x['url'])} → {esc(x['http_status'])} ({esc(x['latency_ms'])} ms) "
        f'{esc(x["error"])} <span class="muted">{_cell(x["created_at"])}</span>'
        f"{_pre(x['request_body'])}{_pre(x['response_body'])}</div>"
        for x in h.exchanges
    )
    callbacks = "".join(
        f'<div class="field"><strong>{esc(c["channel"])}/{esc(c["account_id"])}</strong> '
        f"verified={esc(c['verified'])} {esc(c['outcome'])} {esc(c['error'])} "
        f'<span class="muted">{_cell(c["created_at"])}</span>{_pre(c["body"])}</div>'
        for c in h.callbacks
    )
    related = ("<h2>Refunds</h2>" + _found_list(h.related)) if h.related else ""
    ok = banner(f"Re-sent as {request.query['resent']}.", "ok") if "resent" in request.query else ""
    body = (
        f'{ok}<table class="list" id="object">{facts}</table>{related}'
        f"<h2>State changes and notifications</h2>{''.join(events) or '<p class=muted>none</p>'}"
        f"<h2>Channel exchanges (redacted)</h2>{exchanges or '<p class=muted>none</p>'}"
        f"<h2>Provider callbacks (redacted)</h2>{callbacks or '<p class=muted>none</p>'}"
    )
    return html_page(request, f"{kind} {object_id}", body)


async def event_page(request: web.Request) -> web.StreamResponse:
    event_id = request.match_info["event_id"]
    sup = _sup(request)
    async with sup.engine.connect() as conn:
        from sqlalchemy import select

        from paymesh.core.db.models import OutboxEvent

        row = (
            await conn.execute(
                select(OutboxEvent.aggregate_id).where(OutboxEvent.event_id == event_id)
            )
        ).first()
    if row is None:
        raise web.HTTPNotFound(text=f"event {event_id} not found")
    kind = {"P": "order", "R": "refund", "T": "transfer"}.get(str(row[0])[:1], "order")
    resent = request.query.get("resent")
    raise web.HTTPSeeOther(
        _object_url(kind, row[0]) + (f"?resent={quote(resent)}" if resent else "")
    )


async def resend(request: web.Request) -> web.StreamResponse:
    event_id = request.match_info["event_id"]
    console = console_of(request)
    sup = _sup(request)
    try:
        message_id = await sup.resend(event_id)
    except (grpc.aio.AioRpcError, RuntimeError) as e:
        detail = e.details() if isinstance(e, grpc.aio.AioRpcError) else str(e)
        await console.audit.record(
            actor=session_of(request).operator.username,
            source="console",
            action="resend_notification",
            key=f"events/{event_id}",
            outcome="failed",
            detail=str(detail)[:200],
            remote=remote_of(request),
        )
        return html_page(request, "Re-send", banner(f"Not re-sent: {detail}"), 502)
    await console.audit.record(
        actor=session_of(request).operator.username,
        source="console",
        action="resend_notification",
        key=f"events/{event_id}",
        detail=message_id,
        remote=remote_of(request),
    )
    raise web.HTTPSeeOther(f"/ops/events/{quote(event_id)}?resent={quote(message_id)}")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/ops", ops_index)
    r.add_get("/ops/lookup", lookup)
    r.add_get("/ops/events/{event_id}", event_page)
    r.add_post("/ops/events/{event_id}/resend", resend)
    r.add_get("/ops/{kind}/{object_id}", object_page)
