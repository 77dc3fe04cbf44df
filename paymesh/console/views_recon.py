"""Reconciliation (对账) pages: the runs, a run's mismatches by type, resolving one (accept
with a note, or repair), running (account, day), and the settlement summary with its CSV.

Everything goes through the ops `ReconciliationService` (`recon_client`); it writes the
operator's accept/repair to the shared audit log with the console user as the actor. Runs
started here are audited by the console. Writes need an admin and the CSRF token (`web`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import grpc
from aiohttp import web

from paymesh.channels.registry import CHANNEL_ENTRIES
from paymesh.console.html import banner, csrf_field, esc
from paymesh.console.recon_client import (
    ACTIONS,
    ReconClient,
    ReconUnavailable,
    rpc_error,
    today,
    valid_day,
)
from paymesh.console.web import console_of, html_page, remote_of, session_of
from paymesh.money import yuan
from paymesh.ops.v1 import reconciliation_pb2 as pb

KINDS = {
    "PROVIDER_ONLY": "Only at the provider · 长款",
    "PAYMESH_ONLY": "Only in paymesh · 短款",
    "AMOUNT_DIFFERS": "Amount differs · 金额不符",
    "STATUS_DIFFERS": "Status differs · 状态不符",
    "REFUND_DIFFERS": "Refund differs · 退款不符",
    "FEE_DIFFERS": "Fee differs · 手续费不符",
    "FUND_FLOW_DIFFERS": "Fund flow differs · 资金账单不符",
}
STATUSES = ("OPEN", "RESOLVED", "ACCEPTED")
FAILURES = (grpc.aio.AioRpcError, ReconUnavailable, LookupError)


def _client(request: web.Request) -> ReconClient:
    client = console_of(request).recon
    if not isinstance(client, ReconClient):
        raise web.HTTPNotFound(text="reconciliation needs the settings (recon_target)")
    return client


def run_url(channel: str, account_id: str, bill_date: str, **query: str) -> str:
    base = f"/recon/runs/{quote(channel)}/{quote(account_id)}/{quote(bill_date)}"
    extra = {k: v for k, v in query.items() if v}
    return base + (f"?{urlencode(extra)}" if extra else "")


def _failed(request: web.Request, title: str, e: BaseException) -> web.Response:
    status, message = rpc_error(e)
    back = '<p><a href="/recon">Back to the runs · 返回</a></p>'
    return html_page(request, title, banner(message) + back, status)


async def _accounts(request: web.Request) -> list[str]:
    repo = console_of(request).repo
    found = []
    for channel in CHANNEL_ENTRIES:
        found += [f"{channel}/{a.account_id}" for a in await repo.list_channel_accounts(channel)]
    return sorted(found)


def _account_select(accounts: list[str], chosen: str, sid: str, blank: str = "") -> str:
    opts = f'<option value="">{esc(blank)}</option>' if blank else ""
    opts += "".join(
        f'<option value="{esc(a)}"{" selected" if a == chosen else ""}>{esc(a)}</option>'
        for a in accounts
    )
    return f'<select id="{esc(sid)}" name="account">{opts}</select>'


def _run_form(request: web.Request, accounts: list[str], account: str, day: str) -> str:
    session = session_of(request)
    if not session.operator.can_write:
        return ""
    return (
        '<form method="post" action="/recon/run" id="run-form"><h2>Run a reconciliation · 发起对账'
        f"</h2>{csrf_field(session.csrf_token)}"
        '<div class="field"><label for="run-account">Channel account · 渠道账户</label>'
        f"{_account_select(accounts, account, 'run-account')}</div>"
        '<div class="field"><label for="run-date">Bill day (China time, yyyy-MM-dd) · 账单日期'
        f'</label><input type="text" id="run-date" name="date" value="{esc(day)}"></div>'
        '<button type="submit" class="primary">Run · 对账</button></form>'
    )


def _fund_flow(r: pb.ReconciliationRun) -> str:
    if not r.fund_flow:
        return "—"
    return f"{yuan(r.fund_income_amount)} / {yuan(r.fund_expense_amount)}"


def _runs_table(runs: list[pb.ReconciliationRun]) -> str:
    if not runs:
        return '<p class="muted">No runs · 无对账记录</p>'
    head = (
        "<tr><th>account · 账户</th><th>day · 日期</th><th>status · 状态</th><th>bill lines</th>"
        "<th>payments · 收款</th><th>refunds · 退款</th><th>fees · 手续费</th>"
        "<th>matched · 已平</th><th>mismatches · 差错</th><th>open · 未处理</th>"
        "<th>fund flow in / out · 资金账单收支</th><th>attempts</th></tr>"
    )
    rows = "".join(
        f'<tr data-run="{esc(r.run_id)}"><td>{esc(r.channel)}/{esc(r.account_id)}</td>'
        f'<td><a href="{esc(run_url(r.channel, r.account_id, r.bill_date))}">'
        f"{esc(r.bill_date)}</a></td><td class=status>{esc(r.status)}</td>"
        f"<td>{r.provider_lines}</td><td>{r.payment_count} / {yuan(r.payment_amount)}</td>"
        f"<td>{r.refund_count} / {yuan(r.refund_amount)}</td><td>{yuan(r.fee_amount)}</td>"
        f"<td>{r.matched_count}</td><td class=mismatches>{r.mismatch_count}</td>"
        f"<td class=open>{r.open_count}</td><td class=fund-flow>{_fund_flow(r)}</td>"
        f"<td>{r.attempts}</td></tr>"
        for r in runs
    )
    return f'<table class="list" id="runs">{head}{rows}</table>'


async def runs_page(request: web.Request) -> web.StreamResponse:
    day, account = request.query.get("date", ""), request.query.get("account", "")
    if day and not valid_day(day):
        return html_page(request, "Reconciliation · 对账", banner("date must be yyyy-MM-dd"), 400)
    accounts = await _accounts(request)
    try:
        runs = await _client(request).runs(day, account.partition("/")[2])
    except FAILURES as e:
        return _failed(request, "Reconciliation · 对账", e)
    if account:
        runs = [r for r in runs if f"{r.channel}/{r.account_id}" == account]
    filters = (
        '<form method="get" action="/recon" id="run-filter" class="field">'
        '<label for="f-date">Day · 日期</label>'
        f'<input type="text" id="f-date" name="date" value="{esc(day)}" placeholder="yyyy-MM-dd">'
        '<label for="f-account">Account · 账户</label>'
        f"{_account_select(accounts, account, 'f-account', 'all · 全部')}"
        '<button type="submit">Filter · 筛选</button></form>'
    )
    settle_day = day or today()
    body = (
        f'<p><a href="/recon/settlement?date={esc(settle_day)}" id="settlement-link">'
        f"Settlement summary {esc(settle_day)} · 结算汇总</a></p>"
        f"{filters}{_runs_table(runs)}{_run_form(request, accounts, account, day or today())}"
    )
    return html_page(request, "Reconciliation · 对账", body)


def _filter_links(run: pb.ReconciliationRun, counts: dict[str, int], kind: str, st: str) -> str:
    def link(label: str, k: str, s: str, chosen: bool) -> str:
        href = run_url(run.channel, run.account_id, run.bill_date, kind=k, status=s)
        return f'<a href="{esc(href)}"{" class=chosen" if chosen else ""}>{esc(label)}</a>'

    kinds = [link(f"all · 全部 ({sum(counts.values())})", "", st, not kind)]
    kinds += [link(f"{KINDS[k]} ({counts.get(k, 0)})", k, st, kind == k) for k in KINDS]
    statuses = [link("any status", kind, "", not st)]
    statuses += [link(s, kind, s, st == s) for s in STATUSES]
    return f'<p id="kind-filter">{" | ".join(kinds)}</p><p id="status-filter">{" | ".join(statuses)}</p>'


def _resolve_forms(request: web.Request, m: pb.Mismatch, back: str) -> str:
    session = session_of(request)
    if m.status != "OPEN" or not session.operator.can_write:
        return ""
    action = f"/recon/mismatches/{quote(m.mismatch_id)}/resolve"
    hidden = (
        csrf_field(session.csrf_token) + f'<input type="hidden" name="back" value="{esc(back)}">'
    )
    accept = (
        f'<form method="post" action="{esc(action)}" class="accept">{hidden}'
        '<input type="hidden" name="action" value="accept">'
        f'<label for="note-{esc(m.mismatch_id)}">Note (required to accept) · 备注</label>'
        f'<textarea id="note-{esc(m.mismatch_id)}" name="note" rows="2"></textarea>'
        '<button type="submit">Accept · 确认差异</button></form>'
    )
    no_repair = m.kind in ("FEE_DIFFERS", "FUND_FLOW_DIFFERS")
    if no_repair or (m.kind == "PROVIDER_ONLY" and not m.ours_state):
        return accept  # asking again changes no fee, and finds no order paymesh never had
    return accept + (
        f'<form method="post" action="{esc(action)}" class="repair">{hidden}'
        '<input type="hidden" name="action" value="repair"><input type="hidden" name="note" value="">'
        "<button type=submit>Repair: ask the provider again and apply · 重新查询并修复</button></form>"
    )


def _mismatch(request: web.Request, m: pb.Mismatch, back: str) -> str:
    obj = f"/ops/{quote(m.object_kind)}/{quote(m.object_id)}"
    actions = "".join(
        f"<tr><td>{esc(a.action)}</td><td>{esc(a.actor)}</td><td>{esc(a.note)}</td>"
        f"<td>{esc(a.outcome)}</td><td>{esc(a.created_at.ToDatetime().strftime('%Y-%m-%d %H:%M:%S'))}</td></tr>"
        for a in m.actions
    )
    history = f'<table class="list actions">{actions}</table>' if actions else ""
    resolved = (
        f" · <span class=resolution>{esc(m.resolution)}</span> by {esc(m.resolved_by)}"
        f"{': ' + esc(m.note) if m.note else ''}"
        if m.status != "OPEN"
        else ""
    )
    return (
        f'<div class="field mismatch" data-mismatch="{esc(m.mismatch_id)}" data-kind="{esc(m.kind)}">'
        f"<strong>{esc(KINDS.get(m.kind, m.kind))}</strong> {esc(m.object_kind)} "
        f'<a href="{esc(obj)}">{esc(m.object_id)}</a> · app {esc(m.app_id or "–")} · '
        f"<span class=mismatch-status>{esc(m.status)}</span>{resolved}<br>"
        f"paymesh: {esc(m.ours_state or '–')} {yuan(m.ours_amount)} · provider · 渠道: "
        f"{esc(m.provider_state or '–')} {yuan(m.provider_amount)} · {esc(m.detail)}"
        f"{history}{_resolve_forms(request, m, back)}</div>"
    )


async def run_page(request: web.Request) -> web.StreamResponse:
    channel, account_id = request.match_info["channel"], request.match_info["account_id"]
    day = request.match_info["bill_date"]
    kind, st = request.query.get("kind", ""), request.query.get("status", "")
    title = f"Reconciliation · 对账 {channel}/{account_id} {day}"
    if not valid_day(day) or (kind and kind not in KINDS) or (st and st not in STATUSES):
        return html_page(request, title, banner("unknown day, type or status"), 400)
    client = _client(request)
    try:
        run = await client.run_of(channel, account_id, day)
        rows = await client.mismatches(run.run_id, st)
    except FAILURES as e:
        return _failed(request, title, e)
    counts: dict[str, int] = {}
    for m in rows:
        counts[m.kind] = counts.get(m.kind, 0) + 1
    back = run_url(channel, account_id, day, kind=kind, status=st)
    shown = "".join(_mismatch(request, m, back) for m in rows if not kind or m.kind == kind)
    done = request.query.get("resolved") or request.query.get("ran")
    ok = banner("Done · 已完成" + (f": {done}" if done else ""), "ok") if done else ""
    error = f'<div class="banner error">{esc(run.error)}</div>' if run.error else ""
    rerun = _run_form(request, [f"{channel}/{account_id}"], f"{channel}/{account_id}", day)
    body = (
        f"{ok}{error}{_runs_table([run])}<h2>Mismatches · 差错</h2>"
        f"{_filter_links(run, counts, kind, st)}"
        f"{shown or '<p class=muted>none · 无</p>'}{rerun}"
    )
    return html_page(request, title, body)


async def _audit(request: web.Request, action: str, key: str, outcome: str, detail: str) -> None:
    await console_of(request).audit.record(
        actor=session_of(request).operator.username, source="console", action=action,
        key=key, outcome=outcome, detail=detail[:200], remote=remote_of(request),
    )  # fmt: skip


async def run_now(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    account, day = str(form.get("account", "")), str(form.get("date", "")) or today()
    channel, _, account_id = account.partition("/")
    if not channel or not account_id or not valid_day(day):
        msg = "choose a channel account and a day (yyyy-MM-dd)"
        return html_page(request, "Reconciliation · 对账", banner(msg), 400)
    key = f"recon/run/{channel}/{account_id}/{day}"
    try:
        answer = await _client(request).run(channel, account_id, day)
    except FAILURES as e:
        await _audit(request, "recon.run", key, "failed", rpc_error(e)[1])
        return _failed(request, "Reconciliation · 对账", e)
    run = answer.run
    await _audit(request, "recon.run", key, "ok", f"{run.status} mismatches={run.mismatch_count}")
    raise web.HTTPSeeOther(run_url(channel, account_id, day, ran=run.status))


async def resolve(request: web.Request) -> web.StreamResponse:
    mismatch_id = request.match_info["mismatch_id"]
    form = await request.post()
    action, note = str(form.get("action", "")), str(form.get("note", "")).strip()[:500]
    back = str(form.get("back", ""))
    if not back.startswith("/recon/runs/"):
        back = "/recon"
    if action not in ACTIONS:
        return html_page(
            request, "Resolve · 处理差错", banner("action must be accept or repair"), 400
        )
    actor = session_of(request).operator.username
    try:
        row = await _client(request).resolve(mismatch_id, action, note, actor)
    except FAILURES as e:
        await _audit(request, f"recon.{action}", f"recon/mismatch/{mismatch_id}", "refused",
                     rpc_error(e)[1])  # fmt: skip
        status, message = rpc_error(e)
        link = f'<p><a href="{esc(back)}">Back to the run · 返回</a></p>'
        return html_page(request, "Resolve · 处理差错", banner(message) + link, status)
    sep = "&" if "?" in back else "?"
    raise web.HTTPSeeOther(
        f"{back}{sep}{urlencode({'resolved': f'{row.mismatch_id} {row.status}'})}"
    )


async def _settlement(request: web.Request) -> tuple[str, Any]:
    day = request.query.get("date", "") or today()
    if not valid_day(day):
        raise web.HTTPBadRequest(text="date must be yyyy-MM-dd")
    return day, await _client(request).settlement(day)


async def settlement_page(request: web.Request) -> web.StreamResponse:
    title = "Settlement · 结算汇总"
    try:
        day, answer = await _settlement(request)
    except FAILURES as e:
        return _failed(request, title, e)
    rows = list(answer.summaries)
    total = [sum(getattr(s, f) for s in rows) for f in (
        "payment_count", "payment_amount", "refund_count", "refund_amount", "fee_amount",
        "net_amount",
    )]  # fmt: skip

    def cells(app: str, channel: str, v: list[int]) -> str:
        return (
            f"<td>{esc(app)}</td><td>{esc(channel)}</td><td>{v[0]}</td><td>{yuan(v[1])}</td>"
            f"<td>{v[2]}</td><td>{yuan(v[3])}</td><td>{yuan(v[4])}</td><td>{yuan(v[5])}</td>"
        )

    body_rows = "".join(
        f"<tr>{cells(s.app_id, s.channel, [s.payment_count, s.payment_amount, s.refund_count, s.refund_amount, s.fee_amount, s.net_amount])}</tr>"
        for s in rows
    )
    table = (
        '<table class="list" id="settlement"><tr><th>app · 应用</th><th>channel · 渠道</th>'
        "<th>payments · 收款笔数</th><th>amount · 收款金额</th><th>refunds · 退款笔数</th>"
        "<th>refunded · 退款金额</th><th>fees · 手续费</th><th>net · 净额</th></tr>"
        f"{body_rows}<tr class=total>{cells('total · 合计', '', total)}</tr></table>"
        if rows
        else '<p class="muted">No matched bill lines for this day · 当日无已对平记录</p>'
    )
    body = (
        '<form method="get" action="/recon/settlement" class="field"><label for="s-date">'
        f'Day · 日期</label><input type="text" id="s-date" name="date" value="{esc(day)}">'
        '<button type="submit">Show · 查看</button></form>'
        f'<p class="muted">Amounts in yuan (元), from the matched bill lines of {esc(day)}.</p>'
        f'{table}<p><a id="csv" href="/recon/settlement.csv?date={esc(day)}">'
        'Export CSV (fen) · 导出 CSV</a> · <a href="/recon">Runs · 对账批次</a></p>'
    )
    return html_page(request, f"{title} {day}", body)


async def settlement_csv(request: web.Request) -> web.StreamResponse:
    try:
        day, answer = await _settlement(request)
    except FAILURES as e:
        status, message = rpc_error(e)
        return web.Response(status=status, text=message + "\n", content_type="text/plain")
    return web.Response(
        text=answer.csv, content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="settlement-{day}.csv"'},
    )  # fmt: skip


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/recon", runs_page)
    r.add_post("/recon/run", run_now)
    r.add_get("/recon/runs/{channel}/{account_id}/{bill_date}", run_page)
    r.add_post("/recon/mismatches/{mismatch_id}/resolve", resolve)
    r.add_get("/recon/settlement", settlement_page)
    r.add_get("/recon/settlement.csv", settlement_csv)


__all__ = ["add_routes", "yuan"]
