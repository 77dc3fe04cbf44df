"""The sandbox plays Alipay's in-app side for the cashier (JSAPI in Alipay's browser).

Modelled from Alipay's documentation and SDKs (see `paymesh.channels.alipay.oauth`):

- `GET /oauth2/publicAppAuthorize.htm?app_id&scope=auth_base&redirect_uri&state`: silent
  (auth_base): 302 to `redirect_uri?app_id&source=alipay_wallet&scope&auth_code&state`.
  auth_user is accepted the same way (no consent screen in the sandbox).
- gateway method `alipay.system.oauth.token` (`grant_type=authorization_code`, `code`, as
  request parameters): `{user_id, open_id, access_token, expires_in, refresh_token,
  re_expires_in, auth_start}`; a code that is unknown, expired (5 minutes), used or issued
  to another app answers `error_response` 40002 `isv.code-invalid`.
- gateway method `alipay.trade.create` (product_code JSAPI_PAY, `buyer_id` or
  `buyer_open_id` required): opens the trade for that buyer, answers `trade_no`.
- `GET /_sandbox/wallet/alipay.js`: a stub of `AlipayJSBridge` (fires `AlipayJSBridgeReady`):
  `call('tradePay', {tradeNO}, cb)` shows a pay sheet and answers `{resultCode}`: 9000
  paid, 6001 cancelled by the payer, 4000 failed (Alipay's JSAPI tradePay result codes).
- `POST /_sandbox/wallet/alipay/pay`: what the sheet calls: the trade of `tradeNO` must be
  open and created for this payer (the sandbox's payer cookie).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from paymesh.channels.sandbox import alipay_params as ap
from paymesh.channels.sandbox.alipay_errors import CHANNEL, invalid
from paymesh.channels.sandbox.alipay_params import Json, Params, ok
from paymesh.channels.sandbox.control import STATE_KEY
from paymesh.channels.sandbox.state import Merchant, Trade, TradeStatus, now, random_token
from paymesh.channels.sandbox.wechat_oauth import PAYER_COOKIE
from paymesh.money import yuan

if TYPE_CHECKING:
    from paymesh.channels.sandbox.alipay_api import AlipayApi

CODE_TTL_SECONDS = 300
SCOPES = ("auth_base", "auth_user")

BRIDGE_JS = r"""
(function () {
  if (window.AlipayJSBridge) { return; }
  var base = __BASE__;
  function post(body) {
    return fetch(base + '/_sandbox/wallet/alipay/pay', {
      method: 'POST', credentials: 'include', body: JSON.stringify(body),
      headers: {'Content-Type': 'text/plain'}
    }).then(function (r) { return r.json(); })
      .catch(function () { return {resultCode: '4000'}; });
  }
  function sheet(info, onPay, onCancel) {
    var d = document.createElement('div');
    d.id = 'sandbox-alipay-sheet';
    d.setAttribute('role', 'dialog');
    d.style.cssText = 'position:fixed;left:0;right:0;bottom:0;background:#fff;padding:16px;' +
      'border-radius:12px 12px 0 0;box-shadow:0 -2px 12px rgba(0,0,0,.25);font:16px system-ui;z-index:9';
    d.innerHTML = '<p style="margin:0;color:#666">支付宝 Alipay (sandbox)</p>' +
      '<p class="sheet-merchant"></p><p class="sheet-amount" style="font-size:32px;margin:8px 0"></p>' +
      '<button class="sheet-pay" style="width:100%;padding:12px;background:#1677ff;color:#fff;border:0;border-radius:8px;font-size:17px">确认付款 Pay</button>' +
      '<button class="sheet-cancel" style="width:100%;padding:12px;margin-top:8px;border:0;border-radius:8px">取消 Cancel</button>';
    d.querySelector('.sheet-merchant').textContent = info.subject;
    d.querySelector('.sheet-amount').textContent = '¥' + info.amount_yuan;
    d.querySelector('.sheet-pay').onclick = function () { d.remove(); onPay(); };
    d.querySelector('.sheet-cancel').onclick = function () { d.remove(); onCancel(); };
    document.body.appendChild(d);
  }
  window.AlipayJSBridge = {
    call: function (name, params, cb) {
      cb = cb || function () {};
      if (name !== 'tradePay') { cb({error: 1, errorMessage: 'not in the sandbox'}); return; }
      post({action: 'preview', tradeNO: params && params.tradeNO}).then(function (info) {
        if (info.resultCode) { cb(info); return; }
        sheet(info, function () { post({action: 'pay', tradeNO: params.tradeNO}).then(cb); },
              function () { cb({resultCode: '6001', memo: '用户中途取消'}); });
      });
    }
  };
  function ready() { document.dispatchEvent(new Event('AlipayJSBridgeReady')); }
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', ready); }
  else { setTimeout(ready, 0); }
})();
"""


@dataclass
class AuthCode:
    app_id: str
    user_id: str
    issued: float
    used: bool = False


class AlipayWallet:
    def __init__(self, api: AlipayApi) -> None:
        self.api = api
        self.state = api.state
        self.codes: dict[str, AuthCode] = {}
        self._key = secrets.token_bytes(32)

    def methods(self) -> dict[str, Any]:
        return {"alipay.system.oauth.token": self.oauth_token, "alipay.trade.create": self.create}

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/oauth2/publicAppAuthorize.htm", self.authorize),
            web.get("/_sandbox/wallet/alipay.js", self.bridge_js),
            web.post("/_sandbox/wallet/alipay/pay", self.pay),
        ]

    def user_id(self, app_id: str, payer: str) -> str:
        digest = hmac.new(self._key, f"{app_id}|{payer}".encode(), hashlib.sha256).digest()
        return "2088" + str(int.from_bytes(digest[:8], "big"))[-12:].zfill(12)

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        app_id = q.get("app_id", "")
        if self.state.merchant(CHANNEL, app_id) is None:
            return _browser_error("app_id 无效 (invalid app_id)")
        redirect_uri = q.get("redirect_uri", "")
        parts = urlsplit(redirect_uri)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return _browser_error("redirect_uri 无效")
        scope = q.get("scope", "")
        if scope not in SCOPES:
            return _browser_error("scope 无效")
        payer = request.cookies.get(PAYER_COOKIE) or random_token(24)
        code = random_token(32)
        self.codes[code] = AuthCode(app_id, self.user_id(app_id, payer), time.monotonic())
        back = urlencode(
            {"app_id": app_id, "source": "alipay_wallet", "scope": scope, "auth_code": code,
             "state": q.get("state", "")}
        )  # fmt: skip
        found = web.HTTPFound(f"{redirect_uri}{'&' if parts.query else '?'}{back}")
        found.set_cookie(PAYER_COOKIE, payer, httponly=True, samesite="Lax", path="/")
        raise found

    async def oauth_token(
        self, request: web.Request, m: Merchant, params: Params, biz: Json
    ) -> Json:
        if params.get("grant_type") != "authorization_code":
            raise invalid("isv.grant-type-invalid", "不支持的grant_type")
        issued = self.codes.get(params.get("code", ""))
        fresh = issued is not None and time.monotonic() - issued.issued <= CODE_TTL_SECONDS
        if issued is None or not fresh or issued.used or issued.app_id != m.app_id:
            raise invalid("isv.code-invalid", "授权码code无效")
        issued.used = True
        return {
            "user_id": issued.user_id,
            "open_id": "",
            "access_token": "authbseB" + random_token(32),
            "expires_in": 1296000,
            "refresh_token": "authbseB" + random_token(32),
            "re_expires_in": 2592000,
            "auth_start": now().astimezone().strftime("%Y-%m-%d %H:%M:%S"),
        }

    async def create(self, request: web.Request, m: Merchant, params: Params, biz: Json) -> Json:
        buyer = ap.str_param(biz, "buyer_id", 28, required=False) or ap.str_param(
            biz, "buyer_open_id", 128, required=False
        )
        if not buyer:
            raise ap.bad("buyer_id or buyer_open_id is required")
        trade, new = self.api._open_trade(m, params, biz, "jsapi")
        if new:
            trade.extra["buyer_id"] = buyer
        elif trade.extra.get("buyer_id") != buyer:
            raise ap.bad("the trade was created for another buyer")
        return ok(out_trade_no=trade.out_trade_no, trade_no=trade.channel_trade_no)

    async def bridge_js(self, request: web.Request) -> web.Response:
        base = (
            self.state.public_url
            or f"{request.scheme}://{request.headers.get('Host') or request.host}"
        )
        return web.Response(
            text=BRIDGE_JS.replace("__BASE__", json.dumps(base)),
            content_type="application/javascript",
        )

    def _trade(self, request: web.Request, trade_no: str) -> Trade | str:
        for trade in self.state.trades.values():
            if (
                trade.channel != CHANNEL
                or trade.channel_trade_no != trade_no
                or trade.method != "jsapi"
            ):
                continue
            merchant = self.state.merchant(CHANNEL, trade.merchant_id)
            payer = request.cookies.get(PAYER_COOKIE, "")
            if (
                merchant is None
                or not payer
                or self.user_id(merchant.app_id, payer) != trade.extra.get("buyer_id")
            ):
                return "the trade was created for another Alipay user"
            self.api._expire(trade)
            if trade.status != TradeStatus.PENDING:
                return f"trade is {trade.status}"
            return trade
        return "trade not found"

    async def pay(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.text())
        except ValueError:
            body = None
        found = (
            self._trade(request, str(body.get("tradeNO", "")))
            if isinstance(body, dict)
            else "bad body"
        )
        if isinstance(found, str):
            answer: dict[str, Any] = {"resultCode": "4000", "memo": found}
        elif body.get("action") == "preview":
            answer = {
                "subject": found.subject,
                "amount_yuan": yuan(found.amount),
            }
        elif body.get("action") == "pay":
            request.app[STATE_KEY].settle(found, "paid")
            answer = {"resultCode": "9000", "memo": "支付成功"}
        else:
            answer = {"resultCode": "4000", "memo": "unknown action"}
        response = web.json_response(answer)
        origin = request.headers.get("Origin")
        if origin:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
        return response


def _browser_error(text: str) -> web.Response:
    return web.Response(
        text=f"<!doctype html><meta charset=utf-8><title>支付宝</title><p class=oauth-error>{text}</p>",
        content_type="text/html",
        status=400,
    )


__all__ = ["AlipayWallet"]
