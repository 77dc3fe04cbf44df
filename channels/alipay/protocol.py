"""Alipay OpenAPI protocol (pure): signed common parameters, the form POST to
`gateway.do`, and the authentication and code handling every answer goes through.

- Requests: `app_id method format=JSON charset=utf-8 sign_type=RSA2 timestamp version=1.0`
  (+ `notify_url` / `return_url`, + `app_cert_sn` / `alipay_root_cert_sn` in certificate
  mode) and `biz_content` (compact JSON), signed RSA2 over the canonical string.
- Answers: the `<method>_response` (or `error_response`) object is cut out of the body and
  Alipay's signature verified over its exact bytes. A bad signature, or none on a success
  -> `ResponseUnauthenticated` (ChannelUnavailable: never terminal). An unsigned
  non-success answer is a refusal only when it says so definitively: a request-level code
  (the gateway refused the request before any business logic), or 40004 with a sub code of
  the call's allow-list; anything else unsigned (it could hide a success) is unclear,
  never a failure from an unverified body. Code 10000 -> ok; 20000, `*SYSTEM_ERROR` /
  `isp.*` sub codes and non-200 HTTP -> ChannelUnavailable; calls with an allow-list (pay,
  refund, transfer) are refused only by a request-level code or a sub code of their list;
  any other code -> ChannelError(provider_code=sub_code, provider_message=sub_msg).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric import rsa

from paymesh.channels.alipay import sign
from paymesh.channels.alipay.config import AlipayAccount
from paymesh.channels.alipay.transformers import (
    CODE_BUSINESS_FAILED,
    CODE_SUCCESS,
    CODE_UNKNOWN,
    REDACT_KEYS,
    format_time,
    get_str,
)
from paymesh.channels.base import ResponseUnauthenticated
from paymesh.channels.transport import HttpRequest, HttpResponse
from paymesh.errors import ChannelError, ChannelUnavailable

# certificate mode: Alipay public keys of rotated certificates the channel downloaded and
# checked (`certs`), by certificate SN; the configured certificate is not among them.
CertKeys = Mapping[str, rsa.RSAPublicKey]


class UnknownAlipayCert(ResponseUnauthenticated):
    """A signed answer names an Alipay certificate (`alipay_cert_sn`) that is neither the
    configured one nor a downloaded one: unverifiable until that certificate is downloaded
    and chains to the root (`certs`)."""

    def __init__(self, cert_sn: str) -> None:
        super().__init__(
            "Alipay answer signed with an unknown certificate",
            metadata={"alipay_cert_sn": cert_sn},
        )
        self.cert_sn = cert_sn


# Request-level refusals (公共错误码 https://opendocs.alipay.com/common/02km9f): the gateway
# refused the call before any business logic ran (missing/invalid parameter, no permission).
REQUEST_REFUSALS: Final = frozenset({"40001", "40002", "40003", "40006", "20001"})
UNSIGNED_REFUSALS: Final = REQUEST_REFUSALS  # kept for callers of the old name
# Sub codes meaning "we do not know yet, query": never a refusal.
UNKNOWN_SUB_CODES: Final = frozenset({"ACQ.SYSTEM_ERROR", "SYSTEM_ERROR", "ACQ.TRADE_HAS_SUCCESS"})

# Pay allow-list (the 业务错误码 tables of alipay.trade.pay, .precreate and .create,
# https://opendocs.alipay.com/apis "当面付" / "JSAPI 支付" API pages; the English table of
# alipay.trade.pay, open.alipay.com docs articleId=104632): 40004 sub codes that say the
# payment was refused and no money moved. Anything else (20000, ACQ.SYSTEM_ERROR,
# ACQ.TRADE_HAS_SUCCESS, an unlisted code) leaves the order PENDING: a barcode is then
# queried and cancelled, a QR order re-driven by the merchant's retry.
# Checked against Alipay's own face-to-face demo (com.alipay.demo.trade,
# AlipayTradeServiceImpl.tradePay / AbsAlipayTradeService): it treats every answer other than
# 10000, 10003 and 20000 as "明确失败", so each code here is final by Alipay's reading too; this
# list is the narrower one on purpose (an unknown 40004 costs a query, a wrong FAILED would
# cost a late-payment refund). A FAILED order is still watched for a late payment until its
# expiry plus the margin (order-monitor/monitor.py), so a code wrongly listed loses no money.
PAY_REFUSALS: Final = frozenset(
    {
        "ACQ.INVALID_PARAMETER",
        "ACQ.ACCESS_FORBIDDEN",
        "ACQ.EXIST_FORBIDDEN_WORD",
        "ACQ.PARTNER_ERROR",
        "ACQ.TOTAL_FEE_EXCEED",
        "ACQ.PAYMENT_AUTH_CODE_INVALID",
        "ACQ.CONTEXT_INCONSISTENT",
        "ACQ.TRADE_HAS_CLOSE",
        "ACQ.BUYER_BALANCE_NOT_ENOUGH",
        "ACQ.BUYER_BANKCARD_BALANCE_NOT_ENOUGH",
        "ACQ.ERROR_BALANCE_PAYMENT_DISABLE",
        "ACQ.BUYER_SELLER_EQUAL",
        "ACQ.TRADE_BUYER_NOT_MATCH",
        "ACQ.BUYER_ENABLE_STATUS_FORBID",
        "ACQ.PAYMENT_FAIL",
        "ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR",
        "ACQ.BUYER_PAYMENT_AMOUNT_MONTH_LIMIT_ERROR",
        "ACQ.BEYOND_PAY_RESTRICTION",
        "ACQ.BEYOND_PER_RECEIPT_RESTRICTION",
        "ACQ.SELLER_BEEN_BLOCKED",
        "ACQ.PRODUCT_AMOUNT_LIMIT_ERROR",
        "ACQ.MERCHANT_AGREEMENT_NOT_EXIST",
        "ACQ.MERCHANT_AGREEMENT_INVALID",
        "ACQ.PAYMENT_REQUEST_HAS_RISK",
        "ACQ.NO_PAYMENT_INSTRUMENTS_AVAILABLE",
        "ACQ.USER_FACE_PAYMENT_SWITCH_OFF",
        "ACQ.AUTH_TOKEN_IS_NOT_EXIST",
        "ACQ.BUYER_NOT_EXIST",
    }
)

# Money-out allow-lists: 40004 sub codes that say the refund / transfer was refused and no
# money moved. Anything else (SYSTEM_ERROR, isp.*, 20000, an unlisted sub code, an unsigned
# or unverifiable answer) is unclear: Alipay tells merchants to retry with the same
# out_request_no / out_biz_no ("重试时请务必保证退款请求号一致").
# alipay.trade.refund, https://opendocs.alipay.com/open/02e7go (业务错误码):
REFUND_REFUSALS: Final = frozenset(
    {
        "ACQ.INVALID_PARAMETER",
        "ACQ.TRADE_NOT_EXIST",
        "ACQ.TRADE_STATUS_ERROR",
        "ACQ.TRADE_HAS_FINISHED",
        "ACQ.TRADE_HAS_CLOSE",
        "ACQ.SELLER_BALANCE_NOT_ENOUGH",
        "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
        "ACQ.REASON_TRADE_BEEN_FREEZEN",
        "ACQ.DISCORDANT_REPEAT_REQUEST",
        "ACQ.REASON_TRADE_REFUND_FEE_ERR",
        "ACQ.TRADE_NOT_ALLOW_REFUND",
        "ACQ.REFUND_FEE_ERROR",
        "ACQ.NOT_ALLOWED_PARTIAL_REFUND",
        "ACQ.CHECK_PARTNER_ERROR",
        "ACQ.ONLINE_TRADE_VOUCHER_NOT_ALLOW_REFUND",
    }
)
# alipay.fund.trans.uni.transfer, https://opendocs.alipay.com/open/62987723_alipay.fund.trans.uni.transfer:
TRANSFER_REFUSALS: Final = frozenset(
    {
        "INVALID_PARAMETER",
        "MISSING_REQUIRED_PARAMETER",
        "PAYEE_NOT_EXIST",
        "PAYEE_USER_INFO_ERROR",
        "PAYEE_ACCOUNT_STATUS_ERROR",
        "PAYEE_NOT_RELNAME_CERTIFY",
        "PAYEE_CERT_INFO_ERROR",
        "PAYER_BALANCE_NOT_ENOUGH",
        "BALANCE_IS_NOT_ENOUGH",
        "EXCEED_LIMIT_SM_AMOUNT",
        "EXCEED_LIMIT_DM_AMOUNT",
        "EXCEED_LIMIT_PERSONAL_SM_AMOUNT",
        "PERMIT_CHECK_PERM_LIMITED",
        "PRODUCT_NOT_SIGN",
        "NO_ACCOUNT_RECEIVE_PERMISSION",
        "PAYER_STATUS_ERROR",
    }
)
# alipay.fund.trans.common.query: the transfer was never received (retry same out_biz_no).
TRANSFER_NOT_FOUND: Final = "ORDER_NOT_EXIST"
FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded;charset=utf-8"


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
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Common parameters + biz_content + `sign` for one call. `extra`: request parameters
    of methods that take theirs outside biz_content (alipay.system.oauth.token); an empty
    `biz` is then left out."""
    params: dict[str, str] = {
        "app_id": account.app_id,
        "method": method,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": sign.SIGN_TYPE,
        "timestamp": format_time(now),
        "version": "1.0",
    }
    if biz or not extra:
        params["biz_content"] = dumps(biz)
    params.update(extra or {})
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


