"""Alipay OpenAPI adapter: pure `build_*` / `parse_*` functions per API
(the Transfer RPCs are in `transfers`).

No I/O and no clock: `now` (aware datetime) is passed in. Signing, the form POST and the
authentication of answers live in `protocol` (every parse goes through it first).
page.pay / wap.pay / app.pay complete client-side: `build_client_pay_data` signs them
without a server call.

Our ids are Alipay's merchant numbers: order_id -> out_trade_no, refund_id ->
out_request_no, transfer_id -> out_biz_no.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlencode

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels import base
from paymesh.channels.alipay.config import AlipayAccount
from paymesh.channels.alipay.protocol import (
    PAY_REFUSALS,
    REFUND_REFUSALS,
    CertKeys,
    ResponseUnauthenticated,
    checked_content,
    post,
    raise_for_code,
    signed_params,
    verified_content,
)
from paymesh.channels.alipay.transformers import (
    CLIENT_METHODS,
    CODE_SUCCESS,
    CODE_WAITING,
    M_APP_PAY,
    M_CANCEL,
    M_CLOSE,
    M_CREATE,
    M_PAGE_PAY,
    M_PAY,
    M_PRECREATE,
    M_QUERY,
    M_REFUND,
    M_REFUND_QUERY,
    SERVER_METHODS,
    barcode_state,
    get_str,
    optional_fen,
    pay_biz,
    refund_biz,
    refund_state,
    required_id,
    timestamp,
    trade_result,
)
from paymesh.channels.base import (
    RESULT_SUCCEEDED,
    TRADE_CLOSED,
    TRADE_PAID,
    TRADE_PENDING,
    expect_same,
)
from paymesh.channels.transport import HttpRequest, HttpResponse
from paymesh.common.v1 import pay_data_pb2
from paymesh.errors import ChannelUnavailable, InvalidArgument

TRADE_NOT_EXIST: Final = "ACQ.TRADE_NOT_EXIST"


def _notify_url(request_url: str, account: AlipayAccount) -> str:
    return request_url or account.notify_url


# --- pay -----------------------------------------------------------------------------------


def build_pay_request(req: svc.PayRequest, account: AlipayAccount, now: datetime) -> HttpRequest:
    """qr (alipay.trade.precreate), barcode (alipay.trade.pay) and jsapi
    (alipay.trade.create for the buyer): server calls."""
    method = SERVER_METHODS.get(req.method)
    if method is None:
        raise InvalidArgument(f"Alipay makes no server call for {req.method!r}", field="method")
    params = signed_params(
        account, method, pay_biz(req, method), now, notify_url=_notify_url(req.notify_url, account)
    )
    return post(account, params, personal_data=method in (M_PAY, M_CREATE))


def build_client_pay_data(
    req: svc.PayRequest, account: AlipayAccount, now: datetime
) -> pay_data_pb2.PayData:
    """page (signed GET URL + auto-submit form), h5 (signed URL), app (order string)."""
    method = CLIENT_METHODS.get(req.method)
    if method is None:
        raise InvalidArgument(f"{req.method!r} is not a client-side Alipay method", field="method")
    params = signed_params(
        account,
        method,
        pay_biz(req, method),
        now,
        notify_url=_notify_url(req.notify_url, account),
        return_url=req.return_url if method != M_APP_PAY else "",
    )
    pay_data = pay_data_pb2.PayData()
    if method == M_APP_PAY:
        pay_data.app_params["order_string"] = urlencode(params)
        return pay_data
    pay_data.pay_url = f"{account.base_url}?{urlencode(params)}"
    if method == M_PAGE_PAY:
        pay_data.form_html = auto_submit_form(f"{account.base_url}?charset=utf-8", params)
    return pay_data


def auto_submit_form(action: str, params: Mapping[str, str]) -> str:
    return base.auto_submit_form(action, params, form_id="alipaysubmit", submit_button=True)


def pending_trade(req: svc.PayRequest, channel_trade_no: str = "") -> channel_pb2.TradeResult:
    return channel_pb2.TradeResult(
        state=TRADE_PENDING,
        order_id=req.order_id,
        channel_trade_no=channel_trade_no,
        amount=req.amount,
        currency=req.currency or "CNY",
    )


def parse_pay_response(
    req: svc.PayRequest,
    account: AlipayAccount,
    resp: HttpResponse,
    keys: CertKeys | None = None,
) -> svc.PayResponse:
    """qr: `qr_code` as code_url. jsapi: the `trade_no` as app_params.tradeNO (for
    AlipayJSBridge tradePay). barcode: 10000 PAID, 10003 PENDING (the buyer confirms),
    20000 / system errors raise ChannelUnavailable (the channel queries), 40004 ChannelError."""
    method = SERVER_METHODS.get(req.method, M_PRECREATE)
    content = verified_content(resp, account, method, refusals=PAY_REFUSALS, keys=keys)
    code = get_str(content, "code")
    if req.method == "barcode" and code == CODE_WAITING:
        expect_same("Alipay", "out_trade_no", req.order_id, get_str(content, "out_trade_no"))
        trade = pending_trade(req, get_str(content, "trade_no"))
        trade.provider_state = code
        return svc.PayResponse(trade=trade)
    raise_for_code(content, PAY_REFUSALS)
    expect_same("Alipay", "out_trade_no", req.order_id, get_str(content, "out_trade_no"))
    if req.method == "barcode":
        trade = trade_result(content)
        trade.state = barcode_state(code)
        trade.provider_state = "TRADE_SUCCESS"
        trade.order_id = req.order_id
        if trade.state == TRADE_PAID and not trade.HasField("paid_at"):
            paid_at = timestamp(get_str(content, "gmt_payment"))
            if paid_at is not None:
                trade.paid_at.CopyFrom(paid_at)
        return svc.PayResponse(trade=trade)
    if req.method == "jsapi":
        trade_no = get_str(content, "trade_no")
        if not trade_no:
            raise ChannelUnavailable("malformed Alipay response: no trade_no")
        return svc.PayResponse(
            pay_data=pay_data_pb2.PayData(app_params={"tradeNO": trade_no}),
            trade=pending_trade(req, trade_no),
        )
    qr_code = get_str(content, "qr_code")
    if not qr_code:
        raise ChannelUnavailable("malformed Alipay response: no qr_code")
    return svc.PayResponse(
        pay_data=pay_data_pb2.PayData(code_url=qr_code), trade=pending_trade(req)
    )


# --- query / close / cancel --------------------------------------------------------------------


def build_query_request(
    req: svc.QueryRequest, account: AlipayAccount, now: datetime
) -> HttpRequest:
    biz = {"out_trade_no": required_id(req.order_id, "order_id")}
    return post(account, signed_params(account, M_QUERY, biz, now))


def parse_query_response(
    req: svc.QueryRequest,
    account: AlipayAccount,
    resp: HttpResponse,
    keys: CertKeys | None = None,
) -> svc.QueryResponse:
    """ACQ.TRADE_NOT_EXIST is PENDING: page/wap/app trades exist at Alipay only once the
    payer opened them (the order's time_expire keeps a late payer out)."""
    content = verified_content(resp, account, M_QUERY, keys=keys)
    if get_str(content, "sub_code") == TRADE_NOT_EXIST:
        trade = channel_pb2.TradeResult(
            state=TRADE_PENDING, order_id=req.order_id, provider_state="TRADE_NOT_EXIST"
        )
        return svc.QueryResponse(trade=trade)
    raise_for_code(content)
    trade = trade_result(content)
    expect_same("Alipay", "out_trade_no", req.order_id, trade.order_id)
    if not trade.provider_state:
        raise ChannelUnavailable("malformed Alipay response: no trade_status")
    trade.order_id = req.order_id
    return svc.QueryResponse(trade=trade)


def build_close_request(
    req: svc.CloseRequest, account: AlipayAccount, now: datetime
) -> HttpRequest:
    biz = {"out_trade_no": required_id(req.order_id, "order_id")}
    return post(account, signed_params(account, M_CLOSE, biz, now))


def parse_close_response(
    account: AlipayAccount, resp: HttpResponse, keys: CertKeys | None = None
) -> svc.CloseResponse:
    """Closed; also when Alipay never saw the trade (ACQ.TRADE_NOT_EXIST): nothing can be
    paid on it after its time_expire."""
    content = verified_content(resp, account, M_CLOSE, keys=keys)
    if get_str(content, "sub_code") != TRADE_NOT_EXIST:
        raise_for_code(content)
    return svc.CloseResponse()


def build_cancel_request(order_id: str, account: AlipayAccount, now: datetime) -> HttpRequest:
    """alipay.trade.cancel (barcode whose outcome stayed unknown): closes or reverses it."""
    biz = {"out_trade_no": required_id(order_id, "order_id")}
    return post(account, signed_params(account, M_CANCEL, biz, now))


def parse_cancel_response(
    order_id: str,
    account: AlipayAccount,
    resp: HttpResponse,
    keys: CertKeys | None = None,
) -> channel_pb2.TradeResult:
    """CLOSED once Alipay cancelled (closed, or refunded a payment that went through);
    ChannelUnavailable when Alipay asks to retry (`retry_flag` Y) or did not say."""
    content = verified_content(resp, account, M_CANCEL, keys=keys)
    if get_str(content, "code") != CODE_SUCCESS and get_str(content, "retry_flag") == "Y":
        raise ChannelUnavailable(
            "Alipay asks to retry the cancel",
            metadata={"provider_code": get_str(content, "sub_code")},
        )
    raise_for_code(content)
    return channel_pb2.TradeResult(
        state=TRADE_CLOSED,
        order_id=order_id,
        channel_trade_no=get_str(content, "trade_no"),
        provider_state="CANCELLED:" + (get_str(content, "action") or "close"),
    )


# --- refunds ------------------------------------------------------------------------------------


def build_refund_request(
    req: svc.RefundRequest, account: AlipayAccount, now: datetime
) -> HttpRequest:
    return post(account, signed_params(account, M_REFUND, refund_biz(req), now))


def parse_refund_response(
    req: svc.RefundRequest,
    account: AlipayAccount,
    resp: HttpResponse,
    keys: CertKeys | None = None,
) -> svc.RefundResponse:
    """Refunds settle synchronously: `fund_change` Y = SUCCEEDED. N (e.g. a repeated
    out_request_no) stays PENDING for a refund query to settle."""
    content = checked_content(resp, account, M_REFUND, refusals=REFUND_REFUSALS, keys=keys)
    expect_same("Alipay", "out_trade_no", req.order_id, get_str(content, "out_trade_no"))
    done = get_str(content, "fund_change") == "Y"
    refund = channel_pb2.RefundResult(
        state=RESULT_SUCCEEDED if done else refund_state(""),
        refund_id=req.refund_id,
        order_id=req.order_id,
        channel_refund_no=get_str(content, "trade_no"),
        amount=req.amount,
        provider_state="fund_change=" + (get_str(content, "fund_change") or "?"),
    )
    if done:
        at = timestamp(get_str(content, "gmt_refund_pay"))
        if at is not None:
            refund.succeeded_at.CopyFrom(at)
    return svc.RefundResponse(refund=refund)


def build_query_refund_request(
    req: svc.QueryRefundRequest, account: AlipayAccount, now: datetime
) -> HttpRequest:
    biz: dict[str, Any] = {
        "out_trade_no": required_id(req.order_id, "order_id"),
        "out_request_no": required_id(req.refund_id, "refund_id"),
        "query_options": ["gmt_refund_pay"],
    }
    return post(account, signed_params(account, M_REFUND_QUERY, biz, now))


def parse_query_refund_response(
    req: svc.QueryRefundRequest,
    account: AlipayAccount,
    resp: HttpResponse,
    keys: CertKeys | None = None,
) -> svc.QueryRefundResponse:
    """`refund_status` REFUND_SUCCESS = SUCCEEDED; absent = not refunded (yet): PENDING.
    A success answer with no refund data at all is Alipay saying it has no such refund
    (alipay.trade.fastpay.refund.query: "未返回该字段表示退款请求未收到或者退款失败"; "如果没有
    查询到则代表未退款成功,可以调用退款接口进行重试。重试时请务必保证退款请求号一致"):
    `not_found`, so the caller may resubmit with the same out_request_no."""
    content = checked_content(resp, account, M_REFUND_QUERY, keys=keys)
    expect_same("Alipay", "out_request_no", req.refund_id, get_str(content, "out_request_no"))
    provider_state = get_str(content, "refund_status")
    if not provider_state and not any(
        get_str(content, k) for k in ("out_request_no", "refund_amount", "trade_no")
    ):
        return svc.QueryRefundResponse(
            refund=channel_pb2.RefundResult(
                state=refund_state(""),
                refund_id=req.refund_id,
                order_id=req.order_id,
                provider_state="NOT_FOUND",
                not_found=True,
            )
        )
    refund = channel_pb2.RefundResult(
        state=refund_state(provider_state),
        refund_id=req.refund_id,
        order_id=req.order_id,
        channel_refund_no=get_str(content, "trade_no"),
        amount=optional_fen(content, "refund_amount"),
        provider_state=provider_state or "NOT_REFUNDED",
    )
    if refund.state == RESULT_SUCCEEDED:
        at = timestamp(get_str(content, "gmt_refund_pay"))
        if at is not None:
            refund.succeeded_at.CopyFrom(at)
    return svc.QueryRefundResponse(refund=refund)


__all__ = [
    "CLIENT_METHODS",
    "SERVER_METHODS",
    "ResponseUnauthenticated",
    "auto_submit_form",
    "build_cancel_request",
    "build_client_pay_data",
    "build_close_request",
    "build_pay_request",
    "build_query_refund_request",
    "build_query_request",
    "build_refund_request",
    "checked_content",
    "parse_cancel_response",
    "parse_close_response",
    "parse_pay_response",
    "parse_query_refund_response",
    "parse_query_response",
    "parse_refund_response",
    "raise_for_code",
    "signed_params",
    "verified_content",
]
