"""The cashier's HTTP handlers (aiohttp), behind Envoy at `/cashier/`.

- `GET  /cashier/o/{token}`: the order's page. In a wallet's browser (User-Agent): WeChat
  first goes through WeChat's silent OAuth (snsapi_base) for the payer's openid, then shows
  a pay button; Alipay and UnionPay show a pay button. Anywhere else: the chooser (QR codes
  to scan with a wallet, and the wallets that also pay in a browser).
- `POST /cashier/o/{token}/pay`: the payer commits; the trade starts (`flow.commit`).
- `GET|POST /cashier/o/{token}/result`: the outcome, settled by the callback or by a query
  (at most one per order every 1.5 s: `pacing.QueryPacer`).
- `GET|POST /cashier/s/{token}`: an app's static counter code: the payer enters the amount
  and submitting creates the order.
A link that does not verify, or is past its expiry, shows a clear page and creates nothing.
"""

from __future__ import annotations

import io
import re
import secrets
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import segno
from aiohttp import web

from paymesh.cashier import pages
from paymesh.cashier.flow import CommitRefused, commit, settled
from paymesh.cashier.pacing import QueryPacer
from paymesh.cashier.wallets import detect
from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as ch
from paymesh.channels.alipay import oauth as alipay_oauth
from paymesh.channels.alipay.config import AlipayAccount
from paymesh.channels.wechat import oauth as wechat_oauth
from paymesh.channels.wechat.config import WechatAccount
from paymesh.config.apps import AppConfig
from paymesh.core import cashier_links as links
from paymesh.core.cashier import (
    CASHIER_METHOD,
    IN_APP,
    WALLETS,
    Attempt,
    Wallet,
    browser_wallets,
    in_app_wallet,
    links_key,
    offered_wallets,
    order_pay_data,
    wallet_route,
)
from paymesh.core.db.models import OrderStatus, PayOrder
from paymesh.core.db.orders import NewOrder
from paymesh.core.deps import CoreDeps
from paymesh.errors import AppNotFound, ChannelError, ChannelUnavailable, PaymeshError
from paymesh.runtime.http_observe import observed
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.cashier.web")
MAX_STATIC_AMOUNT = 10**8  # fen: 1,000,000 yuan through a counter code at most
AMOUNT = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,2})?$")


@dataclass
class Cashier:
    deps: CoreDeps
    base_url: str  # the public edge URL
    sandbox_url: str = ""  # tests and `paymesh dev` only
    pacer: QueryPacer = field(default_factory=QueryPacer)  # provider queries per order

    def order_url(self, token: str, suffix: str = "") -> str:
        return f"{self.base_url.rstrip('/')}{links.PATH_PREFIX}/o/{token}{suffix}"


CASHIER = web.AppKey("cashier", Cashier)


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
    )


def _problem(kind: str, status: int, detail: str = "", back: str = "") -> web.Response:
    return _html(pages.problem_page(kind, detail, back), status)


def _wallet_of(request: web.Request, c: Cashier) -> str | None:
    forced = request.query.get("as", "")
    if c.sandbox_url and forced in IN_APP:
        return forced
    return detect(request.headers.get("User-Agent", ""))


def _as_suffix(request: web.Request, c: Cashier) -> str:
    forced = request.query.get("as", "")
    return f"?as={forced}" if c.sandbox_url and forced in IN_APP else ""


# Wallet browsers: how each is named on the chooser's QR codes.
TITLES = {"wechat": ("微信", "WeChat"), "alipay": ("支付宝", "Alipay"),
          "unionpay": ("云闪付", "UnionPay QuickPass")}  # fmt: skip


def _client_ip(request: web.Request) -> str:
    forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
    return (forwarded or request.remote or "")[:64]


def _qr_svg(data: str) -> str:
    out = io.BytesIO()
    segno.make(data, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False)
    return out.getvalue().decode("utf-8")


async def _link(request: web.Request, kind: links.LinkKind) -> links.Link | web.Response:
    c = request.app[CASHIER]
    try:
        link = links.verify(request.match_info["token"], links_key(), c.deps.clock())
    except links.LinkExpired:
        return _problem("expired", 410)
    except links.LinkInvalid:
        return _problem("invalid", 400)
    if link.kind != kind:
        return _problem("invalid", 400)
    return link


async def _order(request: web.Request) -> tuple[PayOrder, AppConfig] | web.Response:
    got = await _link(request, links.LinkKind.ORDER)
    if isinstance(got, web.Response):
        return got
    c = request.app[CASHIER]
    order = await c.deps.store.get_order(got.order_id, got.app_id)
    if order is None or order.method != CASHIER_METHOD:
        return _problem("invalid", 404)
    try:
        app = await c.deps.config.get_app(order.app_id)
    except AppNotFound:
        return _problem("invalid", 404)
    return order, app


