"""UnionPay ACP 5.1.0 adapter: pure `build_*` / `parse_*` functions (no I/O, `now` passed in).

Endpoints under `{base_url}/gateway/api/` (ACP 5.1.0 接口规范):
- `frontTransReq.do`: consume 01/01, bizType 000201, channelType 07 (PC, `page`) or 08
  (mobile web, `h5`): the payer's browser POSTs it, so `page`/`h5` return an
  auto-submitting form and make no server call;
- `appTransReq.do`: the same consume for the app SDK, channelType 08; answers `tn`;
- `queryTrans.do`: query 00/00 bizType 000000 by orderId + txnTime;
- `backTransReq.do`: refund 04/00 and consume cancel 31/00, both naming the consume's
  `queryId` as `origQryId`.

The envelope (common fields, signing, answer authentication, respCode classes) is
`protocol`; this module composes the transactions from it and `transformers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels import base
from paymesh.channels.base import RESULT_PENDING, TRADE_PENDING, check_currency, expect_same
from paymesh.channels.transport import HttpRequest, HttpResponse
from paymesh.channels.unionpay.config import UnionpayAccount
from paymesh.channels.unionpay.protocol import (
    common_fields,
    post,
    raise_for_code,
    signed,
    verified_fields,
)
from paymesh.channels.unionpay.transformers import (
    BIZ_GATEWAY,
    BIZ_QUERY,
    CHANNEL_MOBILE,
    CHANNEL_PC,
    CURRENCY_CNY,
    RESP_NOT_FOUND,
    TXN_CANCEL,
    TXN_CONSUME,
    TXN_QUERY,
    TXN_REFUND,
    fen,
    format_time,
    refund_result,
    trade_result,
    txn_time_of,
)
from paymesh.common.v1 import pay_data_pb2
from paymesh.errors import ChannelUnavailable, InvalidArgument

FRONT_PATH: Final = "frontTransReq.do"
APP_PATH: Final = "appTransReq.do"
BACK_PATH: Final = "backTransReq.do"
QUERY_PATH: Final = "queryTrans.do"
FRONT_CHANNELS: Final[Mapping[str, str]] = {"page": CHANNEL_PC, "h5": CHANNEL_MOBILE}
CANCEL_PREFIX: Final = "C"


# --- common ----------------------------------------------------------------------------------


def _txn_time(object_id: str, field: str) -> str:
    if not object_id:
        raise InvalidArgument(f"{field} is required", field=field)
    if not object_id.isalnum() or not 8 <= len(object_id) <= 40:
        raise InvalidArgument(f"{field} must be 8-40 letters or digits for UnionPay", field=field)
    try:
        return txn_time_of(object_id)
    except ValueError as e:
        raise InvalidArgument(f"{field} is not a paymesh id", field=field) from e


def _amount(amount: int, field: str = "amount") -> str:
    try:
        return fen(amount)
    except ValueError as e:
        raise InvalidArgument(str(e), field=field) from e


# --- consume ---------------------------------------------------------------------------------


def _pay_timeout(req: svc.PayRequest, account: UnionpayAccount, now: datetime) -> str:
    if req.HasField("expire_time"):
        return format_time(req.expire_time.ToDatetime(tzinfo=now.tzinfo))
    return format_time(now + timedelta(minutes=account.pay_timeout_minutes))


def consume_fields(
    req: svc.PayRequest, account: UnionpayAccount, now: datetime, channel_type: str
) -> dict[str, str]:
    check_currency(req.currency, "UnionPay online payment")
    fields = common_fields(account, TXN_CONSUME, BIZ_GATEWAY)
    fields.update(
        {
            "channelType": channel_type,
            "orderId": req.order_id,
            "txnTime": _txn_time(req.order_id, "order_id"),
            "txnAmt": _amount(req.amount),
            "currencyCode": CURRENCY_CNY,
            "backUrl": req.notify_url or account.notify_url,
            "payTimeout": _pay_timeout(req, account, now),
        }
    )
    if not fields["backUrl"]:
        raise InvalidArgument("a notify URL (backUrl) is required", field="notify_url")
    return fields


def build_front_pay_data(
    req: svc.PayRequest, account: UnionpayAccount, now: datetime
) -> pay_data_pb2.PayData:
    """page / h5: the signed consume as a form the payer's browser submits."""
    channel_type = FRONT_CHANNELS.get(req.method)
    if channel_type is None:
        raise InvalidArgument(f"{req.method!r} is not a front UnionPay method", field="method")
    fields = consume_fields(req, account, now, channel_type)
    fields["frontUrl"] = req.return_url or account.front_url
    return pay_data_pb2.PayData(
        form_html=auto_submit_form(account.url(FRONT_PATH), signed(account, fields))
    )


