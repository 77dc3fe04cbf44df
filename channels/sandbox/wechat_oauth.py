"""The sandbox's WeChat web authorization (网页授权): the payer's openid for JSAPI.

Modelled from WeChat's "网页授权" documentation
(https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/Wechat_webpage_authorization.html),
served on the sandbox's own host instead of open.weixin.qq.com / api.weixin.qq.com:

- `GET /connect/oauth2/authorize?appid&redirect_uri&response_type=code&scope&state`: the
  payer's WeChat. `snsapi_base` is silent: 302 to `redirect_uri?code=CODE&state=STATE`.
  `snsapi_userinfo` is accepted the same way (the sandbox has no consent screen). A bad
  request gets WeChat's in-browser error text (e.g. "redirect_uri 参数错误").
- `GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code`:
  `{"access_token","expires_in":7200,"refresh_token","openid","scope"}`, or
  `{"errcode":40029,"errmsg":"invalid code"}` (unknown or expired code; codes live 5
  minutes), 40163 "code been used", 40125 "invalid appsecret", 40013 "invalid appid",
  40002 "invalid grant_type", 41008 "missing code".

Who the payer is: a `sandbox_payer` cookie on the sandbox's host (set on first visit), so
the same browser is the same WeChat user; the openid is derived per AppID from it, as
WeChat's openids are per official account.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from paymesh.channels.sandbox.state import SandboxState, random_token

CODE_TTL_SECONDS = 300
PAYER_COOKIE = "sandbox_payer"
SCOPES = ("snsapi_base", "snsapi_userinfo")


@dataclass
class IssuedCode:
    appid: str
    openid: str
    scope: str
    issued: float
    used: bool = False


class WeChatOAuth:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.codes: dict[str, IssuedCode] = {}
        self._key = secrets.token_bytes(32)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/connect/oauth2/authorize", self.authorize),
            web.get("/sns/oauth2/access_token", self.access_token),
        ]

    def openid(self, appid: str, payer: str) -> str:
        digest = hmac.new(self._key, f"{appid}|{payer}".encode(), hashlib.sha256).hexdigest()
        return "oSbx" + digest[:24]

    def _merchant_secret(self, appid: str) -> str | None:
        for m in self.state.merchants.values():
            if m.channel == "wechat" and m.app_id == appid:
                secret: str | None = m.extra.get("mp_app_secret")
                return secret
        return None

    @staticmethod
    def _browser_error(text: str) -> web.Response:
        # WeChat shows its error text in the payer's browser, not a JSON body.
        return web.Response(
            text=f"<!doctype html><meta charset=utf-8><title>微信</title><p class=oauth-error>{text}</p>",
            content_type="text/html",
            status=400,
        )

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        appid = q.get("appid", "")
        if self._merchant_secret(appid) is None:
            return self._browser_error("appid 参数错误 (invalid appid)")
        redirect_uri = q.get("redirect_uri", "")
        parts = urlsplit(redirect_uri)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return self._browser_error("redirect_uri 参数错误")
        if q.get("response_type") != "code":
            return self._browser_error("response_type 参数错误")
        scope = q.get("scope", "")
        if scope not in SCOPES:
            return self._browser_error("Scope 参数错误或没有 Scope 权限")
        state = q.get("state", "")
        if len(state.encode()) > 128:
            return self._browser_error("state 参数错误")
        payer = request.cookies.get(PAYER_COOKIE) or random_token(24)
        code = random_token(32)
        self.codes[code] = IssuedCode(appid, self.openid(appid, payer), scope, time.monotonic())
        sep = "&" if parts.query else "?"
        location = f"{redirect_uri}{sep}code={code}&state={state}"
        found = web.HTTPFound(location)
        found.set_cookie(PAYER_COOKIE, payer, httponly=True, samesite="Lax", path="/")
        raise found

    async def access_token(self, request: web.Request) -> web.Response:
        q = request.query
        appid = q.get("appid", "")
        secret = self._merchant_secret(appid)
        if secret is None:
            return _error(40013, "invalid appid")
        if not hmac.compare_digest(q.get("secret", ""), secret):
            return _error(40125, "invalid appsecret")
        if q.get("grant_type") != "authorization_code":
            return _error(40002, "invalid grant_type")
        code = q.get("code", "")
        if not code:
            return _error(41008, "missing code")
        issued = self.codes.get(code)
        if issued is None or issued.appid != appid:
            return _error(40029, "invalid code")
        if time.monotonic() - issued.issued > CODE_TTL_SECONDS:
            return _error(40029, "invalid code")
        if issued.used:
            return _error(40163, "code been used")
        issued.used = True
        return web.json_response(
            {
                "access_token": random_token(64),
                "expires_in": 7200,
                "refresh_token": random_token(64),
                "openid": issued.openid,
                "scope": issued.scope,
                "is_snapshotuser": 0,
            }
        )


def _error(errcode: int, errmsg: str) -> web.Response:
    # WeChat answers its errors with HTTP 200 and errcode/errmsg in the body.
    return web.json_response({"errcode": errcode, "errmsg": errmsg})


__all__ = ["PAYER_COOKIE", "WeChatOAuth"]
