"""Merchant request validation: limits, nonce, and the proto comments agreeing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from paymesh.errors import InvalidArgument
from paymesh.gateway import validation as v
from paymesh.merchant.v1 import pay_service_pb2 as pay_pb
from paymesh.merchant.v1 import query_service_pb2 as query_pb
from paymesh.merchant.v1 import refund_service_pb2 as refund_pb
from paymesh.merchant.v1 import transfer_service_pb2 as transfer_pb

PROTO = Path(__file__).resolve().parents[2] / "proto" / "paymesh" / "merchant" / "v1"
REQUESTS: list[type[Message]] = [
    pay_pb.CreateOrderRequest,
    pay_pb.CloseOrderRequest,
    refund_pb.CreateRefundRequest,
    transfer_pb.CreateTransferRequest,
    transfer_pb.CancelTransferRequest,
    query_pb.QueryOrderRequest,
    query_pb.QueryRefundRequest,
    query_pb.QueryTransferRequest,
]
MUTATING = {
    "CreateOrderRequest",
    "CloseOrderRequest",
    "CreateRefundRequest",
    "CreateTransferRequest",
    "CancelTransferRequest",
}


def order(**kw: object) -> pay_pb.CreateOrderRequest:
    base: dict[str, object] = {
        "app_id": "app",
        "out_trade_no": "o1",
        "amount": 1,
        "subject": "s",
        "method": "qr",
        "timestamp": 1,
        "sign_type": "HMAC-SHA256",
        "sign": "x",
        "nonce": "abcdefgh",
    }
    base.update(kw)
    return pay_pb.CreateOrderRequest(**base)  # type: ignore[arg-type]


def _string_fields(msg: type[Message]) -> list[str]:
    return [
        f.name
        for f in msg.DESCRIPTOR.fields
        if f.type == FieldDescriptor.TYPE_STRING and not f.is_repeated
    ]


def _field_comments(message: str) -> dict[str, str]:
    """field name -> the comment lines right above it in the .proto source."""
    for path in PROTO.glob("*_service.proto"):
        text = path.read_text()
        start = text.find(f"message {message} {{")
        if start < 0:
            continue
        body = text[start : text.index("\n}", start)]
        comments: dict[str, str] = {}
        pending: list[str] = []
        shared = ""
        for line in body.splitlines()[1:]:
            line = line.strip()
            if line.startswith("//"):
                pending.append(line[2:].strip())
                continue
            m = re.match(r"(?:map<[^>]+>|\w+) (\w+) = \d+;", line)
            if m:
                # A field without its own comment shares the one of the field above it.
                shared = " ".join(pending) if pending else shared
                comments[m.group(1)] = shared
                pending = []
        return comments
    raise AssertionError(f"message {message} not found under {PROTO}")


@pytest.mark.parametrize("msg", REQUESTS, ids=lambda m: m.DESCRIPTOR.name)
def test_every_string_field_has_a_limit_written_in_its_proto_comment(msg: type[Message]) -> None:
    comments = _field_comments(msg.DESCRIPTOR.name)
    for name in _string_fields(msg):
        limit = v.MAX_LENGTH[name]
        assert re.search(rf"\b{limit}\b", comments[name]), (name, limit, comments[name])
    if "metadata" in msg.DESCRIPTOR.fields_by_name:
        text = comments["metadata"]
        for n in (v.MAX_METADATA_KEYS, v.MAX_METADATA_KEY, v.MAX_METADATA_VALUE):
            assert str(n) in text
    assert ("nonce" in msg.DESCRIPTOR.fields_by_name) == (msg.DESCRIPTOR.name in MUTATING)


@pytest.mark.parametrize("field", [f for f in _string_fields(pay_pb.CreateOrderRequest)])
def test_each_create_order_string_at_its_limit_passes_the_length_check_one_past_fails(
    field: str,
) -> None:
    limit = v.MAX_LENGTH[field]
    v.check_lengths(order(**{field: "x" * limit}))
    with pytest.raises(InvalidArgument) as e:
        v.check_lengths(order(**{field: "x" * (limit + 1)}))
    assert e.value.metadata["field"] == field
    assert e.value.metadata["max_length"] == str(limit)


@pytest.mark.parametrize(
    ("msg", "field"),
    [(m, f) for m in REQUESTS for f in _string_fields(m)],
    ids=lambda v: v if isinstance(v, str) else v.DESCRIPTOR.name,
)
def test_every_request_string_at_its_limit_passes_and_one_past_fails(
    msg: type[Message], field: str
) -> None:
    limit = v.MAX_LENGTH[field]
    v.check_lengths(msg(**{field: "x" * limit}))
    with pytest.raises(InvalidArgument) as e:
        v.check_lengths(msg(**{field: "x" * (limit + 1)}))
    assert e.value.metadata["field"] == field


def test_lengths_count_characters_not_bytes() -> None:
    v.check_lengths(order(subject="支" * 128))
    with pytest.raises(InvalidArgument):
        v.check_lengths(order(subject="支" * 129))


def test_metadata_caps() -> None:
    v.validate_create_order(order(metadata={f"k{i}": "v" for i in range(20)}))
    v.validate_create_order(order(metadata={"k" * 64: "v" * 512}))
    cases = [
        ({f"k{i}": "v" for i in range(21)}, "metadata"),
        ({"k" * 65: "v"}, "metadata"),
        ({"": "v"}, "metadata"),
        ({"k": "v" * 513}, "metadata.k"),
    ]
    for md, field in cases:
        with pytest.raises(InvalidArgument) as e:
            v.validate_create_order(order(metadata=md))
        assert e.value.metadata["field"] == field


@pytest.mark.parametrize(
    "nonce", ["", "abc1234", "x" * 33, "abcdefg!", "abcd efgh", "密码密码密码密码"]
)
def test_mutating_requests_need_a_well_formed_nonce(nonce: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        v.validate_create_order(order(nonce=nonce))
    assert e.value.metadata["field"] == "nonce"
    close = pay_pb.CloseOrderRequest(
        order_id="P1", app_id="a", timestamp=1, sign_type="MD5", sign="x", nonce=nonce
    )
    with pytest.raises(InvalidArgument):
        v.validate_close_order(close)


@pytest.mark.parametrize("nonce", ["abcdefgh", "A1b2C3d4" * 4])
def test_nonce_of_8_to_32_alphanumerics_is_accepted(nonce: str) -> None:
    v.validate_create_order(order(nonce=nonce))


def test_a_signed_query_replayed_as_close_order_is_refused_before_the_signature() -> None:
    # The query's fields are a subset of CloseOrder's; without a nonce it can never pass.
    query = {"order_id": "P1", "app_id": "a", "timestamp": 1, "sign_type": "MD5", "sign": "S"}
    with pytest.raises(InvalidArgument) as e:
        v.validate_close_order(pay_pb.CloseOrderRequest(**query))  # type: ignore[arg-type]
    assert e.value.metadata["field"] == "nonce"


def test_return_url_must_be_http() -> None:
    with pytest.raises(InvalidArgument) as e:
        v.validate_create_order(order(return_url="javascript:alert(1)"))
    assert e.value.metadata["field"] == "return_url"


def test_cashier_orders_take_no_channel() -> None:
    v.validate_create_order(order(method="cashier"))
    with pytest.raises(InvalidArgument) as e:
        v.validate_create_order(order(method="cashier", channel="wechat"))
    assert e.value.metadata["field"] == "channel"
