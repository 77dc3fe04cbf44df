"""WeChat Pay v3 adapter: request building and response parsing from recorded payloads."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf import timestamp_pb2

from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.transport import HttpRequest, HttpResponse
from paymesh.channels.wechat import adapter, sign, transfers
from paymesh.channels.wechat.config import TransferSceneReportInfo, WechatAccount
from paymesh.channels.wechat.protocol import (
    ResponseUnauthenticated,
    StaleTimestamp,
    UnknownSerial,
    configured_platform_keys,
)
from paymesh.errors import ChannelError, ChannelUnavailable, InvalidArgument
from tests.channels.wechat.fakes import FakePlatform, make_account, new_rsa_key

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
MERCHANT_KEY = new_rsa_key()
PLATFORM = FakePlatform()
ACCOUNT = make_account(PLATFORM, MERCHANT_KEY)
KEYS = configured_platform_keys(ACCOUNT)
REF = pb.AccountRef(channel="wechat", account_id="wx-test")


def verify_request(req: HttpRequest) -> dict[str, str]:
    """Check a built request as WeChat would: Authorization over the exact bytes."""
    auth = sign.parse_authorization(req.headers["Authorization"])
    path = req.url.removeprefix(ACCOUNT.base_url)
    msg = sign.request_message(req.method, path, auth["timestamp"], auth["nonce_str"], req.body)
    assert sign.rsa_verify(MERCHANT_KEY.public_key(), msg, auth["signature"])
    assert auth["mchid"] == ACCOUNT.mchid
    assert auth["serial_no"] == ACCOUNT.merchant_serial_no
    assert auth["timestamp"] == str(int(NOW.timestamp()))
    return auth


def pay_request(method: str, **kw: Any) -> svc.PayRequest:
    expire = timestamp_pb2.Timestamp()
    expire.FromDatetime(datetime(2026, 11, 22, 4, 15, tzinfo=UTC))
    fields: dict[str, Any] = {
        "account": REF,
        "method": method,
        "order_id": "P202611220400001",
        "amount": 1999,
        "currency": "CNY",
        "subject": "Image形象店-深圳腾大-QQ公仔",
        "notify_url": "https://paymesh.example/v1/callbacks/wechat/wx-test",
        "expire_time": expire,
        "client_ip": "203.0.113.9",
        "payer_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
    }
    fields.update(kw)
    return svc.PayRequest(**fields)


# --- pay ------------------------------------------------------------------------------------

PAY_CASES = [
    # method, path, extra body keys expected, response body, check
    (
        "qr",
        "/v3/pay/transactions/native",
        {},
        {"code_url": "weixin://wxpay/bizpayurl?pr=p4lpSuKzz"},
    ),
    (
        "h5",
        "/v3/pay/transactions/h5",
        {"scene_info": {"payer_client_ip": "203.0.113.9", "h5_info": {"type": "Wap"}}},
        {"h5_url": "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2016"},
    ),
    ("app", "/v3/pay/transactions/app", {}, {"prepay_id": "wx201410272009395522657a690389285100"}),
    (
        "jsapi",
        "/v3/pay/transactions/jsapi",
        {"payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}},
        {"prepay_id": "wx201410272009395522657a690389285100"},
    ),
]


@pytest.mark.parametrize(("method", "path", "extra", "answer"), PAY_CASES)
def test_pay(method: str, path: str, extra: dict[str, Any], answer: dict[str, str]) -> None:
    req = pay_request(method)
    http = adapter.build_pay_request(req, ACCOUNT, NOW, "REQNONCE")
    assert http.method == "POST"
    assert http.url == ACCOUNT.base_url + path
    assert http.headers["Content-Type"] == "application/json"
    assert verify_request(http)["nonce_str"] == "REQNONCE"
    body = json.loads(http.body)
    assert body["appid"] == ACCOUNT.appid
    assert body["mchid"] == ACCOUNT.mchid
    assert body["out_trade_no"] == "P202611220400001"
    assert body["amount"] == {"total": 1999, "currency": "CNY"}
    assert body["description"] == "Image形象店-深圳腾大-QQ公仔"
    assert body["time_expire"] == "2026-11-22T12:15:00+08:00"
    assert body["notify_url"] == req.notify_url
    for k, v in extra.items():
        assert body[k] == v
    if method != "jsapi":
        assert "payer" not in body

    out = adapter.parse_pay_response(
        req, ACCOUNT, PLATFORM.response(200, answer, NOW), KEYS, NOW, "CLIENTNONCE"
    )
    assert out.trade.state == pb.TRADE_STATE_PENDING
    assert out.trade.order_id == req.order_id
    assert out.trade.amount == 1999
    pd = out.pay_data
    ts = str(int(NOW.timestamp()))
    if method == "qr":
        assert pd.code_url == answer["code_url"]
    elif method == "h5":
        assert pd.pay_url == answer["h5_url"]
    elif method == "app":
        prepay = answer["prepay_id"]
        assert pd.prepay_id == prepay
        p = dict(pd.app_params)
        assert p["appid"] == ACCOUNT.appid
        assert p["partnerid"] == ACCOUNT.mchid
        assert p["prepayid"] == prepay
        assert p["package"] == "Sign=WXPay"
        assert p["noncestr"] == "CLIENTNONCE"
        assert p["timestamp"] == ts
        msg = sign.build_message(ACCOUNT.appid, ts, "CLIENTNONCE", prepay)
        assert sign.rsa_verify(MERCHANT_KEY.public_key(), msg, p["sign"])
    else:
        prepay = answer["prepay_id"]
        assert pd.prepay_id == prepay
        p = dict(pd.app_params)
        assert set(p) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
        assert p["package"] == f"prepay_id={prepay}"
        assert p["signType"] == "RSA"
        msg = f"{ACCOUNT.appid}\n{ts}\nCLIENTNONCE\nprepay_id={prepay}\n".encode()
        assert sign.rsa_verify(MERCHANT_KEY.public_key(), msg, p["paySign"])


@pytest.mark.parametrize(
    ("method", "changes", "field"),
    [
        ("qr", {"amount": 0}, "amount"),
        ("qr", {"currency": "USD"}, "currency"),
        ("qr", {"subject": "", "description": ""}, "subject"),
        ("h5", {"client_ip": ""}, "client_ip"),
        ("jsapi", {"payer_id": ""}, "payer_id"),
        ("barcode", {}, "method"),
    ],
)
def test_pay_invalid(method: str, changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        adapter.build_pay_request(pay_request(method, **changes), ACCOUNT, NOW, "N")
    assert e.value.metadata["field"] == field


def test_pay_falls_back_to_account_notify_url_and_description() -> None:
    req = pay_request("qr", notify_url="", subject="", description="desc")
    body = json.loads(adapter.build_pay_request(req, ACCOUNT, NOW, "N").body)
    assert body["notify_url"] == ACCOUNT.notify_url
    assert body["description"] == "desc"


def test_signed_path_includes_base_url_prefix() -> None:
    account = make_account(PLATFORM, MERCHANT_KEY, base_url="http://127.0.0.1:9000/wechat/")
    http = adapter.build_query_request(
        svc.QueryRequest(account=REF, order_id="P1"), account, NOW, "N"
    )
    assert (
        http.url
        == "http://127.0.0.1:9000/wechat/v3/pay/transactions/out-trade-no/P1?mchid=1900000109"
    )
    auth = sign.parse_authorization(http.headers["Authorization"])
    msg = sign.request_message(
        "GET",
        "/wechat/v3/pay/transactions/out-trade-no/P1?mchid=1900000109",
        auth["timestamp"],
        "N",
        b"",
    )
    assert sign.rsa_verify(MERCHANT_KEY.public_key(), msg, auth["signature"])


# --- query ------------------------------------------------------------------------------------

TRANSACTION = {
    "appid": "wxd678efh567hg6787",
    "mchid": "1900000109",
    "out_trade_no": "P202611220400001",
    "transaction_id": "1217752501201407033233368018",
    "trade_type": "NATIVE",
    "trade_state": "SUCCESS",
    "trade_state_desc": "支付成功",
    "bank_type": "CMC",
    "success_time": "2026-11-22T12:05:01+08:00",
    "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    "amount": {"total": 1999, "payer_total": 1999, "currency": "CNY", "payer_currency": "CNY"},
}


@pytest.mark.parametrize(
    ("trade_state", "expected"),
    [
        ("SUCCESS", pb.TRADE_STATE_PAID),
        ("REFUND", pb.TRADE_STATE_PAID),
        ("NOTPAY", pb.TRADE_STATE_PENDING),
        ("USERPAYING", pb.TRADE_STATE_PENDING),
        ("CLOSED", pb.TRADE_STATE_CLOSED),
        ("REVOKED", pb.TRADE_STATE_CLOSED),
        ("PAYERROR", pb.TRADE_STATE_FAILED),
        ("SOMETHING_NEW", pb.TRADE_STATE_PENDING),
    ],
)
def test_query_trade_states(trade_state: str, expected: int) -> None:
    req = svc.QueryRequest(account=REF, order_id="P202611220400001")
    http = adapter.build_query_request(req, ACCOUNT, NOW, "N")
    assert http.method == "GET"
    assert http.body == b""
    assert "Content-Type" not in http.headers
    assert http.url.endswith("/v3/pay/transactions/out-trade-no/P202611220400001?mchid=1900000109")
    verify_request(http)
    data = dict(TRANSACTION, trade_state=trade_state)
    if trade_state not in ("SUCCESS", "REFUND"):
        data.pop("success_time")
    out = adapter.parse_query_response(req, PLATFORM.response(200, data, NOW), KEYS, NOW)
    t = out.trade
    assert t.state == expected
    assert t.provider_state == trade_state
    assert t.order_id == "P202611220400001"
    assert t.channel_trade_no == "1217752501201407033233368018"
    assert t.amount == 1999
    assert t.currency == "CNY"
    assert t.payer_id == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    if expected == pb.TRADE_STATE_PAID:
        assert t.paid_at.ToDatetime(tzinfo=UTC) == datetime(2026, 11, 22, 4, 5, 1, tzinfo=UTC)
    else:
        assert not t.HasField("paid_at")


def test_query_for_another_order_is_not_trusted() -> None:
    req = svc.QueryRequest(account=REF, order_id="P1")
    with pytest.raises(ChannelUnavailable):
        adapter.parse_query_response(req, PLATFORM.response(200, TRANSACTION, NOW), KEYS, NOW)


# --- close ------------------------------------------------------------------------------------


def test_close() -> None:
    req = svc.CloseRequest(account=REF, order_id="P202611220400001")
    http = adapter.build_close_request(req, ACCOUNT, NOW, "N")
    assert http.url.endswith("/v3/pay/transactions/out-trade-no/P202611220400001/close")
    assert json.loads(http.body) == {"mchid": ACCOUNT.mchid}
    verify_request(http)
    adapter.parse_close_response(PLATFORM.response(204, None, NOW), KEYS, NOW)
    unsigned = HttpResponse(status=204, headers={}, body=b"")
    with pytest.raises(ResponseUnauthenticated):
        adapter.parse_close_response(unsigned, KEYS, NOW)


# --- refunds ----------------------------------------------------------------------------------

REFUND = {
    "refund_id": "50000000382019052709732678859",
    "out_refund_no": "R202611220400001",
    "transaction_id": "1217752501201407033233368018",
    "out_trade_no": "P202611220400001",
    "channel": "ORIGINAL",
    "user_received_account": "招商银行信用卡0403",
    "success_time": "2026-11-22T12:10:00+08:00",
    "create_time": "2026-11-22T12:09:00+08:00",
    "status": "SUCCESS",
    "funds_account": "UNSETTLED",
    "amount": {
        "total": 1999,
        "refund": 500,
        "payer_total": 1999,
        "payer_refund": 500,
        "currency": "CNY",
    },
}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("SUCCESS", pb.RESULT_STATE_SUCCEEDED),
        ("CLOSED", pb.RESULT_STATE_FAILED),
        ("ABNORMAL", pb.RESULT_STATE_PENDING),  # not final: it can still complete
        ("PROCESSING", pb.RESULT_STATE_PENDING),
        ("WHATEVER", pb.RESULT_STATE_PENDING),
    ],
)
def test_refund_and_query_refund(status: str, expected: int) -> None:
    req = svc.RefundRequest(
        account=REF,
        order_id="P202611220400001",
        refund_id="R202611220400001",
        amount=500,
        total_amount=1999,
        currency="CNY",
        reason="商品已售完",
        notify_url="https://paymesh.example/v1/callbacks/wechat/wx-test",
    )
    http = adapter.build_refund_request(req, ACCOUNT, NOW, "N")
    assert http.url == ACCOUNT.base_url + "/v3/refund/domestic/refunds"
    verify_request(http)
    assert json.loads(http.body) == {
        "out_trade_no": "P202611220400001",
        "out_refund_no": "R202611220400001",
        "reason": "商品已售完",
        "notify_url": "https://paymesh.example/v1/callbacks/wechat/wx-test",
        "amount": {"refund": 500, "total": 1999, "currency": "CNY"},
    }
    data = dict(REFUND, status=status)
    r = adapter.parse_refund_response(req, PLATFORM.response(200, data, NOW), KEYS, NOW).refund
    assert (r.state, r.refund_id, r.order_id) == (expected, "R202611220400001", "P202611220400001")
    assert r.channel_refund_no == "50000000382019052709732678859"
    assert r.amount == 500
    assert r.HasField("succeeded_at") == (expected == pb.RESULT_STATE_SUCCEEDED)

    qreq = svc.QueryRefundRequest(
        account=REF, order_id="P202611220400001", refund_id="R202611220400001"
    )
    qhttp = adapter.build_query_refund_request(qreq, ACCOUNT, NOW, "N")
    assert qhttp.url == ACCOUNT.base_url + "/v3/refund/domestic/refunds/R202611220400001"
    verify_request(qhttp)
    q = adapter.parse_query_refund_response(qreq, PLATFORM.response(200, data, NOW), KEYS, NOW)
    assert q.refund.state == expected


def test_refund_invalid() -> None:
    req = svc.RefundRequest(account=REF, order_id="P1", refund_id="R1", amount=10, total_amount=5)
    with pytest.raises(InvalidArgument):
        adapter.build_refund_request(req, ACCOUNT, NOW, "N")
    with pytest.raises(InvalidArgument):
        adapter.build_refund_request(
            svc.RefundRequest(account=REF, order_id="P1", amount=1, total_amount=5),
            ACCOUNT,
            NOW,
            "N",
        )


# --- transfers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("SUCCESS", pb.RESULT_STATE_SUCCEEDED),
        ("FAIL", pb.RESULT_STATE_FAILED),
        ("CANCELLED", pb.RESULT_STATE_FAILED),
        ("ACCEPTED", pb.RESULT_STATE_PENDING),
        ("PROCESSING", pb.RESULT_STATE_PENDING),
        ("WAIT_USER_CONFIRM", pb.RESULT_STATE_PENDING),
        ("TRANSFERING", pb.RESULT_STATE_PENDING),
        ("CANCELING", pb.RESULT_STATE_PENDING),
        ("NEW_STATE", pb.RESULT_STATE_PENDING),
    ],
)
def test_transfer_and_query(state: str, expected: int) -> None:
    req = svc.TransferRequest(
        account=REF,
        transfer_id="T202611220400001",
        amount=300,
        currency="CNY",
        payee_id="o-MYE42l80oelYMDE34nYD456Xoy",
        remark="新会员开通有礼",
        notify_url="https://paymesh.example/v1/callbacks/wechat/wx-test",
    )
    http = transfers.build_transfer_request(req, ACCOUNT, NOW, "N")
    assert http.url == ACCOUNT.base_url + "/v3/fund-app/mch-transfer/transfer-bills"
    verify_request(http)
    body = json.loads(http.body)
    assert body == {
        "appid": ACCOUNT.appid,
        "out_bill_no": "T202611220400001",
        "transfer_scene_id": "1000",
        "openid": "o-MYE42l80oelYMDE34nYD456Xoy",
        "transfer_amount": 300,
        "transfer_remark": "新会员开通有礼",
        "notify_url": "https://paymesh.example/v1/callbacks/wechat/wx-test",
        # scene 1000 (现金营销) defaults: its required report types, described by the remark
        "user_recv_perception": "现金奖励",
        "transfer_scene_report_infos": [
            {"info_type": "活动名称", "info_content": "新会员开通有礼"},
            {"info_type": "奖励说明", "info_content": "新会员开通有礼"},
        ],
    }
    created = {
        "out_bill_no": "T202611220400001",
        "transfer_bill_no": "1330000071100999991182020050700019480001",
        "create_time": "2026-11-22T12:04:00+08:00",
        "state": state,
    }
    t = transfers.parse_transfer_response(
        req, PLATFORM.response(200, created, NOW), KEYS, NOW
    ).transfer
    assert (t.state, t.transfer_id, t.amount) == (expected, "T202611220400001", 300)
    assert t.channel_transfer_no == "1330000071100999991182020050700019480001"

    qreq = svc.QueryTransferRequest(account=REF, transfer_id="T202611220400001")
    qhttp = transfers.build_query_transfer_request(qreq, ACCOUNT, NOW, "N")
    assert qhttp.url == (
        ACCOUNT.base_url + "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/T202611220400001"
    )
    verify_request(qhttp)
    bill = dict(
        created,
        mch_id=ACCOUNT.mchid,
        appid=ACCOUNT.appid,
        transfer_amount=300,
        transfer_remark="新会员开通有礼",
        openid="o-MYE42l80oelYMDE34nYD456Xoy",
        update_time="2026-11-22T12:05:00+08:00",
    )
    if state == "FAIL":
        bill["fail_reason"] = "PAYEE_ACCOUNT_ABNORMAL"
    q = transfers.parse_query_transfer_response(qreq, PLATFORM.response(200, bill, NOW), KEYS, NOW)
    assert q.transfer.state == expected
    assert q.transfer.amount == 300
    assert q.transfer.HasField("succeeded_at") == (expected == pb.RESULT_STATE_SUCCEEDED)
    if state == "FAIL":
        assert q.transfer.fail_reason == "PAYEE_ACCOUNT_ABNORMAL"


def test_transfer_user_name_is_encrypted_for_the_platform() -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    req = svc.TransferRequest(
        account=REF, transfer_id="T1", amount=300, payee_id="openid", payee_name="张三"
    )
    with pytest.raises(ChannelUnavailable):
        transfers.build_transfer_request(req, ACCOUNT, NOW, "N")  # no platform key given
    http = transfers.build_transfer_request(req, ACCOUNT, NOW, "N", KEYS)
    assert http.headers["Wechatpay-Serial"] == PLATFORM.serial
    body = json.loads(http.body)
    import base64

    sha1 = hashes.SHA1()  # noqa: S303
    plain = PLATFORM.key.decrypt(
        base64.b64decode(body["user_name"]),
        padding.OAEP(mgf=padding.MGF1(algorithm=sha1), algorithm=sha1, label=None),
    )
    assert plain.decode() == "张三"
    assert "user_name" in http.redact_keys


# --- authentication and errors ----------------------------------------------------------------

QREQ = svc.QueryRequest(account=REF, order_id="P202611220400001")
RREQ = svc.RefundRequest(
    account=REF, order_id="P202611220400001", refund_id="R1", amount=5, total_amount=5
)


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}, 404),
        ({"code": "NOT_FOUND", "message": "记录不存在"}, 404),
    ],
)
def test_signed_not_found_is_pending_not_found(payload: dict[str, str], status: int) -> None:
    resp = PLATFORM.response(status, payload, NOW)
    q = svc.QueryRefundRequest(account=REF, order_id="P1", refund_id="R1")
    r = adapter.parse_query_refund_response(q, resp, KEYS, NOW).refund
    assert (r.state, r.not_found, r.provider_state) == (
        pb.RESULT_STATE_PENDING,
        True,
        payload["code"],
    )
    tq = svc.QueryTransferRequest(account=REF, transfer_id="T1")
    t = transfers.parse_query_transfer_response(tq, resp, KEYS, NOW).transfer
    assert (t.state, t.not_found) == (pb.RESULT_STATE_PENDING, True)
    # unsigned, the same words prove nothing: outcome unknown, no resubmission
    bare = HttpResponse(status, {}, json.dumps(payload).encode())
    with pytest.raises(ChannelUnavailable):
        adapter.parse_query_refund_response(q, bare, KEYS, NOW)


def test_tampered_body_is_not_trusted() -> None:
    good = PLATFORM.response(200, dict(TRANSACTION, trade_state="NOTPAY"), NOW)
    tampered = HttpResponse(
        status=200, headers=good.headers, body=good.body.replace(b"NOTPAY", b"SUCCESS")
    )
    with pytest.raises(ResponseUnauthenticated, match="signature invalid"):
        adapter.parse_query_response(QREQ, tampered, KEYS, NOW)


def test_signature_by_another_key_is_not_trusted() -> None:
    impostor = FakePlatform(serial=PLATFORM.serial)  # same serial, different key
    resp = impostor.response(200, TRANSACTION, NOW)
    with pytest.raises(ResponseUnauthenticated):
        adapter.parse_query_response(QREQ, resp, KEYS, NOW)


def test_unknown_serial_is_not_trusted() -> None:
    resp = PLATFORM.response(200, TRANSACTION, NOW, serial="PUB_KEY_ID_OTHER")
    with pytest.raises(UnknownSerial) as e:
        adapter.parse_query_response(QREQ, resp, KEYS, NOW)
    assert isinstance(e.value, ChannelUnavailable)
    assert e.value.serial == "PUB_KEY_ID_OTHER"


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_stale_timestamp_is_not_trusted(skew: timedelta) -> None:
    resp = PLATFORM.response(200, TRANSACTION, NOW + skew)
    with pytest.raises(StaleTimestamp):
        adapter.parse_query_response(QREQ, resp, KEYS, NOW)
    # within the window it is fine
    adapter.parse_query_response(
        QREQ, PLATFORM.response(200, TRANSACTION, NOW + skew / 2), KEYS, NOW
    )


@pytest.mark.parametrize(
    "missing", ["wechatpay-signature", "wechatpay-serial", "wechatpay-timestamp", "wechatpay-nonce"]
)
def test_missing_signature_header_is_not_trusted(missing: str) -> None:
    good = PLATFORM.response(200, TRANSACTION, NOW)
    headers = {k: v for k, v in good.headers.items() if k != missing}
    with pytest.raises(ResponseUnauthenticated):
        adapter.parse_query_response(QREQ, HttpResponse(200, headers, good.body), KEYS, NOW)


def test_wrong_signature_type_is_not_trusted() -> None:
    good = PLATFORM.response(200, TRANSACTION, NOW)
    headers = dict(good.headers, **{"wechatpay-signature-type": "WECHATPAY2-SM2-WITH-SM3"})
    with pytest.raises(ResponseUnauthenticated):
        adapter.parse_query_response(QREQ, HttpResponse(200, headers, good.body), KEYS, NOW)


@pytest.mark.parametrize(
    ("status", "payload", "code"),
    [
        (400, {"code": "PARAM_ERROR", "message": "参数错误"}, "PARAM_ERROR"),
        (401, {"code": "SIGN_ERROR", "message": "签名错误"}, "SIGN_ERROR"),
        (403, {"code": "NOT_ENOUGH", "message": "基本账户余额不足"}, "NOT_ENOUGH"),
        (404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}, "ORDER_NOT_EXIST"),
    ],
)
def test_4xx_is_a_channel_error(status: int, payload: dict[str, str], code: str) -> None:
    with pytest.raises(ChannelError) as e:
        adapter.parse_query_response(QREQ, PLATFORM.response(status, payload, NOW), KEYS, NOW)
    assert e.value.metadata["provider_code"] == code
    assert e.value.metadata["provider_message"] == payload["message"]
    # the same words unsigned are not WeChat's: anything on the way could have said them
    unsigned = HttpResponse(status, {}, json.dumps(payload).encode())
    with pytest.raises(ChannelUnavailable) as u:
        adapter.parse_query_response(QREQ, unsigned, KEYS, NOW)
    assert not isinstance(u.value, ChannelError)


def test_signed_4xx_with_bad_signature_is_not_trusted() -> None:
    good = PLATFORM.response(404, {"code": "ORDER_NOT_EXIST", "message": "x"}, NOW)
    forged = HttpResponse(404, good.headers, b'{"code":"ORDER_NOT_EXIST","message":"y"}')
    with pytest.raises(ResponseUnauthenticated):
        adapter.parse_query_response(QREQ, forged, KEYS, NOW)


@pytest.mark.parametrize(
    ("status", "payload"),
    [
        (500, {"code": "SYSTEM_ERROR", "message": "系统错误"}),
        (502, None),
        (429, {"code": "FREQUENCY_LIMITED", "message": "频率超限"}),
        (403, {"code": "SYSTEMERROR", "message": "系统繁忙"}),
        (302, None),
        (408, None),  # code-less, signed or not
        (400, {"code": "SOME_NEW_CODE", "message": "not in the allow-list"}),
        (403, {"message": "no code"}),
    ],
)
def test_unknown_outcomes_are_unavailable(status: int, payload: dict[str, str] | None) -> None:
    with pytest.raises(ChannelUnavailable) as e:
        adapter.parse_query_response(QREQ, PLATFORM.response(status, payload, NOW), KEYS, NOW)
    assert not isinstance(e.value, ChannelError)
    bare = HttpResponse(status, {}, json.dumps(payload).encode() if payload else b"")
    with pytest.raises(ChannelUnavailable) as e:
        adapter.parse_refund_response(RREQ, bare, KEYS, NOW)
    assert not isinstance(e.value, ChannelError)


@pytest.mark.parametrize("body", [b"<html>", b"[]", b'{"trade_state": 1}'])
def test_malformed_signed_body_is_unavailable(body: bytes) -> None:
    resp = HttpResponse(200, PLATFORM.signed_headers(body, NOW), body)
    with pytest.raises(ChannelUnavailable):
        adapter.parse_query_response(QREQ, resp, KEYS, NOW)


def test_public_key_mode_names_the_key_in_requests() -> None:
    http = adapter.build_query_request(QREQ, ACCOUNT, NOW, "N")
    assert http.headers["Wechatpay-Serial"] == PLATFORM.serial
    cert_platform = FakePlatform.with_certificate(NOW)
    cert_account = make_account(cert_platform, MERCHANT_KEY, mode="certificates")
    assert (
        "Wechatpay-Serial" not in adapter.build_query_request(QREQ, cert_account, NOW, "N").headers
    )


@pytest.mark.parametrize("spelling", [str.lower, lambda s: "00" + s])
def test_certificate_serial_matches_as_hex_number(spelling: Callable[[str], str]) -> None:
    cert_platform = FakePlatform.with_certificate(NOW)
    account = make_account(cert_platform, MERCHANT_KEY, mode="certificates")
    keys = configured_platform_keys(account)
    resp = cert_platform.response(200, TRANSACTION, NOW, serial=spelling(cert_platform.serial))
    assert adapter.parse_query_response(QREQ, resp, keys, NOW).trade.state == pb.TRADE_STATE_PAID


def test_transfer_report_infos_and_perception_come_from_the_account() -> None:
    infos = [TransferSceneReportInfo(info_type="岗位类型", info_content="外卖骑手")]
    account = ACCOUNT.model_copy(
        update={
            "transfer_scene_id": "1005",
            "transfer_scene_report_infos": infos,
            "transfer_user_recv_perception": "劳务报酬",
        }
    )
    req = svc.TransferRequest(account=REF, transfer_id="T1xyz", amount=1, payee_id="o-1")
    body = json.loads(transfers.build_transfer_request(req, account, NOW, "N").body)
    assert body["transfer_scene_report_infos"] == [
        {"info_type": "岗位类型", "info_content": "外卖骑手"}
    ]
    assert body["user_recv_perception"] == "劳务报酬"
    with pytest.raises(ValueError, match="transfer_scene_report_infos"):
        WechatAccount.model_validate(
            {**ACCOUNT.model_dump(mode="python"), "transfer_scene_id": "1009"}
        )


def test_wait_user_confirm_gives_the_confirm_parameters_and_cancel_is_a_signed_post() -> None:
    req = svc.TransferRequest(account=REF, transfer_id="T1xyz", amount=1, payee_id="o-1")
    created = {
        "out_bill_no": "T1xyz",
        "transfer_bill_no": "1330000071100999991182020050700019480001",
        "create_time": "2026-11-22T12:04:00+08:00",
        "state": "WAIT_USER_CONFIRM",
        "package_info": "affffddafdfafddffda==",
    }
    resp = PLATFORM.response(200, created, NOW)
    t = transfers.parse_transfer_response(req, resp, KEYS, NOW, ACCOUNT).transfer
    assert t.state == pb.RESULT_STATE_PENDING
    assert dict(t.confirm_params) == {
        "mchId": ACCOUNT.mchid,
        "appId": ACCOUNT.appid,
        "package": "affffddafdfafddffda==",
    }
    creq = svc.CancelTransferRequest(account=REF, transfer_id="T1xyz")
    http = transfers.build_cancel_transfer_request(creq, ACCOUNT, NOW, "N")
    assert (http.method, http.url, http.body) == (
        "POST",
        ACCOUNT.base_url + "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/T1xyz/cancel",
        b"",
    )
    verify_request(http)
    for state, expected in (
        ("CANCELING", pb.RESULT_STATE_PENDING),
        ("CANCELLED", pb.RESULT_STATE_FAILED),
    ):
        answer = {"out_bill_no": "T1xyz", "transfer_bill_no": "1330", "state": state}
        c = transfers.parse_cancel_transfer_response(
            creq, PLATFORM.response(200, answer, NOW), KEYS, NOW
        ).transfer
        assert (c.state, c.provider_state) == (expected, state)
