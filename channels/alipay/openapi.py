"""Alipay OpenAPI gateway plumbing (pure): signed common parameters, the form POST to
`gateway.do`, and the authentication and code handling every answer goes through.

- Requests: `app_id method format=JSON charset=utf-8 sign_type=RSA2 timestamp version=1.0`
  (+ `notify_url` / `return_url`, + `app_cert_sn` / `alipay_root_cert_sn` in certificate
  mode) and `biz_content` (compact JSON), signed RSA2 over the canonical string.
- Answers: the `<method>_response` (or `error_response`) object is cut out of the body and
  Alipay's signature verified over its exact bytes. A bad signature, or none on anything
  but a request-level refusal (40001/40002/40006/20001, which Alipay leaves unsigned when
  it cannot tell which app asked) -> `ResponseUnauthenticated` (ChannelUnavailable: never
  terminal). Code 10000 -> ok; 20000, `*SYSTEM_ERROR` / `isp.*` sub codes and non-200 HTTP
  -> ChannelUnavailable; any other code -> ChannelError(provider_code=sub_code,
  provider_message=sub_msg).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlencode

from paymesh.channels.alipay import sign
from paymesh.channels.alipay.config import AlipayAccount
from paymesh.channels.alipay.transformers import (
    CODE_SUCCESS,
    CODE_UNKNOWN,
    REDACT_KEYS,
    format_time,
    get_str,
)
from paymesh.channels.transport import HttpRequest, HttpResponse
from paymesh.errors import ChannelError, ChannelUnavailable

# Request-level refusals Alipay may answer unsigned (it cannot tell which app asked).
UNSIGNED_REFUSALS: Final = frozenset({"40001", "40002", "40006", "20001"})
# Sub codes meaning "we do not know yet, query": never a refusal.
UNKNOWN_SUB_CODES: Final = frozenset({"ACQ.SYSTEM_ERROR", "SYSTEM_ERROR", "ACQ.TRADE_HAS_SUCCESS"})
FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded;charset=utf-8"


class ResponseUnauthenticated(ChannelUnavailable):
    """Alipay's answer is unsigned or its signature does not verify: outcome unknown."""


# --- common request parameters ---------------------------------------------------------------


def dumps(obj: Mapping[str, Any]) -> str:
    """Compact JSON, non-ASCII kept: the `biz_content` value."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def signed_params(
    account: AlipayAccount,
    method: str,
    biz: Mapping[str, Any],
    now: datetime,
    *,
    notify_url: str = "",
    return_url: str = "",
) -> dict[str, str]:
    """Common parameters + biz_content + `sign` for one call."""
    params: dict[str, str] = {
        "app_id": account.app_id,
        "method": method,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": sign.SIGN_TYPE,
        "timestamp": format_time(now),
        "version": "1.0",
        "biz_content": dumps(biz),
    }
    if notify_url:
        params["notify_url"] = notify_url
    if return_url:
        params["return_url"] = return_url
    if account.mode == "certificate":
        params["app_cert_sn"] = account.app_cert_sn
        params["alipay_root_cert_sn"] = account.alipay_root_cert_sn
    params["sign"] = sign.sign_params(account.app_private_key(), params)
    return params


def post(
    account: AlipayAccount, params: Mapping[str, str], *, personal_data: bool = False
) -> HttpRequest:
    """The form POST to gateway.do. `personal_data`: biz_content carries a payer's or
    payee's data (auth code, name, account), so the channel log gets none of it."""
    redact_keys = REDACT_KEYS | {"biz_content"} if personal_data else REDACT_KEYS
    return HttpRequest(
        method="POST",
        url=account.base_url,
        headers={"Content-Type": FORM_CONTENT_TYPE, "Accept": "application/json"},
        body=urlencode(params).encode("ascii"),
        redact_keys=redact_keys,
    )


# --- common response handling ----------------------------------------------------------------


def checked_content(resp: HttpResponse, account: AlipayAccount, method: str) -> dict[str, Any]:
    """Authenticate `resp` and return the response object when its code is 10000.

    Raises ChannelError for a refusal, ChannelUnavailable for everything uncertain.
    """
    content = verified_content(resp, account, method)
    raise_for_code(content)
    return content


def verified_content(resp: HttpResponse, account: AlipayAccount, method: str) -> dict[str, Any]:
    """Authenticate `resp` and return the response object, whatever its code."""
    if resp.status != 200:
        raise ChannelUnavailable(
            f"Alipay answered HTTP {resp.status}", metadata={"http_status": str(resp.status)}
        )
    try:
        signed = sign.split_response(resp.body, method)
    except (UnicodeDecodeError, ValueError) as e:
        raise ChannelUnavailable("malformed Alipay response") from e
    content = dict(signed.content)
    if signed.sign:
        if not sign.verify_response(account.alipay_public_key(), signed):
            raise ResponseUnauthenticated("Alipay response signature does not verify")
    elif get_str(content, "code") not in UNSIGNED_REFUSALS:
        raise ResponseUnauthenticated("Alipay response is not signed")
    return content


def raise_for_code(content: Mapping[str, Any]) -> None:
    code = get_str(content, "code")
    if code == CODE_SUCCESS:
        return
    sub_code = get_str(content, "sub_code")
    sub_msg = get_str(content, "sub_msg")
    md = {"code": code}
    if (
        code == CODE_UNKNOWN
        or not code
        or sub_code in UNKNOWN_SUB_CODES
        or sub_code.startswith(("isp.", "aop.ACQ.SYSTEM_ERROR"))
    ):
        raise ChannelUnavailable(
            f"Alipay outcome unknown: {sub_code or code or 'no code'}",
            metadata={**md, "provider_code": sub_code or code, "provider_message": sub_msg},
        )
    raise ChannelError(
        f"Alipay refused: {sub_code or code}",
        provider_code=sub_code or code,
        provider_message=sub_msg or get_str(content, "msg"),
        metadata=md,
    )


def expect_same(field: str, sent: str, got: str) -> None:
    if got and got != sent:
        raise ChannelUnavailable(f"Alipay answered for another {field}")


__all__ = [
    "FORM_CONTENT_TYPE",
    "UNKNOWN_SUB_CODES",
    "UNSIGNED_REFUSALS",
    "ResponseUnauthenticated",
    "checked_content",
    "dumps",
    "expect_same",
    "post",
    "raise_for_code",
    "signed_params",
    "verified_content",
]