def _view(order: PayOrder, app: AppConfig) -> pages.OrderView:
    return pages.OrderView(app.name or app.app_id, order.subject, order.amount, order.order_id)


def _closed_page(order: PayOrder, now_expired: bool) -> web.Response | None:
    if order.status == OrderStatus.CLOSED.value:
        return _problem("expired" if now_expired else "closed", 410)
    if order.status == OrderStatus.FAILED.value:
        return _problem("failed", 410)
    return None


async def order_page(request: web.Request) -> web.StreamResponse:
    got = await _order(request)
    if isinstance(got, web.Response):
        return got
    order, app = got
    c = request.app[CASHIER]
    token = request.match_info["token"]
    now = c.deps.clock()
    if order.status == OrderStatus.PAID.value:
        raise web.HTTPSeeOther(c.order_url(token, "/result"))
    expired = order.expire_time <= now
    closed = _closed_page(order, expired)
    if closed is not None:
        return closed
    if expired:
        return _problem("expired", 410)
    view = _view(order, app)
    detected = _wallet_of(request, c)
    suffix = _as_suffix(request, c)
    action = c.order_url(token, "/pay") + suffix
    if detected is None:
        qr = _qr_svg(c.order_url(token))
        choices = [pages.WalletChoice(name, *TITLES[name], qr) for name in offered_wallets(app)]
        buttons = [(w.name, w.title_zh, w.title_en) for w in browser_wallets(app)]
        return _html(pages.chooser_page(view, choices, buttons, action))
    wallet = in_app_wallet(app, detected)
    target = wallet_route(app, wallet) if wallet is not None else None
    if wallet is None or target is None:
        return _problem("no_wallet", 409)
    fields = {"wallet": wallet.name}
    if wallet.oauth:
        payer = await _payer_id(request, c, token, wallet, target.account_id, suffix)
        if isinstance(payer, web.StreamResponse):
            return payer
        fields |= {"payer": payer, "payer_sig": links.sub_token(links_key(), "payer", token, payer)}
    return _html(
        pages.confirm_page(view, wallet.channel, wallet.title_zh, wallet.title_en, action, fields)
    )


async def _payer_id(
    request: web.Request, c: Cashier, token: str, wallet: Wallet, account_id: str, suffix: str
) -> str | web.StreamResponse:
    """The payer's id at the wallet (WeChat openid, Alipay user id): from the wallet's OAuth
    redirect back (code + state), or off to the wallet's silent authorization for one."""
    state = links.sub_token(links_key(), "oauth", token, wallet.channel)
    account = await c.deps.config.get_channel_account(wallet.channel, account_id)
    redirect_uri = c.order_url(token) + suffix
    if isinstance(account, WechatAccount):
        code = request.query.get("code", "")
        authorize = wechat_oauth.authorize_url(account, redirect_uri, state)
    elif isinstance(account, AlipayAccount):
        code = request.query.get(alipay_oauth.CODE_PARAM, "")
        authorize = alipay_oauth.authorize_url(account, redirect_uri, state)
    else:
        return _problem("no_wallet", 409)
    if not code:
        raise web.HTTPFound(authorize)
    if request.query.get("state", "") != state:
        return _problem("invalid", 400, "OAuth state does not match")
    call = ch.IdentifyPayerRequest(
        account=channel_pb2.AccountRef(channel=wallet.channel, account_id=account_id), code=code
    )
    try:
        resp = await c.deps.channels.call("IdentifyPayer", call, kind="order", object_id="")
    except ChannelUnavailable:
        return _problem("unavailable", 503)
    except (ChannelError, PaymeshError) as e:
        return _problem("refused", 409, e.message)
    payer_id: str = resp.payer_id
    return payer_id


async def pay(request: web.Request) -> web.StreamResponse:
    got = await _order(request)
    if isinstance(got, web.Response):
        return got
    order, app = got
    c = request.app[CASHIER]
    token = request.match_info["token"]
    form = await request.post()
    wallet = WALLETS.get(str(form.get("wallet", "")))
    if wallet is None:
        return _problem("no_wallet", 400)
    payer = ""
    if wallet.oauth:
        payer = str(form.get("payer", ""))
        want = links.sub_token(links_key(), "payer", token, payer)
        if not payer or str(form.get("payer_sig", "")) != want:
            return _problem("invalid", 400, "payer does not match")
    back = c.order_url(token) + _as_suffix(request, c)
    result_url = c.order_url(token, "/result")
    try:
        done = await commit(
            c.deps, order, wallet, payer, return_url=result_url, client_ip=_client_ip(request)
        )
    except CommitRefused as e:
        if e.kind == "paid":
            raise web.HTTPSeeOther(result_url) from e
        log.info("cashier_commit_refused", order_id=order.order_id, kind=e.kind, detail=e.detail)
        status = {"expired": 410, "closed": 410, "failed": 410, "unavailable": 503}.get(e.kind, 409)
        return _problem(e.kind, status, e.detail, back)
    if done.order.status == OrderStatus.PAID.value:
        raise web.HTTPSeeOther(result_url)
    return _pay_step(c, done.attempt, _view(done.order, app), result_url)


