"""The sandbox plays the payer's wallets for the cashier (paymesh's own checkout page).

- `GET /_sandbox/wallet/wechat.js`: a stub of the `WeixinJSBridge` WeChat's browser
  provides. `invoke('getBrandWCPayRequest', params, cb)` shows a pay sheet (the amount and
  the merchant, 确认支付 / 取消) and answers the callback as WeChat does:
  `{err_msg: "get_brand_wcpay_request:ok" | ":cancel" | ":fail"}` (WeChat Pay JSAPI
  documentation, "JSAPI调起支付"). It fires `WeixinJSBridgeReady` like the real bridge.
- `POST /_sandbox/wallet/wechat/pay`: what the sheet calls: checks `paySign` (SHA256withRSA
  by the merchant's key over `appId\\ntimeStamp\\nonceStr\\npackage\\n`), that the trade of
  `prepay_id` is open, and that the payer (the sandbox's payer cookie) is the openid the
  trade was created for; `preview` answers what the sheet shows, `pay` pays it (the
  provider's callback follows).
- `GET /_sandbox/wallet`: "scan" a cashier code as a wallet: open a cashier URL as WeChat,
  Alipay or UnionPay (`?as=` that a cashier in sandbox mode honours; a test's browser can
  send the wallet's real User-Agent instead).
"""

from __future__ import annotations

import io
import json
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import segno
from aiohttp import web

from paymesh.channels.sandbox.control import STATE_KEY
from paymesh.channels.sandbox.state import Trade, TradeStatus, now
from paymesh.channels.sandbox.wechat_oauth import PAYER_COOKIE, WeChatOAuth
from paymesh.channels.wechat.sign import build_message, rsa_verify
from paymesh.money import yuan

WALLETS = {"wechat": "微信 WeChat", "alipay": "支付宝 Alipay", "unionpay": "云闪付 UnionPay"}

BRIDGE_JS = r"""
(function () {
  if (window.WeixinJSBridge) { return; }
  var base = __BASE__;
  function post(body) {
    return fetch(base + '/_sandbox/wallet/wechat/pay', {
      method: 'POST', credentials: 'include', body: JSON.stringify(body),
      headers: {'Content-Type': 'text/plain'}
    }).then(function (r) { return r.json(); })
      .catch(function () { return {err_msg: 'get_brand_wcpay_request:fail'}; });
  }
  function sheet(info, onPay, onCancel) {
    var d = document.createElement('div');
    d.id = 'sandbox-wechat-sheet';
    d.setAttribute('role', 'dialog');
    d.style.cssText = 'position:fixed;left:0;right:0;bottom:0;background:#fff;padding:16px;' +
      'border-radius:12px 12px 0 0;box-shadow:0 -2px 12px rgba(0,0,0,.25);font:16px system-ui;z-index:9';
    d.innerHTML = '<p style="margin:0;color:#666">微信支付 WeChat Pay (sandbox)</p>' +
      '<p class="sheet-merchant"></p><p class="sheet-amount" style="font-size:32px;margin:8px 0"></p>' +
      '<button class="sheet-pay" style="width:100%;padding:12px;background:#07c160;color:#fff;border:0;border-radius:8px;font-size:17px">确认支付 Pay</button>' +
      '<button class="sheet-cancel" style="width:100%;padding:12px;margin-top:8px;border:0;border-radius:8px">取消 Cancel</button>';
    d.querySelector('.sheet-merchant').textContent = info.subject;
    d.querySelector('.sheet-amount').textContent = '¥' + info.amount_yuan;
    d.querySelector('.sheet-pay').onclick = function () { d.remove(); onPay(); };
    d.querySelector('.sheet-cancel').onclick = function () { d.remove(); onCancel(); };
    document.body.appendChild(d);
  }
  window.WeixinJSBridge = {
    invoke: function (name, params, cb) {
      if (name !== 'getBrandWCPayRequest') { cb({err_msg: name + ':fail'}); return; }
      post({action: 'preview', params: params}).then(function (info) {
        if (info.err_msg) { cb(info); return; }
        sheet(info, function () { post({action: 'pay', params: params}).then(cb); },
              function () { cb({err_msg: 'get_brand_wcpay_request:cancel'}); });
      });
    }
  };
  function ready() { document.dispatchEvent(new Event('WeixinJSBridgeReady')); }
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', ready); }
  else { setTimeout(ready, 0); }
})();
"""

FAIL = "get_brand_wcpay_request:fail"