def checked_content(
    resp: HttpResponse,
    account: AlipayAccount,
    method: str,
    *,
    refusals: frozenset[str] | None = None,
    keys: CertKeys | None = None,
) -> dict[str, Any]:
    """Authenticate `resp` and return the response object when its code is 10000.

    Raises ChannelError for a refusal, ChannelUnavailable for everything uncertain.
    `refusals` (money-out calls): the allow-list of definitive 40004 sub codes; with it an
    unsigned non-success answer is unclear too, never a refusal.
    """
    content = verified_content(
        resp, account, method, refusals=refusals, money_out=refusals is not None, keys=keys
    )
    raise_for_code(content, refusals)
    return content


def verified_content(
    resp: HttpResponse,
    account: AlipayAccount,
    method: str,
    *,
    refusals: frozenset[str] | None = None,
    money_out: bool = False,
    keys: CertKeys | None = None,
) -> dict[str, Any]:
    """Authenticate `resp` and return the response object, whatever its code.

    A signed answer must verify. An unsigned one is never a success, and is returned (to
    be raised as a refusal) only when it is a definitive refusal: a request-level code, or
    (not on `money_out` calls, whose unsigned answers are never a failure) 40004 with a
    sub code of `refusals`. The official SDK takes any unsigned non-success answer as a
    refusal (alipay-sdk-java AbstractAlipayClient.checkResponseSign only fails an unsigned
    answer when it is a success); paymesh only takes the definitive ones, since an
    unverified body with an unknown code could hide a success.

    Certificate mode: a signed answer whose `alipay_cert_sn` is not the configured Alipay
    certificate's is verified with that certificate's key from `keys` (downloaded after a
    rotation, see `certs`); none there raises UnknownAlipayCert (the channel downloads the
    certificate and parses again). An answer without `alipay_cert_sn` is verified with the
    configured certificate, as before.
    """
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
        if not sign.verify_response(answer_key(account, signed.cert_sn, keys), signed):
            raise ResponseUnauthenticated("Alipay response signature does not verify")
        return content
    code = get_str(content, "code")
    if not code or code in (CODE_SUCCESS, CODE_UNKNOWN):
        raise ResponseUnauthenticated("Alipay response is not signed")
    if code in REQUEST_REFUSALS:
        return content
    if (
        not money_out
        and code == CODE_BUSINESS_FAILED
        and refusals is not None
        and get_str(content, "sub_code") in refusals
    ):
        return content
    raise ResponseUnauthenticated(
        f"Alipay answer {code} {get_str(content, 'sub_code')} is not signed: outcome unknown"
    )


