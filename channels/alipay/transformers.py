"""Alipay OpenAPI wire shapes and their conversions to and from paymesh's types.

Alipay counts money in yuan strings ("0.01"); paymesh in integer fen. The conversion lives
here and only here, with `Decimal` (never float). Alipay writes local times
`yyyy-MM-dd HH:mm:ss` in China time (UTC+8, no DST). Each Alipay status has one explicit
map; whatever is not in a map is PENDING (only explicit success or failure is terminal).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final

from google.protobuf import timestamp_pb2

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.base import (
    RESULT_FAILED,
    RESULT_PENDING,
    RESULT_SUCCEEDED,
    TRADE_CLOSED,
    TRADE_FAILED,
    TRADE_PAID,
    TRADE_PENDING,
    check_currency,
    map_state,
    to_timestamp,
)
from paymesh.errors import InvalidArgument

CHINA_TZ: Final = timezone(timedelta(hours=8))

MAX_FEN: Final = 10**10  # Alipay's ceiling: 100,000,000.00 yuan per trade
_YUAN = re.compile(r"^(0|[1-9][0-9]*)(\.[0-9]{1,2})?$")
_CENT: Final = Decimal("0.01")

# Response `code` of the OpenAPI gateway.
CODE_SUCCESS: Final = "10000"
CODE_WAITING: Final = "10003"  # alipay.trade.pay: the buyer is confirming (password etc.)
CODE_UNKNOWN: Final = "20000"  # service unavailable: outcome unknown, query
CODE_BUSINESS_FAILED: Final = "40004"

# trade_status of alipay.trade.query and of trade notifies.
TRADE_STATUS_MAP: Final[Mapping[str, channel_pb2.TradeState]] = {
    "WAIT_BUYER_PAY": TRADE_PENDING,
    "TRADE_SUCCESS": TRADE_PAID,
    "TRADE_FINISHED": TRADE_PAID,
    "TRADE_CLOSED": TRADE_CLOSED,
}

# `code` of alipay.trade.pay (barcode). 20000 is PENDING here: the caller queries.
BARCODE_CODE_MAP: Final[Mapping[str, channel_pb2.TradeState]] = {
    CODE_SUCCESS: TRADE_PAID,
    CODE_WAITING: TRADE_PENDING,
    CODE_UNKNOWN: TRADE_PENDING,
    CODE_BUSINESS_FAILED: TRADE_FAILED,
}

# refund_status of alipay.trade.fastpay.refund.query; absent = not refunded (yet).
REFUND_STATUS_MAP: Final[Mapping[str, channel_pb2.ResultState]] = {
    "REFUND_SUCCESS": RESULT_SUCCEEDED,
}

# status of alipay.fund.trans.uni.transfer / alipay.fund.trans.common.query.
TRANSFER_STATUS_MAP: Final[Mapping[str, channel_pb2.ResultState]] = {
    "SUCCESS": RESULT_SUCCEEDED,
    "FAIL": RESULT_FAILED,
    "CLOSED": RESULT_FAILED,
    "REFUND": RESULT_FAILED,  # 退票: the payee's bank returned the money
    "DEALING": RESULT_PENDING,
    "WAIT_PAY": RESULT_PENDING,
    "INIT": RESULT_PENDING,
}

# Personal data in Alipay bodies: kept out of the channel log.
REDACT_KEYS: Final = frozenset(
    {"buyer_logon_id", "buyer_user_id", "buyer_id", "buyer_open_id", "auth_code", "identity",
     "name", "payee_info", "sign"}
)  # fmt: skip


def trade_state(provider_state: str) -> channel_pb2.TradeState:
    return map_state(TRADE_STATUS_MAP, provider_state, TRADE_PENDING)


def barcode_state(code: str) -> channel_pb2.TradeState:
    return map_state(BARCODE_CODE_MAP, code, TRADE_PENDING)


def refund_state(provider_state: str) -> channel_pb2.ResultState:
    return map_state(REFUND_STATUS_MAP, provider_state, RESULT_PENDING)


def transfer_state(provider_state: str) -> channel_pb2.ResultState:
    return map_state(TRANSFER_STATUS_MAP, provider_state, RESULT_PENDING)


# --- money ----------------------------------------------------------------------------------


def fen_to_yuan(fen: int) -> str:
    """1 -> "0.01", 10**10 -> "100000000.00". Raises ValueError outside 1..MAX_FEN."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise ValueError("amount must be an integer number of fen")
    if not 0 < fen <= MAX_FEN:
        raise ValueError(f"amount must be between 1 and {MAX_FEN} fen")
    return str((Decimal(fen) / 100).quantize(_CENT))


def yuan_to_fen(yuan: str) -> int:
    """ "0.01" -> 1, "12" -> 1200, "9.9" -> 990. Raises ValueError for anything else
    (signs, exponents, more than two decimals, floats)."""
    if not isinstance(yuan, str) or not _YUAN.match(yuan):
        raise ValueError(f"not a yuan amount: {yuan!r}")
    fen = Decimal(yuan) * 100
    return int(fen)


