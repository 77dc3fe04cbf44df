"""Alipay web authorization (网页授权, auth_base): the buyer's id for JSAPI payments.

Modelled from Alipay's documentation ("网页/移动应用 用户授权", opendocs.alipay.com/open/284/web,
and the `alipay.system.oauth.token` API, opendocs.alipay.com/open/02xtla) and the SDKs
(smartwalle/alipay `SystemOauthToken`, alipay-sdk-python `AlipaySystemOauthTokenRequest`):

1. In Alipay's browser the payer opens
   `https://openauth.alipay.com/oauth2/publicAppAuthorize.htm?app_id=APPID&scope=auth_base
   &redirect_uri=ENCODED_URL&state=STATE`; auth_base is silent and Alipay redirects to
   `redirect_uri?app_id=APPID&source=alipay_wallet&scope=auth_base&auth_code=CODE&state=STATE`.
2. The server calls `alipay.system.oauth.token` with `grant_type=authorization_code` and
   `code` as request parameters (not in biz_content), signed like every OpenAPI call. The
   answer `alipay_system_oauth_token_response` carries `user_id` (2088...) and/or `open_id`,
   `access_token`, `expires_in`, `refresh_token`, `re_expires_in`; a bad code answers
   `error_response` code 40002 `isv.code-invalid`.

Pure: builders return the URL / `HttpRequest`, the parser reads the answer.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote, urlencode

from paymesh.channels.alipay.config import AlipayAccount
from paymesh.channels.alipay.protocol import (
    CertKeys,
    post,
    raise_for_code,
    signed_params,
    verified_content,
)
from paymesh.channels.alipay.transformers import get_str
from paymesh.channels.transport import HttpRequest, HttpResponse
from paymesh.errors import ChannelUnavailable

AUTHORIZE_PATH = "/oauth2/publicAppAuthorize.htm"
M_OAUTH_TOKEN = "alipay.system.oauth.token"  # noqa: S105 (a method name)
SCOPE_BASE = "auth_base"
CODE_PARAM = "auth_code"  # what the redirect back carries


def authorize_url(account: AlipayAccount, redirect_uri: str, state: str) -> str:
    query = urlencode(
        [
            ("app_id", account.app_id),
            ("scope", SCOPE_BASE),
            ("redirect_uri", redirect_uri),
            ("state", state),
        ],
        quote_via=quote,
    )
    return f"{account.oauth_base_url.rstrip('/')}{AUTHORIZE_PATH}?{query}"


def build_token_request(account: AlipayAccount, code: str, now: datetime) -> HttpRequest:
    params = signed_params(
        account,
        M_OAUTH_TOKEN,
        {},
        now,
        extra={"grant_type": "authorization_code", "code": code},
    )
    request = post(account, params)
    return HttpRequest(
        request.method,
        request.url,
        request.headers,
        request.body,
        redact_keys=request.redact_keys | {"code", "access_token", "refresh_token"},
    )


def parse_token_response(
    account: AlipayAccount, resp: HttpResponse, keys: CertKeys | None = None
) -> str:
    """The buyer's id (user_id, else open_id); ChannelError for a refused code."""
    content = verified_content(resp, account, M_OAUTH_TOKEN, keys=keys)
    if get_str(content, "code"):  # only error_response carries a code here
        raise_for_code(content)
    buyer = get_str(content, "user_id") or get_str(content, "open_id")
    if not buyer or len(buyer) > 128:
        raise ChannelUnavailable("Alipay oauth.token answer has no user_id")
    return buyer


__all__ = [
    "CODE_PARAM",
    "M_OAUTH_TOKEN",
    "authorize_url",
    "build_token_request",
    "parse_token_response",
]