def answer_key(
    account: AlipayAccount, cert_sn: str, keys: CertKeys | None = None
) -> rsa.RSAPublicKey:
    """The key that verifies an answer signed under `cert_sn` (its `alipay_cert_sn`)."""
    if account.mode != "certificate" or not cert_sn or cert_sn == account.alipay_cert_sn:
        return account.alipay_public_key()
    key = (keys or {}).get(cert_sn)
    if key is None:
        raise UnknownAlipayCert(cert_sn)
    return key


def raise_for_code(content: Mapping[str, Any], refusals: frozenset[str] | None = None) -> None:
    code = get_str(content, "code")
    if code == CODE_SUCCESS:
        return
    sub_code = get_str(content, "sub_code")
    sub_msg = get_str(content, "sub_msg")
    md = {"code": code}
    unknown = (
        code == CODE_UNKNOWN
        or not code
        or sub_code in UNKNOWN_SUB_CODES
        or sub_code.startswith(("isp.", "aop.ACQ.SYSTEM_ERROR"))
    )
    if refusals is not None and code not in REQUEST_REFUSALS:
        unknown = unknown or sub_code not in refusals
    if unknown:
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


__all__ = [
    "FORM_CONTENT_TYPE",
    "PAY_REFUSALS",
    "REFUND_REFUSALS",
    "REQUEST_REFUSALS",
    "TRANSFER_NOT_FOUND",
    "TRANSFER_REFUSALS",
    "UNKNOWN_SUB_CODES",
    "UNSIGNED_REFUSALS",
    "CertKeys",
    "ResponseUnauthenticated",
    "UnknownAlipayCert",
    "answer_key",
    "checked_content",
    "dumps",
    "post",
    "raise_for_code",
    "signed_params",
    "verified_content",
]
