"""Alipay transformers: yuan <-> fen, status maps, times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.channels.alipay import transformers as t


@pytest.mark.parametrize(
    ("fen", "yuan"),
    [
        (1, "0.01"),
        (10, "0.10"),
        (99, "0.99"),
        (100, "1.00"),
        (1999, "19.99"),
        (123456789, "1234567.89"),
        (10**10, "100000000.00"),
    ],
)
def test_fen_to_yuan_and_back(fen: int, yuan: str) -> None:
    assert t.fen_to_yuan(fen) == yuan
    assert t.yuan_to_fen(yuan) == fen


@pytest.mark.parametrize("fen", [0, -1, 10**10 + 1, True])
def test_fen_to_yuan_rejects(fen: int) -> None:
    with pytest.raises(ValueError, match="amount must be"):
        t.fen_to_yuan(fen)


@pytest.mark.parametrize(("yuan", "fen"), [("0", 0), ("12", 1200), ("9.9", 990), ("0.1", 10)])
def test_yuan_to_fen_short_forms(yuan: str, fen: int) -> None:
    assert t.yuan_to_fen(yuan) == fen


@pytest.mark.parametrize(
    "yuan", ["", "-1.00", "+1", "1.001", "1e2", "01.00", " 1.00", "1,00", "NaN", "1.", ".5"]
)
def test_yuan_to_fen_rejects(yuan: str) -> None:
    with pytest.raises(ValueError, match="not a yuan amount"):
        t.yuan_to_fen(yuan)


def test_optional_fen() -> None:
    assert t.optional_fen({"a": "0.01"}, "a") == 1
    assert t.optional_fen({"a": "bad"}, "a") == 0
    assert t.optional_fen({"a": 1}, "a") == 0
    assert t.optional_fen({}, "a") == 0


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("WAIT_BUYER_PAY", pb.TRADE_STATE_PENDING),
        ("TRADE_SUCCESS", pb.TRADE_STATE_PAID),
        ("TRADE_FINISHED", pb.TRADE_STATE_PAID),
        ("TRADE_CLOSED", pb.TRADE_STATE_CLOSED),
        ("SOMETHING_NEW", pb.TRADE_STATE_PENDING),
        ("", pb.TRADE_STATE_PENDING),
    ],
)
def test_trade_state(status: str, state: int) -> None:
    assert t.trade_state(status) == state


@pytest.mark.parametrize(
    ("code", "state"),
    [
        ("10000", pb.TRADE_STATE_PAID),
        ("10003", pb.TRADE_STATE_PENDING),
        ("20000", pb.TRADE_STATE_PENDING),
        ("40004", pb.TRADE_STATE_FAILED),
        ("99999", pb.TRADE_STATE_PENDING),
    ],
)
def test_barcode_state(code: str, state: int) -> None:
    assert t.barcode_state(code) == state


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("REFUND_SUCCESS", pb.RESULT_STATE_SUCCEEDED),
        ("", pb.RESULT_STATE_PENDING),  # absent: not refunded (yet), never FAILED
        ("REFUND_PROCESSING", pb.RESULT_STATE_PENDING),
    ],
)
def test_refund_state(status: str, state: int) -> None:
    assert t.refund_state(status) == state


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("SUCCESS", pb.RESULT_STATE_SUCCEEDED),
        ("FAIL", pb.RESULT_STATE_FAILED),
        ("CLOSED", pb.RESULT_STATE_FAILED),
        ("DEALING", pb.RESULT_STATE_PENDING),
        ("WAIT_PAY", pb.RESULT_STATE_PENDING),
        ("NEW_THING", pb.RESULT_STATE_PENDING),
    ],
)
def test_transfer_state(status: str, state: int) -> None:
    assert t.transfer_state(status) == state


def test_times_are_china_local() -> None:
    now = datetime(2026, 11, 22, 4, 0, 5, tzinfo=UTC)
    assert t.format_time(now) == "2026-11-22 12:00:05"
    parsed = t.parse_time("2026-11-22 12:00:05")
    assert parsed == now
    assert t.parse_time("2026-11-22 12:00:05.320") == now.replace(microsecond=320000)
    assert t.parse_time("") is None
    assert t.parse_time("yesterday") is None
    with pytest.raises(ValueError, match="naive"):
        t.format_time(datetime(2026, 1, 1))


def test_trade_result_from_query_content() -> None:
    result = t.trade_result(
        {
            "code": "10000",
            "out_trade_no": "P1",
            "trade_no": "2026112222001",
            "trade_status": "TRADE_SUCCESS",
            "total_amount": "19.99",
            "buyer_user_id": "2088102177846880",
            "send_pay_date": "2026-11-22 12:00:01",
        }
    )
    assert result.state == pb.TRADE_STATE_PAID
    assert result.order_id == "P1"
    assert result.channel_trade_no == "2026112222001"
    assert result.amount == 1999
    assert result.currency == "CNY"
    assert result.payer_id == "2088102177846880"
    assert result.paid_at.ToDatetime(tzinfo=UTC) == datetime(2026, 11, 22, 4, 0, 1, tzinfo=UTC)
    pending = t.trade_result({"trade_status": "WAIT_BUYER_PAY", "send_pay_date": "x"})
    assert not pending.HasField("paid_at")
