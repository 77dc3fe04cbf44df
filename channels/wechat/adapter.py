"""WeChat Pay API v3 adapter: pure `build_*_request` / `parse_*_response` functions
(the Transfer RPCs are in `transfers`).

No I/O and no clock: `now` (aware datetime) and nonces are passed in, platform keys too.
Every parse goes through `protocol.checked_body` first: the platform signature verified
(also on 204 and on signed 4xx answers), an answer that cannot be authenticated raises
`ResponseUnauthenticated` (ChannelUnavailable); a signed 4xx `{code, message}` whose code is
in the allow-list `DEFINITIVE_CODES` -> ChannelError(provider_code, provider_message);
anything else (5xx, 429, busy or unlisted codes, code-less or unsigned 4xx) ->
ChannelUnavailable (outcome unknown).

Our ids are WeChat's merchant numbers: order_id -> out_trade_no, refund_id -> out_refund_no,
transfer_id -> out_bill_no.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import quote, urlencode

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.base import RESULT_PENDING, TRADE_PENDING, expect_same
from paymesh.channels.transport import HttpRequest, HttpResponse
from paymesh.channels.wechat import sign
from paymesh.channels.wechat.config import WechatAccount
from paymesh.channels.wechat.protocol import (
    DEFINITIVE_CODES,
    PlatformKeys,
    checked_body,
    merchant_key,
    sign_request,
)
from paymesh.channels.wechat.transformers import (
    REDACT_KEYS,
    dumps,
    get_str,
    pay_body,
    refund_body,
    refund_result,
    trade_result,
)
from paymesh.common.v1 import pay_data_pb2
from paymesh.errors import ChannelError, ChannelUnavailable, InvalidArgument

PAY_PATHS: Final[Mapping[str, str]] = {
    "qr": "/v3/pay/transactions/native",
    "h5": "/v3/pay/transactions/h5",
    "app": "/v3/pay/transactions/app",
    "jsapi": "/v3/pay/transactions/jsapi",
}
REFUNDS_PATH: Final = "/v3/refund/domestic/refunds"
TRANSFER_BILLS_PATH: Final = "/v3/fund-app/mch-transfer/transfer-bills"

# Codes of a query answer that mean "no such record at WeChat" (it never received it).
NOT_FOUND_CODES: Final = frozenset({"RESOURCE_NOT_EXISTS", "NOT_FOUND", "ORDER_NOT_EXIST"})


def path_segment(value: str, field: str) -> str:
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)
    return quote(value, safe="")


def is_not_found(err: ChannelError) -> bool:
    return err.metadata.get("provider_code", "") in NOT_FOUND_CODES


# --- pay ------------------------------------------------------------------------------------


def build_pay_request(
    req: svc.PayRequest, account: WechatAccount, now: datetime, nonce: str
) -> HttpRequest:
    path = PAY_PATHS.get(req.method)
    if path is None:
        raise InvalidArgument(f"WeChat Pay has no method {req.method!r}", field="method")
    body = dumps(pay_body(req, account))
    return sign_request(account, "POST", path, body, now, nonce, redact_keys=REDACT_KEYS)


def app_params(account: WechatAccount, prepay_id: str, now: datetime, nonce: str) -> dict[str, str]:
    """Signed parameters for the WeChat app SDK (`PayReq`)."""
    timestamp = str(int(now.timestamp()))
    message = sign.build_message(account.appid, timestamp, nonce, prepay_id)
    return {
        "appid": account.appid,
        "partnerid": account.mchid,
        "prepayid": prepay_id,
        "package": "Sign=WXPay",
        "noncestr": nonce,
        "timestamp": timestamp,
        "sign": sign.rsa_sign(merchant_key(account), message),
    }


def jsapi_params(
    account: WechatAccount, prepay_id: str, now: datetime, nonce: str
) -> dict[str, str]:
    """Signed parameters for `WeixinJSBridge.invoke('getBrandWCPayRequest', ...)`."""
    timestamp = str(int(now.timestamp()))
    package = f"prepay_id={prepay_id}"
    message = sign.build_message(account.appid, timestamp, nonce, package)
    return {
        "appId": account.appid,
        "timeStamp": timestamp,
        "nonceStr": nonce,
        "package": package,
        "signType": "RSA",
        "paySign": sign.rsa_sign(merchant_key(account), message),
    }


# How long WeChat accepts the pay data of an order call (WeChat Pay v3 merchant docs,
# JSAPI下单 / APP下单 / 小程序下单: "prepay_id 有效期为2小时"; Native下单: code_url 2 hours;
# H5下单: "h5_url 有效期为5分钟"). A repeated order call with the same out_trade_no and identical
# parameters is answered with pay data again (a new prepay_id once the old one expired).
H5_VALIDITY = timedelta(minutes=5)
PREPAY_VALIDITY = timedelta(hours=2)


def pay_data_validity(method: str) -> timedelta:
    return H5_VALIDITY if method == "h5" else PREPAY_VALIDITY


def parse_pay_response(
    req: svc.PayRequest,
    account: WechatAccount,
    resp: HttpResponse,
    keys: PlatformKeys,
    now: datetime,
    nonce: str,
) -> svc.PayResponse:
    """`nonce` is used to sign the client parameters of app/jsapi."""
    data = checked_body(resp, keys, now)
    pay_data = pay_data_pb2.PayData()
    if req.method == "qr":
        pay_data.code_url = _required(data, "code_url")
    elif req.method == "h5":
        pay_data.pay_url = _required(data, "h5_url")
    else:
        prepay_id = _required(data, "prepay_id")
        pay_data.prepay_id = prepay_id
        build = app_params if req.method == "app" else jsapi_params
        pay_data.app_params.update(build(account, prepay_id, now, nonce))
    pay_data.expires_at.FromDatetime(now + pay_data_validity(req.method))
    trade = channel_pb2.TradeResult(
        state=TRADE_PENDING,
        order_id=req.order_id,
        amount=req.amount,
        currency=req.currency or "CNY",
    )
    return svc.PayResponse(pay_data=pay_data, trade=trade)


def _required(data: Mapping[str, Any], key: str) -> str:
    value = get_str(data, key)
    if not value:
        raise ChannelUnavailable(f"malformed WeChat Pay response: no {key}")
    return value


# --- query / close ----------------------------------------------------------------------------


def _trade_path(order_id: str) -> str:
    return f"/v3/pay/transactions/out-trade-no/{path_segment(order_id, 'order_id')}"


def build_query_request(
    req: svc.QueryRequest, account: WechatAccount, now: datetime, nonce: str
) -> HttpRequest:
    path = _trade_path(req.order_id) + "?" + urlencode({"mchid": account.mchid})
    return sign_request(account, "GET", path, b"", now, nonce, redact_keys=REDACT_KEYS)


def parse_query_response(
    req: svc.QueryRequest, resp: HttpResponse, keys: PlatformKeys, now: datetime
) -> svc.QueryResponse:
    data = checked_body(resp, keys, now)
    trade = trade_result(data)
    expect_same("WeChat Pay", "out_trade_no", req.order_id, trade.order_id)
    if not trade.provider_state:
        raise ChannelUnavailable("malformed WeChat Pay response: no trade_state")
    trade.order_id = req.order_id
    return svc.QueryResponse(trade=trade)


def build_close_request(
    req: svc.CloseRequest, account: WechatAccount, now: datetime, nonce: str
) -> HttpRequest:
    body = dumps({"mchid": account.mchid})
    return sign_request(account, "POST", _trade_path(req.order_id) + "/close", body, now, nonce)


def parse_close_response(
    resp: HttpResponse, keys: PlatformKeys, now: datetime
) -> svc.CloseResponse:
    checked_body(resp, keys, now)  # 204 No Content, signed
    return svc.CloseResponse()


# --- refunds ----------------------------------------------------------------------------------


def build_refund_request(
    req: svc.RefundRequest, account: WechatAccount, now: datetime, nonce: str
) -> HttpRequest:
    path_segment(req.refund_id, "refund_id")
    path_segment(req.order_id, "order_id")
    body = dumps(refund_body(req, account))
    return sign_request(account, "POST", REFUNDS_PATH, body, now, nonce, redact_keys=REDACT_KEYS)


def parse_refund_response(
    req: svc.RefundRequest, resp: HttpResponse, keys: PlatformKeys, now: datetime
) -> svc.RefundResponse:
    data = checked_body(resp, keys, now)
    refund = refund_result(data)
    expect_same("WeChat Pay", "out_refund_no", req.refund_id, refund.refund_id)
    refund.refund_id = req.refund_id
    refund.order_id = refund.order_id or req.order_id
    refund.amount = refund.amount or req.amount
    return svc.RefundResponse(refund=refund)


def build_query_refund_request(
    req: svc.QueryRefundRequest, account: WechatAccount, now: datetime, nonce: str
) -> HttpRequest:
    path = f"{REFUNDS_PATH}/{path_segment(req.refund_id, 'refund_id')}"
    return sign_request(account, "GET", path, b"", now, nonce, redact_keys=REDACT_KEYS)


def parse_query_refund_response(
    req: svc.QueryRefundRequest, resp: HttpResponse, keys: PlatformKeys, now: datetime
) -> svc.QueryRefundResponse:
    """A signed 404 RESOURCE_NOT_EXISTS is WeChat saying it never received the refund:
    PENDING with `not_found`, so the caller can resubmit it with the same out_refund_no."""
    try:
        data = checked_body(resp, keys, now)
    except ChannelError as e:
        if not is_not_found(e):
            raise
        code = e.metadata["provider_code"]
        return svc.QueryRefundResponse(
            refund=channel_pb2.RefundResult(
                state=RESULT_PENDING,
                refund_id=req.refund_id,
                order_id=req.order_id,
                provider_state=code,
                not_found=True,
            )
        )
    refund = refund_result(data)
    expect_same("WeChat Pay", "out_refund_no", req.refund_id, refund.refund_id)
    if not refund.provider_state:
        raise ChannelUnavailable("malformed WeChat Pay response: no refund status")
    refund.refund_id = req.refund_id
    refund.order_id = refund.order_id or req.order_id
    return svc.QueryRefundResponse(refund=refund)


__all__ = [
    "DEFINITIVE_CODES",
    "NOT_FOUND_CODES",
    "PAY_PATHS",
    "TRANSFER_BILLS_PATH",
    "app_params",
    "build_close_request",
    "build_pay_request",
    "build_query_refund_request",
    "build_query_request",
    "build_refund_request",
    "is_not_found",
    "jsapi_params",
    "parse_close_response",
    "parse_pay_response",
    "parse_query_refund_response",
    "parse_query_response",
    "parse_refund_response",
    "path_segment",
]
