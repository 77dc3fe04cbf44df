"""Alipay adapter: request building and response parsing from recorded (crafted) payloads."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from google.protobuf import timestamp_pb2

from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.alipay import adapter, sign, transfers
from paymesh.channels.alipay.adapter import ResponseUnauthenticated
from paymesh.channels.transport import HttpRequest, HttpResponse, make_exchange
from paymesh.errors import ChannelError, ChannelUnavailable, InvalidArgument
from tests.channels.alipay.fakes import FakeAlipay, make_account, new_rsa_key

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
APP_KEY = new_rsa_key()
ALIPAY = FakeAlipay()
ACCOUNT = make_account(ALIPAY, APP_KEY)
CERT_ACCOUNT = make_account(
    ALIPAY, APP_KEY, mode="certificate", certs=ALIPAY.certificates(APP_KEY, NOW)
)
REF = pb.AccountRef(channel="alipay", account_id="ali-test")
ORDER = "P202611220400001"


def check_params(params: dict[str, str], method: str, account: Any = ACCOUNT) -> dict[str, Any]:
    """Check signed parameters as Alipay would; return the parsed biz_content."""
    assert sign.verify_params(APP_KEY.public_key(), params)
    assert params["app_id"] == "2021000000000001"
    assert params["method"] == method
    assert params["format"] == "JSON"
    assert params["charset"] == "utf-8"
    assert params["sign_type"] == "RSA2"
    assert params["timestamp"] == "2026-11-22 12:00:00"
    assert params["version"] == "1.0"
    if account.mode == "certificate":
        assert params["app_cert_sn"] == account.app_cert_sn
        assert params["alipay_root_cert_sn"] == account.alipay_root_cert_sn
    else:
        assert "app_cert_sn" not in params
    biz: dict[str, Any] = json.loads(params["biz_content"])
    return biz


def check_post(http: HttpRequest, method: str, account: Any = ACCOUNT) -> dict[str, Any]:
    assert http.method == "POST"
    assert http.url == account.base_url
    assert http.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    params = dict(parse_qsl(http.body.decode("ascii"), keep_blank_values=True, strict_parsing=True))
    return check_params(params, method, account)


def pay_request(method: str, **kw: Any) -> svc.PayRequest:
    expire = timestamp_pb2.Timestamp()
    expire.FromDatetime(datetime(2026, 11, 22, 4, 15, tzinfo=UTC))
    fields: dict[str, Any] = {
        "account": REF,
        "method": method,
        "order_id": ORDER,
        "amount": 1999,
        "currency": "CNY",
        "subject": "Iphone6 16G & 中文",
        "notify_url": "https://paymesh.example/v1/callbacks/alipay/ali-test",
        "return_url": "https://shop.example/done",
        "expire_time": expire,
    }
    fields.update(kw)
    return svc.PayRequest(**fields)


def ok(method: str, **content: Any) -> HttpResponse:
    return ALIPAY.response(method, {"code": "10000", "msg": "Success", **content})


def fail(method: str, code: str, sub_code: str, sub_msg: str = "失败") -> HttpResponse:
    return ALIPAY.response(
        method, {"code": code, "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}
    )


# --- pay: server calls ----------------------------------------------------------------------


@pytest.mark.parametrize("account", [ACCOUNT, CERT_ACCOUNT], ids=["public_key", "certificate"])
def test_qr_precreate(account: Any) -> None:
    req = pay_request("qr")
    http = adapter.build_pay_request(req, account, NOW)
    biz = check_post(http, "alipay.trade.precreate", account)
    assert biz == {
        "out_trade_no": ORDER,
        "total_amount": "19.99",
        "subject": "Iphone6 16G & 中文",
        "product_code": "FACE_TO_FACE_PAYMENT",
        "time_expire": "2026-11-22 12:15:00",
    }
    resp = ok(
        "alipay.trade.precreate", out_trade_no=ORDER, qr_code="https://qr.alipay.com/bax08431"
    )
    out = adapter.parse_pay_response(req, account, resp)
    assert out.pay_data.code_url == "https://qr.alipay.com/bax08431"
    assert out.trade.state == pb.TRADE_STATE_PENDING
    assert out.trade.amount == 1999


def test_notify_url_comes_from_request_or_account() -> None:
    http = adapter.build_pay_request(pay_request("qr", notify_url=""), ACCOUNT, NOW)
    params = dict(parse_qsl(http.body.decode()))
    assert params["notify_url"] == ACCOUNT.notify_url
    assert "return_url" not in params


def test_barcode_paid() -> None:
    req = pay_request("barcode", auth_code="28763443825664394")
    biz = check_post(adapter.build_pay_request(req, ACCOUNT, NOW), "alipay.trade.pay")
    assert biz["scene"] == "bar_code"
    assert biz["auth_code"] == "28763443825664394"
    assert biz["product_code"] == "FACE_TO_FACE_PAYMENT"
    resp = ok(
        "alipay.trade.pay",
        out_trade_no=ORDER,
        trade_no="2026112222001456",
        total_amount="19.99",
        buyer_user_id="2088102177846880",
        gmt_payment="2026-11-22 12:00:03",
    )
    out = adapter.parse_pay_response(req, ACCOUNT, resp)
    assert out.trade.state == pb.TRADE_STATE_PAID
    assert out.trade.channel_trade_no == "2026112222001456"
    assert out.trade.amount == 1999
    assert out.trade.paid_at.ToDatetime(tzinfo=UTC) == datetime(2026, 11, 22, 4, 0, 3, tzinfo=UTC)


def test_barcode_waiting_is_pending() -> None:
    req = pay_request("barcode", auth_code="28763443825664394")
    resp = ALIPAY.response(
        "alipay.trade.pay",
        {"code": "10003", "msg": "order success pay inprocess", "out_trade_no": ORDER,
         "trade_no": "2026112222001456"},
    )  # fmt: skip
    out = adapter.parse_pay_response(req, ACCOUNT, resp)
    assert out.trade.state == pb.TRADE_STATE_PENDING
    assert out.trade.channel_trade_no == "2026112222001456"


@pytest.mark.parametrize(
    ("code", "sub_code", "error"),
    [
        ("20000", "isp.unknow-error", ChannelUnavailable),
        ("40004", "ACQ.SYSTEM_ERROR", ChannelUnavailable),
        ("40004", "ACQ.TRADE_HAS_SUCCESS", ChannelUnavailable),
        ("40004", "ACQ.PAYMENT_AUTH_CODE_INVALID", ChannelError),
        ("40004", "ACQ.BUYER_BALANCE_NOT_ENOUGH", ChannelError),
    ],
)
def test_barcode_failures(code: str, sub_code: str, error: type[Exception]) -> None:
    req = pay_request("barcode", auth_code="28763443825664394")
    with pytest.raises(error) as info:
        adapter.parse_pay_response(req, ACCOUNT, fail("alipay.trade.pay", code, sub_code))
    if error is ChannelError:
        assert isinstance(info.value, ChannelError)
        assert info.value.metadata["provider_code"] == sub_code
        assert info.value.metadata["provider_message"] == "失败"


def test_barcode_needs_auth_code() -> None:
    with pytest.raises(InvalidArgument, match="auth_code"):
        adapter.build_pay_request(pay_request("barcode"), ACCOUNT, NOW)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": 10**10 + 1}, "amount"),
        ({"currency": "USD"}, "currency"),
        ({"subject": "", "description": ""}, "subject"),
        ({"order_id": ""}, "order_id"),
        ({"method": "micropay"}, "method"),
        ({"method": "jsapi"}, "payer_id"),  # alipay.trade.create needs the buyer
    ],
)
def test_pay_invalid(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        adapter.build_pay_request(pay_request(**{"method": "qr", **changes}), ACCOUNT, NOW)
    assert info.value.metadata["field"] == field


@pytest.mark.parametrize(
    ("buyer", "field"),
    [
        ("2088102146225135", "buyer_id"),
        ("074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5", "buyer_open_id"),
    ],
)
def test_jsapi_creates_the_trade_for_the_buyer(buyer: str, field: str) -> None:
    http = adapter.build_pay_request(pay_request("jsapi", payer_id=buyer), ACCOUNT, NOW)
    biz = check_post(http, "alipay.trade.create")
    assert biz[field] == buyer
    assert biz["product_code"] == "JSAPI_PAY"


@pytest.mark.parametrize(("fen", "yuan"), [(1, "0.01"), (10**10, "100000000.00")])
def test_amount_edges(fen: int, yuan: str) -> None:
    http = adapter.build_pay_request(pay_request("qr", amount=fen), ACCOUNT, NOW)
    assert check_post(http, "alipay.trade.precreate")["total_amount"] == yuan


# --- pay: client-side ------------------------------------------------------------------------


def test_page_pay_url_and_form() -> None:
    pay_data = adapter.build_client_pay_data(pay_request("page"), ACCOUNT, NOW)
    url = urlsplit(pay_data.pay_url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == ACCOUNT.base_url
    params = dict(parse_qsl(url.query, strict_parsing=True))
    biz = check_params(params, "alipay.trade.page.pay")
    assert biz["product_code"] == "FAST_INSTANT_TRADE_PAY"
    assert params["return_url"] == "https://shop.example/done"
    assert params["notify_url"].endswith("/alipay/ali-test")
    form = pay_data.form_html
    assert form.startswith('<form id="alipaysubmit"')
    assert 'action="https://openapi.alipay.com/gateway.do?charset=utf-8"' in form
    assert "document.forms['alipaysubmit'].submit()" in form
    # the biz_content JSON is HTML-escaped in the form
    assert "&quot;out_trade_no&quot;:&quot;P202611220400001&quot;" in form


def test_wap_pay_url() -> None:
    pay_data = adapter.build_client_pay_data(pay_request("h5"), ACCOUNT, NOW)
    params = dict(parse_qsl(urlsplit(pay_data.pay_url).query))
    assert check_params(params, "alipay.trade.wap.pay")["product_code"] == "QUICK_WAP_WAY"
    assert not pay_data.form_html


def test_app_pay_order_string() -> None:
    pay_data = adapter.build_client_pay_data(pay_request("app"), CERT_ACCOUNT, NOW)
    order_string = pay_data.app_params["order_string"]
    params = dict(parse_qsl(order_string, strict_parsing=True))
    biz = check_params(params, "alipay.trade.app.pay", CERT_ACCOUNT)
    assert biz["product_code"] == "QUICK_MSECURITY_PAY"
    assert "return_url" not in params
    assert not pay_data.pay_url


def test_client_side_rejects_server_methods() -> None:
    with pytest.raises(InvalidArgument):
        adapter.build_client_pay_data(pay_request("qr"), ACCOUNT, NOW)


# --- response authentication -----------------------------------------------------------------


def test_bad_signature_on_success_is_unavailable() -> None:
    other = FakeAlipay()
    resp = other.response("alipay.trade.query", {"code": "10000", "trade_status": "TRADE_SUCCESS"})
    with pytest.raises(ResponseUnauthenticated):
        adapter.parse_query_response(svc.QueryRequest(order_id=ORDER), ACCOUNT, resp)


@pytest.mark.parametrize(
    "content",
    [
        {"code": "10000", "trade_status": "TRADE_SUCCESS", "out_trade_no": ORDER},
        {"code": "20000", "sub_code": "isp.unknow-error"},
        {"msg": "no code at all"},
    ],
)
def test_unsigned_answers_are_unavailable(content: dict[str, Any]) -> None:
    body = json.dumps({"alipay_trade_query_response": content}).encode()
    with pytest.raises(ResponseUnauthenticated, match="not signed"):
        adapter.parse_query_response(
            svc.QueryRequest(order_id=ORDER), ACCOUNT, HttpResponse(200, {}, body)
        )


def test_unsigned_request_level_refusal_is_a_channel_error() -> None:
    body = json.dumps(
        {
            "error_response": {
                "code": "40002",
                "msg": "Invalid Arguments",
                "sub_code": "isv.invalid-app-id",
                "sub_msg": "无效的AppID参数",
            }
        },
        ensure_ascii=False,
    ).encode()
    with pytest.raises(ChannelError) as info:
        adapter.parse_query_response(
            svc.QueryRequest(order_id=ORDER), ACCOUNT, HttpResponse(200, {}, body)
        )
    assert info.value.metadata["provider_code"] == "isv.invalid-app-id"
    assert info.value.metadata["code"] == "40002"


def test_exact_bytes_with_spaces_and_escapes_verify() -> None:
    raw = (
        '{ "code": "10000", "msg": "Success", "out_trade_no": "' + ORDER + '",\n'
        '  "trade_no": "2026112222001", "trade_status": "TRADE_SUCCESS",\n'
        '  "total_amount": "0.01", "subject": "\\u8ba2\\u5355\\/1" }'
    )
    resp = ALIPAY.response("alipay.trade.query", raw)
    out = adapter.parse_query_response(svc.QueryRequest(order_id=ORDER), ACCOUNT, resp)
    assert out.trade.state == pb.TRADE_STATE_PAID
    assert out.trade.amount == 1


@pytest.mark.parametrize(
    "resp",
    [
        HttpResponse(502, {}, b"bad gateway"),
        HttpResponse(404, {}, b"not found"),
        HttpResponse(200, {}, b"<html>busy</html>"),
        HttpResponse(200, {}, b'{"other_response":{},"sign":"x"}'),
    ],
)
def test_transport_level_garbage_is_unavailable(resp: HttpResponse) -> None:
    with pytest.raises(ChannelUnavailable):
        adapter.parse_query_response(svc.QueryRequest(order_id=ORDER), ACCOUNT, resp)


# --- query / close / cancel -----------------------------------------------------------------------

QUERY_CASES = [
    ("WAIT_BUYER_PAY", pb.TRADE_STATE_PENDING),
    ("TRADE_SUCCESS", pb.TRADE_STATE_PAID),
    ("TRADE_FINISHED", pb.TRADE_STATE_PAID),
    ("TRADE_CLOSED", pb.TRADE_STATE_CLOSED),
    ("BRAND_NEW", pb.TRADE_STATE_PENDING),
]


@pytest.mark.parametrize(("status", "state"), QUERY_CASES)
def test_query(status: str, state: int) -> None:
    req = svc.QueryRequest(account=REF, order_id=ORDER)
    biz = check_post(adapter.build_query_request(req, ACCOUNT, NOW), "alipay.trade.query")
    assert biz == {"out_trade_no": ORDER}
    resp = ok(
        "alipay.trade.query",
        out_trade_no=ORDER,
        trade_no="2026112222001",
        trade_status=status,
        total_amount="88.88",
        send_pay_date="2026-11-22 12:00:01",
    )
    trade = adapter.parse_query_response(req, ACCOUNT, resp).trade
    assert trade.state == state
    assert trade.provider_state == status
    assert trade.amount == 8888
    assert trade.HasField("paid_at") == (state == pb.TRADE_STATE_PAID)


def test_query_not_exist_is_pending_and_other_order_is_unavailable() -> None:
    req = svc.QueryRequest(account=REF, order_id=ORDER)
    resp = fail("alipay.trade.query", "40004", "ACQ.TRADE_NOT_EXIST", "交易不存在")
    trade = adapter.parse_query_response(req, ACCOUNT, resp).trade
    assert trade.state == pb.TRADE_STATE_PENDING
    assert trade.provider_state == "TRADE_NOT_EXIST"
    other = ok("alipay.trade.query", out_trade_no="OTHER", trade_status="TRADE_SUCCESS")
    with pytest.raises(ChannelUnavailable, match="another"):
        adapter.parse_query_response(req, ACCOUNT, other)
    with pytest.raises(ChannelUnavailable, match="no trade_status"):
        adapter.parse_query_response(req, ACCOUNT, ok("alipay.trade.query", out_trade_no=ORDER))


def test_close() -> None:
    req = svc.CloseRequest(account=REF, order_id=ORDER)
    biz = check_post(adapter.build_close_request(req, ACCOUNT, NOW), "alipay.trade.close")
    assert biz == {"out_trade_no": ORDER}
    adapter.parse_close_response(ACCOUNT, ok("alipay.trade.close", out_trade_no=ORDER))
    adapter.parse_close_response(
        ACCOUNT, fail("alipay.trade.close", "40004", "ACQ.TRADE_NOT_EXIST")
    )
    with pytest.raises(ChannelError) as info:
        adapter.parse_close_response(
            ACCOUNT, fail("alipay.trade.close", "40004", "ACQ.TRADE_STATUS_ERROR")
        )
    assert info.value.metadata["provider_code"] == "ACQ.TRADE_STATUS_ERROR"
    with pytest.raises(ChannelUnavailable):
        adapter.parse_close_response(ACCOUNT, fail("alipay.trade.close", "20000", "isp.unknow"))


def test_cancel() -> None:
    biz = check_post(adapter.build_cancel_request(ORDER, ACCOUNT, NOW), "alipay.trade.cancel")
    assert biz == {"out_trade_no": ORDER}
    resp = ok("alipay.trade.cancel", out_trade_no=ORDER, retry_flag="N", action="refund")
    trade = adapter.parse_cancel_response(ORDER, ACCOUNT, resp)
    assert trade.state == pb.TRADE_STATE_CLOSED
    assert trade.provider_state == "CANCELLED:refund"
    retry = ALIPAY.response(
        "alipay.trade.cancel",
        {"code": "40004", "sub_code": "ACQ.REASON_TRADE_STATUS_INVALID", "retry_flag": "Y"},
    )
    with pytest.raises(ChannelUnavailable, match="retry"):
        adapter.parse_cancel_response(ORDER, ACCOUNT, retry)


# --- refunds ---------------------------------------------------------------------------------------


def refund_request(**kw: Any) -> svc.RefundRequest:
    fields: dict[str, Any] = {
        "account": REF,
        "order_id": ORDER,
        "refund_id": "R202611220400001",
        "amount": 1,
        "total_amount": 1999,
        "reason": "正常退款",
    }
    fields.update(kw)
    return svc.RefundRequest(**fields)


@pytest.mark.parametrize(
    ("fund_change", "state"), [("Y", pb.RESULT_STATE_SUCCEEDED), ("N", pb.RESULT_STATE_PENDING)]
)
def test_partial_refund(fund_change: str, state: int) -> None:
    req = refund_request()
    biz = check_post(adapter.build_refund_request(req, ACCOUNT, NOW), "alipay.trade.refund")
    assert biz == {
        "out_trade_no": ORDER,
        "out_request_no": "R202611220400001",
        "refund_amount": "0.01",
        "refund_reason": "正常退款",
    }
    resp = ok(
        "alipay.trade.refund",
        out_trade_no=ORDER,
        trade_no="2026112222001",
        fund_change=fund_change,
        refund_fee="0.01",
        gmt_refund_pay="2026-11-22 12:01:00",
    )
    refund = adapter.parse_refund_response(req, ACCOUNT, resp).refund
    assert refund.state == state
    assert refund.refund_id == "R202611220400001"
    assert refund.amount == 1
    assert refund.HasField("succeeded_at") == (state == pb.RESULT_STATE_SUCCEEDED)


def test_refund_refused() -> None:
    resp = fail("alipay.trade.refund", "40004", "ACQ.TRADE_NOT_ALLOW_REFUND", "交易不允许退款")
    with pytest.raises(ChannelError) as info:
        adapter.parse_refund_response(refund_request(), ACCOUNT, resp)
    assert info.value.metadata["provider_code"] == "ACQ.TRADE_NOT_ALLOW_REFUND"
    with pytest.raises(InvalidArgument):
        adapter.build_refund_request(refund_request(amount=2000), ACCOUNT, NOW)


@pytest.mark.parametrize(
    ("content", "state", "amount"),
    [
        (
            {"refund_status": "REFUND_SUCCESS", "refund_amount": "0.01",
             "gmt_refund_pay": "2026-11-22 12:01:00"},
            pb.RESULT_STATE_SUCCEEDED,
            1,
        ),
        ({}, pb.RESULT_STATE_PENDING, 0),  # no refund_status: not refunded (yet)
        ({"refund_status": "SOMETHING"}, pb.RESULT_STATE_PENDING, 0),
    ],
)  # fmt: skip
def test_query_refund(content: dict[str, Any], state: int, amount: int) -> None:
    req = svc.QueryRefundRequest(account=REF, order_id=ORDER, refund_id="R1")
    http = adapter.build_query_refund_request(req, ACCOUNT, NOW)
    biz = check_post(http, "alipay.trade.fastpay.refund.query")
    assert biz == {
        "out_trade_no": ORDER,
        "out_request_no": "R1",
        "query_options": ["gmt_refund_pay"],
    }
    resp = ok(
        "alipay.trade.fastpay.refund.query", out_trade_no=ORDER, out_request_no="R1", **content
    )
    refund = adapter.parse_query_refund_response(req, ACCOUNT, resp).refund
    assert refund.state == state
    assert refund.amount == amount
    assert refund.refund_id == "R1"
    assert refund.HasField("succeeded_at") == (state == pb.RESULT_STATE_SUCCEEDED)


# --- transfers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payee_id", "name", "identity_type"),
    [
        ("2088102177846880", "", "ALIPAY_USER_ID"),
        ("13800000000", "张三", "ALIPAY_LOGON_ID"),
        ("a@example.com", "张三", "ALIPAY_LOGON_ID"),
        ("074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5", "", "ALIPAY_OPEN_ID"),
    ],
)
def test_transfer(payee_id: str, name: str, identity_type: str) -> None:
    req = svc.TransferRequest(
        account=REF, transfer_id="T1", amount=100, payee_id=payee_id, payee_name=name, remark="r"
    )
    http = transfers.build_transfer_request(req, ACCOUNT, NOW)
    biz = check_post(http, "alipay.fund.trans.uni.transfer")
    assert biz["out_biz_no"] == "T1"
    assert biz["trans_amount"] == "1.00"
    assert biz["product_code"] == "TRANS_ACCOUNT_NO_PWD"
    assert biz["biz_scene"] == "DIRECT_TRANSFER"
    assert biz["payee_info"]["identity_type"] == identity_type
    assert biz["payee_info"].get("name", "") == name
    resp = ok(
        "alipay.fund.trans.uni.transfer",
        out_biz_no="T1",
        order_id="20261122110070000006",
        pay_fund_order_id="20261122110070001506",
        status="SUCCESS",
        trans_date="2026-11-22 12:00:00",
    )
    transfer = transfers.parse_transfer_response(req, ACCOUNT, resp).transfer
    assert transfer.state == pb.RESULT_STATE_SUCCEEDED
    assert transfer.amount == 100
    assert transfer.channel_transfer_no == "20261122110070000006"
    assert transfer.HasField("succeeded_at")


def test_transfer_logon_id_needs_name_and_refusal() -> None:
    req = svc.TransferRequest(account=REF, transfer_id="T1", amount=100, payee_id="13800000000")
    with pytest.raises(InvalidArgument, match="payee_name"):
        transfers.build_transfer_request(req, ACCOUNT, NOW)
    resp = fail("alipay.fund.trans.uni.transfer", "40004", "PAYEE_NOT_EXIST", "收款账号不存在")
    with pytest.raises(ChannelError) as info:
        transfers.parse_transfer_response(req, ACCOUNT, resp)
    assert info.value.metadata["provider_code"] == "PAYEE_NOT_EXIST"


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("SUCCESS", pb.RESULT_STATE_SUCCEEDED),
        ("FAIL", pb.RESULT_STATE_FAILED),
        ("CLOSED", pb.RESULT_STATE_FAILED),
        ("DEALING", pb.RESULT_STATE_PENDING),
        ("WAIT_PAY", pb.RESULT_STATE_PENDING),
    ],
)
def test_query_transfer(status: str, state: int) -> None:
    req = svc.QueryTransferRequest(account=REF, transfer_id="T1")
    biz = check_post(
        transfers.build_query_transfer_request(req, ACCOUNT, NOW), "alipay.fund.trans.common.query"
    )
    assert biz == {
        "out_biz_no": "T1",
        "product_code": "TRANS_ACCOUNT_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER",
    }
    resp = ok(
        "alipay.fund.trans.common.query",
        out_biz_no="T1",
        order_id="20261122110070000006",
        status=status,
        trans_amount="1.00",
        pay_date="2026-11-22 12:00:00",
        fail_reason="PAYEE_ACCOUNT_STATUS_ERROR" if state == pb.RESULT_STATE_FAILED else "",
    )
    transfer = transfers.parse_query_transfer_response(req, ACCOUNT, resp).transfer
    assert transfer.state == state
    assert transfer.amount == 100
    assert bool(transfer.fail_reason) == (state == pb.RESULT_STATE_FAILED)


# --- every parser refuses an answer it cannot authenticate ------------------------------------------

PARSERS: list[tuple[str, Callable[[HttpResponse], object]]] = [
    ("alipay.trade.precreate", lambda r: adapter.parse_pay_response(pay_request("qr"), ACCOUNT, r)),
    ("alipay.trade.close", lambda r: adapter.parse_close_response(ACCOUNT, r)),
    ("alipay.trade.refund", lambda r: adapter.parse_refund_response(refund_request(), ACCOUNT, r)),
    (
        "alipay.trade.fastpay.refund.query",
        lambda r: adapter.parse_query_refund_response(
            svc.QueryRefundRequest(order_id=ORDER, refund_id="R1"), ACCOUNT, r
        ),
    ),
    (
        "alipay.fund.trans.common.query",
        lambda r: transfers.parse_query_transfer_response(
            svc.QueryTransferRequest(transfer_id="T1"), ACCOUNT, r
        ),
    ),
]


@pytest.mark.parametrize(("method", "parse"), PARSERS)
def test_forged_success_is_never_terminal(
    method: str, parse: Callable[[HttpResponse], object]
) -> None:
    forged = FakeAlipay().response(method, {"code": "10000", "msg": "Success"})
    with pytest.raises(ResponseUnauthenticated):
        parse(forged)


def test_personal_data_stays_out_of_the_channel_log() -> None:
    req = pay_request("barcode", auth_code="28763443825664394")
    logged = make_exchange(adapter.build_pay_request(req, ACCOUNT, NOW)).request_body
    assert "28763443825664394" not in logged
    transfer = svc.TransferRequest(
        account=REF, transfer_id="T1", amount=1, payee_id="13800000000", payee_name="张三"
    )
    logged = make_exchange(transfers.build_transfer_request(transfer, ACCOUNT, NOW)).request_body
    assert "13800000000" not in logged
    assert "张三" not in logged
    query = adapter.build_query_request(svc.QueryRequest(order_id=ORDER), ACCOUNT, NOW)
    assert ORDER in make_exchange(query).request_body  # non-personal bodies stay readable


# --- unclear money-out answers and "never received" (issue 9) --------------------------------------


def unsigned(method: str, content: dict[str, Any]) -> HttpResponse:
    key = method.replace(".", "_") + "_response"
    return HttpResponse(200, {}, json.dumps({key: content}, ensure_ascii=False).encode())


def test_unsigned_non_success_is_a_refusal_only_when_definitive() -> None:
    refusal = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR"}
    qr = pay_request("qr")
    # a pay refusal with a sub code of the pay allow-list is Alipay's refusal ...
    definitive = {**refusal, "sub_code": "ACQ.BUYER_BALANCE_NOT_ENOUGH"}
    with pytest.raises(ChannelError):
        adapter.parse_pay_response(qr, ACCOUNT, unsigned("alipay.trade.precreate", definitive))
    # ... so is a request-level refusal (the gateway refused before any business logic)
    gateway = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-app-id"}
    with pytest.raises(ChannelError):
        adapter.parse_pay_response(qr, ACCOUNT, unsigned("alipay.trade.precreate", gateway))
    # ... but an unsigned unknown code, a 20000, or a refusal of a call with no allow-list
    # could hide a success: unclear, never a failure
    for body in [
        {**refusal, "sub_code": "ACQ.SOMETHING_NEW"},
        {"code": "20000", "sub_code": "isp.unknow-error"},
        {"code": "40004"},
    ]:
        with pytest.raises(ChannelUnavailable) as e:
            adapter.parse_pay_response(qr, ACCOUNT, unsigned("alipay.trade.precreate", body))
        assert not isinstance(e.value, ChannelError), body
    with pytest.raises(ChannelUnavailable) as e:
        adapter.parse_close_response(ACCOUNT, unsigned("alipay.trade.close", refusal))
    assert not isinstance(e.value, ChannelError)
    # a refund or transfer it would fail stays unclear even with an allow-listed sub code
    refund_refusal = {**refusal, "sub_code": "ACQ.TRADE_NOT_ALLOW_REFUND"}
    with pytest.raises(ChannelUnavailable) as e:
        adapter.parse_refund_response(
            refund_request(), ACCOUNT, unsigned("alipay.trade.refund", refund_refusal)
        )
    assert not isinstance(e.value, ChannelError)
    req = svc.TransferRequest(
        account=REF, transfer_id="T1", amount=100, payee_id="2088102177846880"
    )
    transfer_refusal = {**refusal, "sub_code": "PAYEE_NOT_EXIST"}
    with pytest.raises(ChannelUnavailable) as e:
        transfers.parse_transfer_response(
            req, ACCOUNT, unsigned("alipay.fund.trans.uni.transfer", transfer_refusal)
        )
    assert not isinstance(e.value, ChannelError)


@pytest.mark.parametrize("sub_code", ["ACQ.SYSTEM_ERROR", "ACQ.TRADE_HAS_SUCCESS", "ACQ.NEW", ""])
def test_signed_pay_sub_codes_outside_the_allow_list_are_unclear(sub_code: str) -> None:
    resp = fail("alipay.trade.precreate", "40004", sub_code, "?")
    with pytest.raises(ChannelUnavailable) as e:
        adapter.parse_pay_response(pay_request("qr"), ACCOUNT, resp)
    assert not isinstance(e.value, ChannelError)
    refused = fail("alipay.trade.precreate", "40004", "ACQ.TOTAL_FEE_EXCEED", "金额超限")
    with pytest.raises(ChannelError):
        adapter.parse_pay_response(pay_request("qr"), ACCOUNT, refused)


@pytest.mark.parametrize("sub_code", ["ACQ.SYSTEM_ERROR", "ACQ.SOMETHING_NEW", ""])
def test_refund_sub_codes_outside_the_allow_list_are_unclear(sub_code: str) -> None:
    resp = fail("alipay.trade.refund", "40004", sub_code, "?")
    with pytest.raises(ChannelUnavailable) as e:
        adapter.parse_refund_response(refund_request(), ACCOUNT, resp)
    assert not isinstance(e.value, ChannelError)


def test_refund_and_transfer_never_received_are_not_found() -> None:
    q = svc.QueryRefundRequest(account=REF, order_id=ORDER, refund_id="R1")
    resp = ok("alipay.trade.fastpay.refund.query")  # 10000 and no refund data at all
    r = adapter.parse_query_refund_response(q, ACCOUNT, resp).refund
    assert (r.state, r.not_found) == (pb.RESULT_STATE_PENDING, True)
    tq = svc.QueryTransferRequest(account=REF, transfer_id="T1")
    resp = fail("alipay.fund.trans.common.query", "40004", "ORDER_NOT_EXIST", "转账订单不存在")
    t = transfers.parse_query_transfer_response(tq, ACCOUNT, resp).transfer
    assert (t.state, t.not_found) == (pb.RESULT_STATE_PENDING, True)
    # unsigned, "not found" proves nothing (a resubmission must rest on Alipay's word)
    with pytest.raises(ChannelUnavailable):
        transfers.parse_query_transfer_response(
            tq,
            ACCOUNT,
            unsigned(
                "alipay.fund.trans.common.query", {"code": "40004", "sub_code": "ORDER_NOT_EXIST"}
            ),
        )