class WalletSim:
    def __init__(self, oauth: WeChatOAuth) -> None:
        self.oauth = oauth

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_sandbox/wallet/wechat.js", self.wechat_js),
            web.post("/_sandbox/wallet/wechat/pay", self.wechat_pay),
            web.options("/_sandbox/wallet/wechat/pay", self.preflight),
            web.get("/_sandbox/wallet", self.open_page),
            web.get("/_sandbox/wallet/open", self.open_as),
        ]

    @staticmethod
    def _cors(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Vary"] = "Origin"
        return response

    async def preflight(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        return self._cors(request, response)

    async def wechat_js(self, request: web.Request) -> web.Response:
        base = f"{request.scheme}://{request.headers.get('Host') or request.host}"
        state = request.app[STATE_KEY]
        text = BRIDGE_JS.replace("__BASE__", json.dumps(state.public_url or base))
        return web.Response(text=text, content_type="application/javascript")

    def _trade(self, request: web.Request, params: dict[str, Any]) -> Trade | str:
        """The open trade the signed params name, or the reason they do not."""
        state = request.app[STATE_KEY]
        fields = [str(params.get(k, "")) for k in ("appId", "timeStamp", "nonceStr", "package")]
        appid, _ts, _nonce, package = fields
        if not package.startswith("prepay_id=") or params.get("signType") != "RSA":
            return "package or signType invalid"
        prepay_id = package.removeprefix("prepay_id=")
        for trade in state.trades.values():
            if trade.channel == "wechat" and trade.extra.get("prepay_id") == prepay_id:
                merchant = state.merchant("wechat", trade.merchant_id)
                if merchant is None or merchant.app_id != appid:
                    return "appId does not match the prepay_id"
                message = build_message(*fields)
                if not rsa_verify(merchant.public_key, message, str(params.get("paySign", ""))):
                    return "支付验证签名失败 (paySign invalid)"
                payer = request.cookies.get(PAYER_COOKIE, "")
                wanted = trade.extra.get("payer_openid")
                if wanted and (not payer or self.oauth.openid(appid, payer) != wanted):
                    return "the prepay_id was created for another WeChat user (openid)"
                if trade.status != TradeStatus.PENDING:
                    return f"trade is {trade.status}"
                if trade.expire_at is not None and now() > trade.expire_at:
                    return "trade has expired"
                return trade
        return "prepay_id not found"

    async def wechat_pay(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.text())
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("params"), dict):
            return self._cors(request, web.json_response({"err_msg": FAIL, "reason": "bad body"}))
        found = self._trade(request, body["params"])
        if isinstance(found, str):
            answer: dict[str, Any] = {"err_msg": FAIL, "reason": found}
        elif body.get("action") == "preview":
            answer = {
                "subject": found.subject,
                "amount": found.amount,
                "amount_yuan": yuan(found.amount),
            }
        elif body.get("action") == "pay":
            request.app[STATE_KEY].settle(found, "paid")
            answer = {"err_msg": "get_brand_wcpay_request:ok"}
        else:
            answer = {"err_msg": FAIL, "reason": "unknown action"}
        return self._cors(request, web.json_response(answer))

    async def open_page(self, request: web.Request) -> web.Response:
        """A cashier link (`?url=`) as the QR code a payer would scan, and buttons that
        "scan" it as each wallet; without one, a form to paste it."""
        url = request.query.get("url", "")
        scanned = ""
        if urlsplit(url).scheme in ("http", "https"):
            out = io.BytesIO()
            segno.make(url, error="m").save(out, kind="svg", scale=5, border=2, xmldecl=False)
            links = "".join(
                f'<p><a class="scan" data-wallet="{w}" href="/_sandbox/wallet/open?'
                f'{escape(urlencode({"url": url, "as": w}))}">用{escape(t)}扫码 · '
                f"Scan as {escape(t)}</a></p>"
                for w, t in WALLETS.items()
            )
            scanned = (
                f"<div class='qr'>{out.getvalue().decode()}</div>"
                f"<p><code>{escape(url)}</code></p>{links}<hr>"
            )
        buttons = "".join(
            f'<button type="submit" name="as" value="{w}">用{escape(t)}打开 Open as {escape(t)}</button>'
            for w, t in WALLETS.items()
        )
        body = (
            f"{scanned}<p>把收银台链接 (code_url) 粘贴到这里，然后选择用哪个钱包“扫码”。"
            "Paste a cashier link (a code_url) and pick the wallet that scans it.</p>"
            '<form method="get" action="/_sandbox/wallet/open">'
            f'<input name="url" type="url" required style="width:100%;font-size:1rem" '
            f'value="{escape(url)}" placeholder="http://127.0.0.1:8080/cashier/o/...">{buttons}</form>'
        )
        doc = (
            "<!doctype html><html><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width'><title>Sandbox wallets</title>"
            "</head><body style='font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto'>"
            f"<h1>钱包模拟 · Sandbox wallets</h1>{body}</body></html>"
        )
        return web.Response(text=doc, content_type="text/html")

    async def open_as(self, request: web.Request) -> web.StreamResponse:
        url = request.query.get("url", "")
        wallet = request.query.get("as", "")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or wallet not in WALLETS:
            return web.Response(status=400, text="url (http/https) and as (a wallet) are required")
        query = (parts.query + "&" if parts.query else "") + urlencode({"as": wallet})
        raise web.HTTPFound(urlunsplit(parts._replace(query=query)))


def routes(state: Any) -> list[web.RouteDef]:
    oauth = WeChatOAuth(state)
    return [*oauth.routes(), *WalletSim(oauth).routes()]


__all__ = ["WalletSim", "routes"]