def optional_fen(data: Mapping[str, Any], key: str) -> int:
    """A yuan field as fen; 0 when absent or malformed (the provider did not say)."""
    value = data.get(key)
    if not isinstance(value, str) or not value:
        return 0
    try:
        return yuan_to_fen(value)
    except ValueError:
        return 0


# --- times ----------------------------------------------------------------------------------


def format_time(value: datetime) -> str:
    """An aware datetime as Alipay writes times: `2026-11-22 12:00:00` (China time)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


def format_timestamp(ts: timestamp_pb2.Timestamp) -> str:
    return format_time(ts.ToDatetime(tzinfo=CHINA_TZ))


def parse_time(value: str) -> datetime | None:
    """`2026-11-22 12:00:00` (optionally with `.mmm`) in China time; None if empty/invalid."""
    if not value:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=CHINA_TZ)
        except ValueError:
            continue
    return None


def timestamp(value: str) -> timestamp_pb2.Timestamp | None:
    return to_timestamp(parse_time(value))


# --- field access ---------------------------------------------------------------------------


def get_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


# --- results --------------------------------------------------------------------------------


def trade_result(data: Mapping[str, Any]) -> channel_pb2.TradeResult:
    """A trade: alipay.trade.query / .pay answer, or a trade notify's parameters."""
    provider_state = get_str(data, "trade_status")
    result = channel_pb2.TradeResult(
        state=trade_state(provider_state),
        order_id=get_str(data, "out_trade_no"),
        channel_trade_no=get_str(data, "trade_no"),
        amount=optional_fen(data, "total_amount"),
        currency="CNY",
        payer_id=get_str(data, "buyer_open_id")
        or get_str(data, "buyer_user_id")
        or get_str(data, "buyer_id"),
        provider_state=provider_state,
    )
    if result.state == TRADE_PAID:
        paid_at = timestamp(get_str(data, "gmt_payment") or get_str(data, "send_pay_date"))
        if paid_at is not None:
            result.paid_at.CopyFrom(paid_at)
    return result


def transfer_result(data: Mapping[str, Any], amount: int = 0) -> channel_pb2.TransferResult:
    """A transfer (uni.transfer answer or common.query answer)."""
    provider_state = get_str(data, "status")
    result = channel_pb2.TransferResult(
        state=transfer_state(provider_state),
        transfer_id=get_str(data, "out_biz_no"),
        channel_transfer_no=get_str(data, "order_id"),
        amount=optional_fen(data, "trans_amount") or amount,
        fail_reason=get_str(data, "fail_reason") or get_str(data, "error_code"),
        provider_state=provider_state,
    )
    if result.state == RESULT_SUCCEEDED:
        done = timestamp(get_str(data, "pay_date") or get_str(data, "trans_date"))
        if done is not None:
            result.succeeded_at.CopyFrom(done)
    return result


# --- request bodies (`biz_content`) --------------------------------------------------------

# OpenAPI methods (https://opendocs.alipay.com/open/02ekfg etc.) and their product codes.
M_PRECREATE: Final = "alipay.trade.precreate"
M_PAGE_PAY: Final = "alipay.trade.page.pay"
M_WAP_PAY: Final = "alipay.trade.wap.pay"
M_APP_PAY: Final = "alipay.trade.app.pay"
M_PAY: Final = "alipay.trade.pay"
# JSAPI (a buyer in Alipay's browser or mini program): the trade is created for the buyer,
# whose app pays it (AlipayJSBridge tradePay with the trade_no); opendocs.alipay.com
# "alipay.trade.create" (product_code JSAPI_PAY, buyer_id or buyer_open_id).
M_CREATE: Final = "alipay.trade.create"
M_QUERY: Final = "alipay.trade.query"
M_CLOSE: Final = "alipay.trade.close"
M_CANCEL: Final = "alipay.trade.cancel"
M_REFUND: Final = "alipay.trade.refund"
M_REFUND_QUERY: Final = "alipay.trade.fastpay.refund.query"
M_TRANSFER: Final = "alipay.fund.trans.uni.transfer"
M_TRANSFER_QUERY: Final = "alipay.fund.trans.common.query"

SERVER_METHODS: Final[Mapping[str, str]] = {"qr": M_PRECREATE, "barcode": M_PAY, "jsapi": M_CREATE}
CLIENT_METHODS: Final[Mapping[str, str]] = {"page": M_PAGE_PAY, "h5": M_WAP_PAY, "app": M_APP_PAY}
PRODUCT_CODES: Final[Mapping[str, str]] = {
    M_PRECREATE: "FACE_TO_FACE_PAYMENT",
    M_PAY: "FACE_TO_FACE_PAYMENT",
    M_PAGE_PAY: "FAST_INSTANT_TRADE_PAY",
    M_WAP_PAY: "QUICK_WAP_WAY",
    M_APP_PAY: "QUICK_MSECURITY_PAY",
    M_CREATE: "JSAPI_PAY",
}
TRANSFER_PRODUCT: Final = "TRANS_ACCOUNT_NO_PWD"
TRANSFER_SCENE: Final = "DIRECT_TRANSFER"


