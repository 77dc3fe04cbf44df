"""Alipay async notifies: verification, trade and refund events, ack/nack."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.alipay.notify import ACK, NACK, parse_notify
from tests.channels.alipay.fakes import FakeAlipay, make_account, new_rsa_key

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
APP_KEY = new_rsa_key()
ALIPAY = FakeAlipay()
ACCOUNT = make_account(ALIPAY, APP_KEY)
CERT_ACCOUNT = make_account(
    ALIPAY, APP_KEY, mode="certificate", certs=ALIPAY.certificates(APP_KEY, NOW)
)
REF = pb.AccountRef(channel="alipay", account_id="ali-test")

TRADE: dict[str, str] = {
    "notify_time": "2026-11-22 12:00:05",
    "notify_type": "trade_status_sync",
    "notify_id": "ac05099524730693a8b330c5ecf72da9786",
    "charset": "utf-8",
    "version": "1.0",
    "app_id": "2021000000000001",
    "trade_no": "2026112222001456",
    "out_trade_no": "P202611220400001",
    "buyer_id": "2088102122524333",
    "trade_status": "TRADE_SUCCESS",
    "total_amount": "19.99",
    "receipt_amount": "19.99",
    "subject": "Iphone6 16G & 中文",
    "gmt_create": "2026-11-22 12:00:00",
    "gmt_payment": "2026-11-22 12:00:03",
    "fund_bill_list": '[{"amount":"19.99","fundChannel":"ALIPAYACCOUNT"}]',
    "passback_params": "",
}


def request(body: bytes, method: str = "POST") -> svc.ParseNotifyRequest:
    return svc.ParseNotifyRequest(
        account=REF,
        http_method=method,
        headers={"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
        body=body,
        content_type="application/x-www-form-urlencoded; charset=utf-8",
    )


@pytest.mark.parametrize("account", [ACCOUNT, CERT_ACCOUNT], ids=["public_key", "certificate"])
def test_trade_success(account: Any) -> None:
    out = parse_notify(request(ALIPAY.notify_body(TRADE)), account)
    assert not out.reject_reason
    assert out.WhichOneof("event") == "trade"
    assert out.provider_event_id == TRADE["notify_id"]
    trade = out.trade
    assert trade.state == pb.TRADE_STATE_PAID
    assert trade.order_id == "P202611220400001"
    assert trade.channel_trade_no == "2026112222001456"
    assert trade.amount == 1999
    assert trade.payer_id == "2088102122524333"
    assert trade.paid_at.ToDatetime(tzinfo=UTC) == datetime(2026, 11, 22, 4, 0, 3, tzinfo=UTC)
    assert out.ack == ACK
    assert out.ack.http_status == 200
    assert out.ack.body == b"success"
    assert out.nack.body == b"fail"


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("WAIT_BUYER_PAY", pb.TRADE_STATE_PENDING),
        ("TRADE_FINISHED", pb.TRADE_STATE_PAID),
        ("TRADE_CLOSED", pb.TRADE_STATE_CLOSED),
    ],
)
def test_trade_statuses(status: str, state: int) -> None:
    params = {**TRADE, "trade_status": status}
    assert parse_notify(request(ALIPAY.notify_body(params)), ACCOUNT).trade.state == state


def test_refund_notify() -> None:
    params = {
        **TRADE,
        "out_biz_no": "R202611220400001",
        "refund_fee": "0.01",
        "gmt_refund": "2026-11-22 12:10:00.320",
    }
    out = parse_notify(request(ALIPAY.notify_body(params)), ACCOUNT)
    assert not out.reject_reason
    assert out.WhichOneof("event") == "refund"
    refund = out.refund
    assert refund.state == pb.RESULT_STATE_SUCCEEDED
    assert refund.refund_id == "R202611220400001"
    assert refund.order_id == "P202611220400001"
    assert refund.amount == 0  # refund_fee is cumulative: not this refund's amount
    assert refund.succeeded_at.ToDatetime(tzinfo=UTC) == datetime(2026, 11, 22, 4, 10, tzinfo=UTC)


def test_get_with_query_string_is_accepted() -> None:
    req = svc.ParseNotifyRequest(
        account=REF, http_method="GET", query=ALIPAY.notify_body(TRADE).decode()
    )
    assert parse_notify(req, ACCOUNT).trade.state == pb.TRADE_STATE_PAID


def tampered(**changes: str) -> bytes:
    params = ALIPAY.notify_params(TRADE)
    params.update(changes)
    return urlencode(params).encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (tampered(total_amount="0.01"), "signature"),
        (tampered(sign=""), "not signed"),
        (tampered(sign="AAAA"), "signature"),
        (tampered(sign_type="RSA"), "RSA2"),
        (FakeAlipay().notify_body(TRADE), "signature"),
        (ALIPAY.notify_body({**TRADE, "app_id": "2021999999999999"}), "another app"),
        (ALIPAY.notify_body({**TRADE, "trade_status": ""}), "trade_status"),
        (ALIPAY.notify_body({**TRADE, "total_amount": "1e3"}), "total_amount"),
        (b"\xff\xfe", "not a form"),
        (b"a=1&a=2", "not a form"),
        (b"", "not signed"),
    ],
)
def test_rejected(body: bytes, reason: str) -> None:
    out = parse_notify(request(body), ACCOUNT)
    assert reason in out.reject_reason
    assert out.WhichOneof("event") is None
    assert out.nack == NACK


def test_notify_for_another_seller_is_rejected_when_the_account_names_its_pid() -> None:
    body = ALIPAY.notify_body({**TRADE, "seller_id": "2088000000000002"})
    pinned = make_account(ALIPAY, APP_KEY, seller_id="2088000000000001")
    out = parse_notify(request(body), pinned)
    assert "another seller" in out.reject_reason
    assert out.WhichOneof("event") is None
    assert out.nack == NACK
    same = ALIPAY.notify_body({**TRADE, "seller_id": "2088000000000001"})
    assert parse_notify(request(same), pinned).WhichOneof("event") == "trade"


def test_sign_type_is_not_signed_over() -> None:
    # Alipay excludes sign_type from the notify's signed string: changing it alone (to the
    # same value written differently would be refused as not RSA2, so drop it) still verifies
    params = ALIPAY.notify_params(TRADE)
    del params["sign_type"]
    out = parse_notify(request(urlencode(params).encode()), ACCOUNT)
    assert not out.reject_reason


def test_authentic_non_trade_notify_is_acked_without_event() -> None:
    params = {
        "notify_id": "n1",
        "app_id": "2021000000000001",
        "msg_method": "alipay.fund.trans.order.changed",
        "biz_content": '{"out_biz_no":"T1","status":"SUCCESS"}',
    }
    out = parse_notify(request(ALIPAY.notify_body(params)), ACCOUNT)
    assert not out.reject_reason
    assert out.WhichOneof("event") is None
    assert out.ack.body == b"success"


def test_wrong_http_method() -> None:
    out = parse_notify(request(ALIPAY.notify_body(TRADE), method="PUT"), ACCOUNT)
    assert out.reject_reason