def _pay_step(
    c: Cashier, attempt: Attempt, view: pages.OrderView, result_url: str
) -> web.StreamResponse:
    data = attempt.pay_data
    params = {str(k): str(v) for k, v in dict(data.get("app_params") or {}).items()}
    stub = f"{c.sandbox_url}/_sandbox/wallet/{attempt.channel}.js" if c.sandbox_url else ""
    if (attempt.channel, attempt.method) == ("wechat", "jsapi"):
        return _html(pages.wechat_pay_page(view, params, result_url, stub))
    if (attempt.channel, attempt.method) == ("alipay", "jsapi"):
        return _html(pages.alipay_pay_page(view, params.get("tradeNO", ""), result_url, stub))
    if data.get("pay_url"):
        raise web.HTTPSeeOther(str(data["pay_url"]))
    form_html = str(data.get("form_html", ""))
    if form_html:
        found = re.search(r'id="([A-Za-z0-9_-]+)"', form_html)
        button = (
            f'<noscript><button class="pay" form="{found.group(1)}" type="submit">继续支付'
            '<span class="en">Continue</span></button></noscript>'
            if found
            else ""
        )
        body = f'<section class="card"><p>正在前往支付…<span class="en">Continuing to pay…</span></p>{form_html}{button}</section>'
        return _html(pages.layout("正在支付", "Paying", body))
    return _problem("unavailable", 502, "the channel gave nothing to open")


async def result(request: web.Request) -> web.StreamResponse:
    got = await _order(request)
    if isinstance(got, web.Response):
        return got
    order, app = got
    c = request.app[CASHIER]
    token = request.match_info["token"]
    if c.pacer.take(order.order_id):
        order = await settled(c.deps, order, c.deps.clock())
    return _html(
        pages.result_page(
            _view(order, app), order.status, c.order_url(token, "/result"), order.return_url
        )
    )


def parse_yuan(text: str) -> int | None:
    """ "12.34" -> 1234 fen; None unless a positive amount with at most two decimals."""
    text = text.strip()
    if not AMOUNT.match(text):
        return None
    try:
        fen = int(Decimal(text) * 100)
    except InvalidOperation:
        return None
    return fen if 0 < fen <= MAX_STATIC_AMOUNT else None


async def static_code(request: web.Request) -> web.StreamResponse:
    got = await _link(request, links.LinkKind.STATIC)
    if isinstance(got, web.Response):
        return got
    c = request.app[CASHIER]
    try:
        app = await c.deps.config.get_app(got.app_id)
    except AppNotFound:
        return _problem("invalid", 404)
    if not app.enabled or not offered_wallets(app):
        return _problem("no_wallet", 409)
    merchant = app.name or app.app_id
    if request.method == "GET":
        return _html(pages.static_page(merchant, request.path_qs))
    form = await request.post()
    raw = str(form.get("amount", ""))
    fen = parse_yuan(raw)
    if fen is None:
        text = pages.PROBLEMS["amount"]
        return _html(pages.static_page(merchant, request.path_qs, f"{text[2]} {text[3]}", raw), 400)
    created = await c.deps.store.insert_order(
        NewOrder(
            app_id=app.app_id,
            out_trade_no=f"cashier-{secrets.token_hex(12)}",
            amount=fen,
            channel="",
            account_id="",
            method=CASHIER_METHOD,
            subject=f"{merchant} 收款",
            notify_url=app.notify_url or "",
            client_ip=_client_ip(request),
            metadata={"cashier": "static"},
        )
    )
    order = created.row
    pay_data = order_pay_data(c.base_url, order.app_id, order.order_id, order.expire_time)
    await c.deps.store.store_pay_data(order.order_id, pay_data)
    log.info("cashier_static_order", app_id=app.app_id, order_id=order.order_id, amount=fen)
    raise web.HTTPSeeOther(str(pay_data["pay_url"]) + _as_suffix(request, c))


async def healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def build_app(cashier: Cashier) -> web.Application:
    app = web.Application(client_max_size=64 * 1024, middlewares=[observed("cashier")])
    app[CASHIER] = cashier
    p = links.PATH_PREFIX
    app.router.add_get(p + "/healthz", healthz)
    app.router.add_get(p + "/o/{token}", order_page)
    app.router.add_post(p + "/o/{token}/pay", pay)
    app.router.add_route("GET", p + "/o/{token}/result", result)
    app.router.add_route("POST", p + "/o/{token}/result", result)
    app.router.add_route("GET", p + "/s/{token}", static_code)
    app.router.add_route("POST", p + "/s/{token}", static_code)
    return app


__all__ = ["CASHIER", "Cashier", "build_app", "parse_yuan"]