def auto_submit_form(action: str, fields: Mapping[str, str]) -> str:
    return base.auto_submit_form(action, fields, form_id="pay_form", method="post")


def build_app_request(req: svc.PayRequest, account: UnionpayAccount, now: datetime) -> HttpRequest:
    """app: appTransReq.do (channelType 08) for a `tn`."""
    fields = consume_fields(req, account, now, CHANNEL_MOBILE)
    return post(account.url(APP_PATH), signed(account, fields))


def parse_app_response(
    req: svc.PayRequest, account: UnionpayAccount, resp: HttpResponse, now: datetime
) -> svc.PayResponse:
    fields = verified_fields(resp, account, now)
    raise_for_code(fields)
    expect_same("UnionPay", "orderId", req.order_id, fields.get("orderId", ""))
    tn = fields.get("tn", "")
    if not tn:
        raise ChannelUnavailable("malformed UnionPay answer: no tn")
    return svc.PayResponse(
        pay_data=pay_data_pb2.PayData(app_params={"tn": tn}), trade=pending_trade(req)
    )


def pending_trade(req: svc.PayRequest) -> channel_pb2.TradeResult:
    return channel_pb2.TradeResult(
        state=TRADE_PENDING, order_id=req.order_id, amount=req.amount, currency="CNY"
    )


# --- query -----------------------------------------------------------------------------------


def build_query_request(object_id: str, account: UnionpayAccount, field: str) -> HttpRequest:
    """queryTrans.do for the transaction whose orderId is `object_id` (order or refund)."""
    fields = common_fields(account, TXN_QUERY, BIZ_QUERY)
    fields["orderId"] = object_id
    fields["txnTime"] = _txn_time(object_id, field)
    return post(account.url(QUERY_PATH), signed(account, fields))


def parse_query(
    object_id: str, account: UnionpayAccount, resp: HttpResponse, now: datetime
) -> dict[str, str] | None:
    """The queried transaction's fields, or None when UnionPay has none (respCode 34)."""
    fields = verified_fields(resp, account, now)
    if fields.get("respCode") == RESP_NOT_FOUND:
        return None
    raise_for_code(fields)
    expect_same("UnionPay", "orderId", object_id, fields.get("orderId", ""))
    if not fields.get("origRespCode"):
        raise ChannelUnavailable("malformed UnionPay answer: no origRespCode")
    return fields


def trade_from_query(order_id: str, found: Mapping[str, str] | None) -> channel_pb2.TradeResult:
    if found is None:
        return channel_pb2.TradeResult(
            state=TRADE_PENDING, order_id=order_id, provider_state=RESP_NOT_FOUND
        )
    trade = trade_result(found, found["origRespCode"])
    trade.order_id = order_id
    return trade


def parse_query_response(
    req: svc.QueryRequest, account: UnionpayAccount, resp: HttpResponse, now: datetime
) -> svc.QueryResponse:
    found = parse_query(req.order_id, account, resp, now)
    return svc.QueryResponse(trade=trade_from_query(req.order_id, found))


# --- refund / cancel ---------------------------------------------------------------------------


