"""WeChat web authorization (网页授权, snsapi_base): the payer's openid for JSAPI payments.

Modelled from WeChat's official-account documentation, "网页授权"
(https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/Wechat_webpage_authorization.html):

1. The payer's WeChat browser opens
   `https://open.weixin.qq.com/connect/oauth2/authorize?appid=APPID&redirect_uri=REDIRECT_URI
   &response_type=code&scope=snsapi_base&state=STATE#wechat_redirect` (parameters in this
   order; `redirect_uri` URL-encoded; `state` at most 128 bytes of [a-zA-Z0-9]). With
   `snsapi_base` the authorization is silent: WeChat redirects at once to
   `REDIRECT_URI?code=CODE&state=STATE`. The code is single-use and valid for 5 minutes.
2. The server exchanges it:
   `GET https://api.weixin.qq.com/sns/oauth2/access_token?appid=APPID&secret=SECRET&code=CODE
   &grant_type=authorization_code` -> `{"access_token", "expires_in": 7200, "refresh_token",
   "openid", "scope"}` (also `is_snapshotuser`, `unionid` in some cases), or an error
   `{"errcode": 40029, "errmsg": "invalid code"}` (40163: code been used).

Pure: builders return the URL / `HttpRequest`, the parser reads the answer.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

from paymesh.channels.transport import HttpRequest, HttpResponse
from paymesh.channels.wechat.config import WechatAccount
from paymesh.errors import ChannelError, ChannelNotEnabled, ChannelUnavailable

AUTHORIZE_PATH = "/connect/oauth2/authorize"
ACCESS_TOKEN_PATH = "/sns/oauth2/access_token"  # noqa: S105 (a path)
SCOPE_BASE = "snsapi_base"
STATE = re.compile(r"^[A-Za-z0-9]{1,128}$")
# errcodes after which the code can never be exchanged (the payer must authorize again):
# 40029 invalid code, 40163 code been used, 40013 invalid appid, 40125 invalid appsecret.
DEFINITIVE_ERRCODES = frozenset({40029, 40163, 40013, 40125, 41008})


def authorize_url(account: WechatAccount, redirect_uri: str, state: str) -> str:
    """Where the payer's WeChat browser goes for a silent snsapi_base authorization."""
    if not STATE.match(state):
        raise ValueError("state must be 1-128 of [A-Za-z0-9]")
    query = urlencode(
        [
            ("appid", account.appid),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", SCOPE_BASE),
            ("state", state),
        ],
        quote_via=quote,
    )
    return f"{account.oauth_base_url.rstrip('/')}{AUTHORIZE_PATH}?{query}#wechat_redirect"


def build_access_token_request(account: WechatAccount, code: str) -> HttpRequest:
    if account.mp_app_secret is None:
        raise ChannelNotEnabled(
            "the WeChat account has no official account AppSecret (mp_app_secret)",
            metadata={"channel": "wechat", "account_id": account.account_id},
        )
    query = urlencode(
        {
            "appid": account.appid,
            "secret": account.mp_app_secret.get_secret_value(),
            "code": code,
            "grant_type": "authorization_code",
        }
    )
    return HttpRequest(
        "GET",
        f"{account.mp_api_base_url.rstrip('/')}{ACCESS_TOKEN_PATH}?{query}",
        redact_keys=frozenset({"secret", "code", "access_token", "refresh_token"}),
    )


def parse_access_token_response(resp: HttpResponse) -> str:
    """The payer's openid; ChannelError for a definitive refusal, else ChannelUnavailable."""
    if resp.status != 200:
        raise ChannelUnavailable(f"WeChat OAuth answered HTTP {resp.status}")
    try:
        data = json.loads(resp.body)
    except ValueError as e:
        raise ChannelUnavailable("WeChat OAuth answer is not JSON") from e
    if not isinstance(data, dict):
        raise ChannelUnavailable("WeChat OAuth answer is not an object")
    errcode = data.get("errcode")
    if errcode:
        message = str(data.get("errmsg", ""))
        if errcode in DEFINITIVE_ERRCODES:
            raise ChannelError(
                message or "WeChat refused the OAuth code", provider_code=str(errcode)
            )
        raise ChannelUnavailable(f"WeChat OAuth error {errcode}: {message}")
    openid = data.get("openid")
    if not isinstance(openid, str) or not openid or len(openid) > 128:
        raise ChannelUnavailable("WeChat OAuth answer has no openid")
    return openid


__all__ = [
    "ACCESS_TOKEN_PATH",
    "AUTHORIZE_PATH",
    "authorize_url",
    "build_access_token_request",
    "parse_access_token_response",
]