SUBJECT_MAX = 256
BUYER_ID = re.compile(r"^2088[0-9]{12}$")


def required_id(value: str, field: str) -> str:
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)
    return value


def yuan(amount: int, field: str) -> str:
    try:
        return fen_to_yuan(amount)
    except ValueError as e:
        raise InvalidArgument(str(e), field=field) from e


def pay_biz(req: svc.PayRequest, method: str) -> dict[str, Any]:
    required_id(req.order_id, "order_id")
    check_currency(req.currency, "Alipay (domestic)")
    subject = (req.subject or req.description).strip()
    if not subject:
        raise InvalidArgument("subject is required by Alipay", field="subject")
    biz: dict[str, Any] = {
        "out_trade_no": req.order_id,
        "total_amount": yuan(req.amount, "amount"),
        "subject": subject[:SUBJECT_MAX],
        "product_code": PRODUCT_CODES[method],
    }
    if req.description and req.subject:
        biz["body"] = req.description[:128]
    if req.HasField("expire_time"):
        biz["time_expire"] = format_timestamp(req.expire_time)
    if method == M_PAY:
        biz["scene"] = "bar_code"
        biz["auth_code"] = required_id(req.auth_code, "auth_code")
    if method == M_CREATE:
        buyer = required_id(req.payer_id, "payer_id")
        # 2088 + 12 digits is an Alipay user id; anything else the newer per-app open_id
        biz["buyer_id" if BUYER_ID.match(buyer) else "buyer_open_id"] = buyer
    return biz


def refund_biz(req: svc.RefundRequest) -> dict[str, Any]:
    check_currency(req.currency, "Alipay (domestic)")
    biz: dict[str, Any] = {
        "out_trade_no": required_id(req.order_id, "order_id"),
        "out_request_no": required_id(req.refund_id, "refund_id"),
        "refund_amount": yuan(req.amount, "amount"),
    }
    if req.total_amount and req.total_amount < req.amount:
        raise InvalidArgument("total_amount must cover the refund", field="total_amount")
    if req.reason:
        biz["refund_reason"] = req.reason[:256]
    return biz


def payee_info(payee_id: str, payee_name: str) -> dict[str, str]:
    """2088... (16 digits) is an Alipay user id; a phone number or e-mail a logon id (the
    real name is then required); anything else an open id."""
    if not payee_id:
        raise InvalidArgument("payee_id is required", field="payee_id")
    if len(payee_id) == 16 and payee_id.isdigit() and payee_id.startswith("2088"):
        info = {"identity": payee_id, "identity_type": "ALIPAY_USER_ID"}
    elif "@" in payee_id or payee_id.isdigit():
        if not payee_name:
            raise InvalidArgument("payee_name is required for a logon id", field="payee_name")
        info = {"identity": payee_id, "identity_type": "ALIPAY_LOGON_ID"}
    else:
        info = {"identity": payee_id, "identity_type": "ALIPAY_OPEN_ID"}
    if payee_name:
        info["name"] = payee_name
    return info


def transfer_biz(req: svc.TransferRequest, order_title: str) -> dict[str, Any]:
    check_currency(req.currency, "Alipay (domestic)")
    biz: dict[str, Any] = {
        "out_biz_no": required_id(req.transfer_id, "transfer_id"),
        "trans_amount": yuan(req.amount, "amount"),
        "product_code": TRANSFER_PRODUCT,
        "biz_scene": TRANSFER_SCENE,
        "order_title": order_title,
        "payee_info": payee_info(req.payee_id, req.payee_name),
    }
    if req.remark:
        biz["remark"] = req.remark[:200]
    return biz


__all__ = [
    "BARCODE_CODE_MAP",
    "CHINA_TZ",
    "CLIENT_METHODS",
    "CODE_BUSINESS_FAILED",
    "CODE_SUCCESS",
    "CODE_UNKNOWN",
    "CODE_WAITING",
    "MAX_FEN",
    "M_APP_PAY",
    "M_CANCEL",
    "M_CLOSE",
    "M_CREATE",
    "M_PAGE_PAY",
    "M_PAY",
    "M_PRECREATE",
    "M_QUERY",
    "M_REFUND",
    "M_REFUND_QUERY",
    "M_TRANSFER",
    "M_TRANSFER_QUERY",
    "PRODUCT_CODES",
    "REDACT_KEYS",
    "REFUND_STATUS_MAP",
    "SERVER_METHODS",
    "SUBJECT_MAX",
    "TRADE_STATUS_MAP",
    "TRANSFER_PRODUCT",
    "TRANSFER_SCENE",
    "TRANSFER_STATUS_MAP",
    "barcode_state",
    "fen_to_yuan",
    "format_time",
    "format_timestamp",
    "get_str",
    "optional_fen",
    "parse_time",
    "pay_biz",
    "payee_info",
    "refund_biz",
    "refund_state",
    "required_id",
    "timestamp",
    "trade_result",
    "trade_state",
    "transfer_biz",
    "transfer_result",
    "transfer_state",
    "yuan",
    "yuan_to_fen",
]
