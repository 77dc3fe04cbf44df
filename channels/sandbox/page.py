"""The payer page: a person "scans" a QR code or opens an H5 link and pays in a browser.

`GET /_sandbox/` lists open trades; `GET /_sandbox/pay/{channel}/{out_trade_no}` shows one
with Pay / Cancel / Fail buttons (plain forms posting back, no JavaScript). The `code_url`
and `h5_url` the sandbox hands out point here (an http URL rather than WeChat's
`weixin://wxpay/bizpayurl?pr=..`, so that a QR code made from it opens in any browser).
JSAPI and app trades only get a `prepay_id`; they are paid from the list of open trades.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from aiohttp import web

from paymesh.channels.sandbox.control import STATE_KEY, ControlError, base_url, find_trade
from paymesh.channels.sandbox.state import Trade, TradeStatus, rfc3339
from paymesh.money import yuan

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem}
.amount{font-size:2.5rem;margin:1rem 0}button{font-size:1.1rem;margin-right:.5rem;padding:.5rem 1.2rem}
.pay{background:#07c160;color:#fff;border:0}.state{font-weight:bold}
"""


def _html(title: str, body: str, status: int = 200) -> web.Response:
    doc = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<meta name='viewport' content='width=device-width'><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=doc, content_type="text/html", status=status)


def _page_path(t: Trade) -> str:
    query = urlencode({"merchant_id": t.merchant_id})
    return f"/_sandbox/pay/{escape(t.channel)}/{escape(t.out_trade_no)}?{escape(query)}"


async def index(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    rows = "".join(
        f"<tr><td>{escape(t.channel)}</td><td>{escape(t.merchant_id)}</td>"
        f"<td><a href='{_page_path(t)}'>{escape(t.out_trade_no)}</a></td>"
        f"<td>{escape(t.subject)}</td><td>¥{yuan(t.amount)}</td></tr>"
        for t in state.trades.values()
        if t.status == TradeStatus.PENDING
    )
    table = (
        "<table><tr><th>channel</th><th>merchant</th><th>order</th><th>subject</th>"
        f"<th>amount</th></tr>{rows}</table>"
        if rows
        else "<p>No open trades.</p>"
    )
    wallets = (
        "<p><a href='/_sandbox/wallet'>钱包模拟 · Scan a cashier code as WeChat, Alipay or "
        "UnionPay</a></p>"
    )
    return _html("paymesh sandbox: open trades", table + wallets)


async def show(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    channel = request.match_info["channel"]
    try:
        trade = find_trade(
            state, channel, request.match_info["no"], request.query.get("merchant_id")
        )
    except ControlError as e:
        return _html("Trade not found", f"<p>{escape(e.message)}</p>", status=e.status)
    provider = state.providers[channel]
    facts = (
        f"<p>{escape(trade.subject)}</p><div class='amount'>¥{yuan(trade.amount)}</div>"
        f"<p>merchant {escape(trade.merchant_id)} · order {escape(trade.out_trade_no)} · "
        f"state <span class='state'>{escape(provider.trade_state(trade))}</span></p>"
    )
    if trade.status == TradeStatus.PENDING:
        facts += (
            f"<form method='post' action='{_page_path(trade)}'>"
            "<button class='pay' name='outcome' value='paid'>Pay</button>"
            "<button name='outcome' value='cancel'>Cancel</button>"
            "<button name='outcome' value='fail'>Fail</button></form>"
        )
    elif trade.paid_at:
        facts += f"<p>Paid at {escape(rfc3339(trade.paid_at) or '')}.</p>"
        facts += provider.after_payment_html(trade)
    facts += f"<p><a href='{escape(base_url(request))}/_sandbox/'>All open trades</a></p>"
    return _html(f"{channel} sandbox payment", facts)


async def submit(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    form = await request.post()
    channel = request.match_info["channel"]
    if channel not in state.providers:
        return _html("Unknown channel", "", status=404)
    try:
        trade = find_trade(
            state, channel, request.match_info["no"], request.query.get("merchant_id")
        )
        state.settle(trade, str(form.get("outcome", "paid")))
    except ControlError as e:
        return _html("Cannot pay", f"<p>{escape(e.message)}</p>", status=e.status)
    except ValueError as e:
        return _html("Cannot pay", f"<p>{escape(str(e))}</p>", status=409)
    raise web.HTTPSeeOther(_page_path(trade).replace("&amp;", "&"))


def routes() -> list[web.RouteDef]:
    return [
        web.get("/_sandbox/", index),
        web.get("/_sandbox/pay/{channel}/{no}", show),
        web.post("/_sandbox/pay/{channel}/{no}", submit),
    ]