def back_fields(
    account: UnionpayAccount,
    txn: tuple[str, str],
    object_id: str,
    txn_time: str,
    amount: int,
    orig_qry_id: str,
    back_url: str,
) -> dict[str, str]:
    if not orig_qry_id:
        raise InvalidArgument("the original consume has no queryId", field="order_id")
    fields = common_fields(account, txn, BIZ_GATEWAY)
    fields.update(
        {
            "channelType": CHANNEL_PC,
            "orderId": object_id,
            "txnTime": txn_time,
            "txnAmt": _amount(amount),
            "origQryId": orig_qry_id,
            "backUrl": back_url or account.notify_url,
        }
    )
    return fields


def build_refund_request(
    req: svc.RefundRequest, account: UnionpayAccount, orig_qry_id: str
) -> HttpRequest:
    """Refund 04/00: orderId = our refund id, origQryId = the consume's queryId."""
    check_currency(req.currency, "UnionPay online payment")
    if req.total_amount and req.total_amount < req.amount:
        raise InvalidArgument("total_amount must cover the refund", field="total_amount")
    txn_time = _txn_time(req.refund_id, "refund_id")
    fields = back_fields(
        account, TXN_REFUND, req.refund_id, txn_time, req.amount, orig_qry_id, req.notify_url
    )
    return post(account.url(BACK_PATH), signed(account, fields))


def parse_refund_response(
    req: svc.RefundRequest, account: UnionpayAccount, resp: HttpResponse, now: datetime
) -> svc.RefundResponse:
    """respCode 00 = accepted (受理): PENDING until the notify or a query says."""
    fields = verified_fields(resp, account, now)
    raise_for_code(fields)
    expect_same("UnionPay", "orderId", req.refund_id, fields.get("orderId", ""))
    refund = channel_pb2.RefundResult(
        state=RESULT_PENDING,
        refund_id=req.refund_id,
        order_id=req.order_id,
        channel_refund_no=fields.get("queryId", ""),
        amount=req.amount,
        provider_state="ACCEPTED",
    )
    return svc.RefundResponse(refund=refund)


def parse_query_refund_response(
    req: svc.QueryRefundRequest, account: UnionpayAccount, resp: HttpResponse, now: datetime
) -> svc.QueryRefundResponse:
    found = parse_query(req.refund_id, account, resp, now)
    if found is None:
        refund = channel_pb2.RefundResult(
            state=RESULT_PENDING,
            refund_id=req.refund_id,
            order_id=req.order_id,
            provider_state=RESP_NOT_FOUND,
        )
    else:
        refund = refund_result(found, found["origRespCode"], order_id=req.order_id)
        refund.refund_id = req.refund_id
    return svc.QueryRefundResponse(refund=refund)


def cancel_id(order_id: str) -> str:
    """The orderId of the consume cancel of `order_id` (one per order)."""
    return CANCEL_PREFIX + order_id[1:] if order_id[:1].isalpha() else CANCEL_PREFIX + order_id


def build_cancel_request(
    order_id: str, amount: int, orig_qry_id: str, account: UnionpayAccount, now: datetime
) -> HttpRequest:
    """Consume cancel 31/00 (same day, the full amount)."""
    fields = back_fields(
        account, TXN_CANCEL, cancel_id(order_id), format_time(now), amount, orig_qry_id, ""
    )
    return post(account.url(BACK_PATH), signed(account, fields))


def parse_cancel_response(
    order_id: str, account: UnionpayAccount, resp: HttpResponse, now: datetime
) -> svc.CloseResponse:
    fields = verified_fields(resp, account, now)
    raise_for_code(fields)
    expect_same("UnionPay", "orderId", cancel_id(order_id), fields.get("orderId", ""))
    return svc.CloseResponse()


__all__ = [
    "APP_PATH",
    "BACK_PATH",
    "FRONT_PATH",
    "QUERY_PATH",
    "auto_submit_form",
    "build_app_request",
    "build_cancel_request",
    "build_front_pay_data",
    "build_query_request",
    "build_refund_request",
    "cancel_id",
    "parse_app_response",
    "parse_cancel_response",
    "parse_query",
    "parse_query_refund_response",
    "parse_query_response",
    "parse_refund_response",
    "trade_from_query",
]
