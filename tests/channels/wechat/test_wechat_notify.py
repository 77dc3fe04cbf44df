"""WeChat Pay v3 callbacks: verify, decrypt, normalise; rejects carry no event."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.wechat.notify import parse_notify
from paymesh.channels.wechat.protocol import UnknownSerial, configured_platform_keys
from tests.channels.wechat.fakes import FakePlatform, make_account, new_rsa_key

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
PLATFORM = FakePlatform()
ACCOUNT = make_account(PLATFORM, new_rsa_key())
KEYS = configured_platform_keys(ACCOUNT)
REF = pb.AccountRef(channel="wechat", account_id="wx-test")

TRANSACTION = {
    "mchid": "1900000109",
    "appid": "wxd678efh567hg6787",
    "out_trade_no": "P202611220400001",
    "transaction_id": "4200000000000000000000000001",
    "trade_type": "NATIVE",
    "trade_state": "SUCCESS",
    "trade_state_desc": "支付成功",
    "bank_type": "OTHERS",
    "success_time": "2026-11-22T11:59:30+08:00",
    "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    "amount": {"total": 1999, "payer_total": 1999, "currency": "CNY", "payer_currency": "CNY"},
}
REFUND = {
    "mchid": "1900000109",
    "out_trade_no": "P202611220400001",
    "transaction_id": "4200000000000000000000000001",
    "out_refund_no": "R202611220400001",
    "refund_id": "50000000382019052709732678859",
    "refund_status": "SUCCESS",
    "success_time": "2026-11-22T12:01:00+08:00",
    "user_received_account": "招商银行信用卡0403",
    "amount": {"total": 1999, "refund": 500, "payer_total": 1999, "payer_refund": 500},
}
BILL = {
    "mch_id": "1900000109",
    "out_bill_no": "T202611220400001",
    "transfer_bill_no": "1330000071100999991182020050700019480001",
    "transfer_amount": 300,
    "state": "SUCCESS",
    "openid": "o-MYE42l80oelYMDE34nYD456Xoy",
    "create_time": "2026-11-22T11:58:00+08:00",
    "update_time": "2026-11-22T11:59:00+08:00",
}


def notify(headers: dict[str, str], body: bytes, **kw: Any) -> svc.ParseNotifyResponse:
    req = svc.ParseNotifyRequest(
        account=REF, http_method="POST", headers=headers, body=body, content_type="application/json"
    )
    return parse_notify(req, ACCOUNT, KEYS, NOW, **kw)


def assert_ack(out: svc.ParseNotifyResponse) -> None:
    assert out.reject_reason == ""
    assert out.ack.http_status == 200
    assert out.ack.body == b""
    assert out.nack.http_status >= 400
    assert json.loads(out.nack.body)["code"] == "FAIL"


def assert_rejected(out: svc.ParseNotifyResponse, status: int) -> None:
    assert out.reject_reason
    assert out.WhichOneof("event") is None
    assert out.nack.http_status == status
    assert out.nack.content_type == "application/json"
    payload = json.loads(out.nack.body)
    assert payload["code"] == "FAIL"
    assert payload["message"]


def test_transaction_success() -> None:
    headers, body = PLATFORM.callback("TRANSACTION.SUCCESS", TRANSACTION, "transaction", NOW)
    out = notify(headers, body)
    assert_ack(out)
    assert out.provider_event_id.startswith("EV-")
    assert out.WhichOneof("event") == "trade"
    t = out.trade
    assert t.state == pb.TRADE_STATE_PAID
    assert (t.order_id, t.channel_trade_no, t.amount) == (
        "P202611220400001",
        "4200000000000000000000000001",
        1999,
    )
    assert t.paid_at.ToDatetime(tzinfo=UTC) == datetime(2026, 11, 22, 3, 59, 30, tzinfo=UTC)
    assert t.payer_id == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


@pytest.mark.parametrize(
    ("event_type", "status", "expected"),
    [
        ("REFUND.SUCCESS", "SUCCESS", pb.RESULT_STATE_SUCCEEDED),
        ("REFUND.ABNORMAL", "ABNORMAL", pb.RESULT_STATE_PENDING),  # can still complete
        ("REFUND.CLOSED", "CLOSED", pb.RESULT_STATE_FAILED),
    ],
)
def test_refund_events(event_type: str, status: str, expected: int) -> None:
    headers, body = PLATFORM.callback(event_type, dict(REFUND, refund_status=status), "refund", NOW)
    out = notify(headers, body)
    assert_ack(out)
    r = out.refund
    assert out.WhichOneof("event") == "refund"
    assert (r.state, r.refund_id, r.order_id, r.amount) == (
        expected,
        "R202611220400001",
        "P202611220400001",
        500,
    )
    assert r.channel_refund_no == "50000000382019052709732678859"


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("SUCCESS", pb.RESULT_STATE_SUCCEEDED),
        ("FAIL", pb.RESULT_STATE_FAILED),
        ("CANCELLED", pb.RESULT_STATE_FAILED),
    ],
)
def test_transfer_bill_finished(state: str, expected: int) -> None:
    headers, body = PLATFORM.callback(
        "MCHTRANSFER.BILL.FINISHED", dict(BILL, state=state), "mch_payment", NOW
    )
    out = notify(headers, body)
    assert_ack(out)
    assert out.WhichOneof("event") == "transfer"
    assert (out.transfer.state, out.transfer.transfer_id, out.transfer.amount) == (
        expected,
        "T202611220400001",
        300,
    )


def test_probe_callback_with_bad_signature_is_rejected() -> None:
    headers, body = PLATFORM.callback("TRANSACTION.SUCCESS", TRANSACTION, "transaction", NOW)
    headers["wechatpay-signature"] = "WECHATPAY/SIGNTEST/" + headers["wechatpay-signature"][19:]
    assert_rejected(notify(headers, body), 401)


def test_tampered_callback_is_rejected() -> None:
    headers, body = PLATFORM.callback("TRANSACTION.SUCCESS", TRANSACTION, "transaction", NOW)
    assert_rejected(notify(headers, body.replace(b"TRANSACTION.SUCCESS", b"REFUND.SUCCESS")), 401)


def test_unknown_serial_is_rejected_or_raised_for_refresh() -> None:
    other = FakePlatform(
        serial="PUB_KEY_ID_0000000000000000000000000099", api_v3_key=PLATFORM.api_v3_key
    )
    headers, body = other.callback("TRANSACTION.SUCCESS", TRANSACTION, "transaction", NOW)
    assert_rejected(notify(headers, body), 401)
    with pytest.raises(UnknownSerial):
        notify(headers, body, raise_unknown_serial=True)


@pytest.mark.parametrize("skew", [timedelta(minutes=-5, seconds=-1), timedelta(minutes=6)])
def test_stale_callback_is_rejected(skew: timedelta) -> None:
    headers, body = PLATFORM.callback("TRANSACTION.SUCCESS", TRANSACTION, "transaction", NOW + skew)
    assert_rejected(notify(headers, body), 401)


@pytest.mark.parametrize("timestamp", ["9" * 5000, "1" * 13, "١٧٠٠٠٠٠٠٠٠", "-1700000000", ""])
def test_malformed_timestamp_header_is_rejected_not_raised(timestamp: str) -> None:
    headers, body = PLATFORM.callback("TRANSACTION.SUCCESS", TRANSACTION, "transaction", NOW)
    headers["wechatpay-timestamp"] = timestamp
    assert_rejected(notify(headers, body), 401)


def test_missing_headers_are_rejected() -> None:
    _, body = PLATFORM.callback("TRANSACTION.SUCCESS", TRANSACTION, "transaction", NOW)
    assert_rejected(notify({}, body), 401)


def test_wrong_apiv3_key_is_rejected() -> None:
    other = FakePlatform(key=PLATFORM.key, serial=PLATFORM.serial)  # signs right, other AES key
    headers, body = other.callback("TRANSACTION.SUCCESS", TRANSACTION, "transaction", NOW)
    assert_rejected(notify(headers, body), 400)


@pytest.mark.parametrize(
    "changes", [{"mchid": "1230000109"}, {"appid": "wx0000000000000000"}], ids=["mchid", "appid"]
)
def test_other_merchant_or_appid_is_rejected(changes: dict[str, str]) -> None:
    headers, body = PLATFORM.callback(
        "TRANSACTION.SUCCESS", dict(TRANSACTION, **changes), "transaction", NOW
    )
    assert_rejected(notify(headers, body), 400)


def test_signed_but_not_json_is_rejected() -> None:
    body = b"not json"
    assert_rejected(notify(PLATFORM.signed_headers(body, NOW), body), 400)


def test_unhandled_event_is_acked_without_event() -> None:
    headers, body = PLATFORM.callback(
        "PROFITSHARING.SUCCESS", {"mchid": "1900000109"}, "profitsharing", NOW
    )
    out = notify(headers, body)
    assert_ack(out)
    assert out.WhichOneof("event") is None


def test_get_is_rejected() -> None:
    headers, body = PLATFORM.callback("TRANSACTION.SUCCESS", TRANSACTION, "transaction", NOW)
    req = svc.ParseNotifyRequest(account=REF, http_method="GET", headers=headers, body=body)
    assert_rejected(parse_notify(req, ACCOUNT, KEYS, NOW), 405)
