"""Request validation for the merchant API: pure, before anything is read or written.

Every string field of a merchant request has a maximum length; the
same numbers are written in the proto comments and the OpenAPI document, and a test holds
the three together. Lengths are counted in characters, as MySQL's utf8mb4 VARCHAR does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from paymesh.catalog import CHANNEL_NAMES
from paymesh.errors import InvalidArgument
from paymesh.merchant.v1 import pay_service_pb2 as pay_pb
from paymesh.merchant.v1 import query_service_pb2 as query_pb
from paymesh.merchant.v1 import refund_service_pb2 as refund_pb
from paymesh.merchant.v1 import transfer_service_pb2 as transfer_pb

MERCHANT_NO = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CHANNELS = CHANNEL_NAMES  # paymesh.catalog: the one list of channels
NONCE = re.compile(r"^[A-Za-z0-9]{8,32}$")
METHODS = frozenset({"qr", "h5", "page", "app", "jsapi", "barcode", "cashier"})
CURRENCIES = frozenset({"CNY"})
SIGN_TYPES = frozenset({"HMAC-SHA256", "MD5", "RSA2"})
MAX_AMOUNT = 10**12  # fen; far above any single payment the providers accept
MAX_EXPIRE_SECONDS = 7 * 24 * 3600

# Maximum length in characters of every string field of a merchant request, by field name.
MAX_LENGTH: dict[str, int] = {
    "app_id": 64,
    "out_trade_no": 64,
    "out_refund_no": 64,
    "out_transfer_no": 64,
    "order_id": 32,
    "refund_id": 32,
    "transfer_id": 32,
    "currency": 3,
    "subject": 128,
    "description": 1024,
    "channel": 16,
    "method": 16,
    "notify_url": 512,
    "return_url": 512,
    "client_ip": 64,
    "payer_id": 128,
    "auth_code": 128,
    "reason": 256,
    "payee_id": 128,
    "payee_name": 128,
    "remark": 256,
    "sign_type": 16,
    "sign": 1024,
    "nonce": 32,
}
DEFAULT_MAX_LENGTH = 256
MAX_METADATA_KEYS = 20
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512


def _require(value: str, field: str) -> None:
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)


def _metadata(md: Mapping[str, str]) -> None:
    if len(md) > MAX_METADATA_KEYS:
        raise InvalidArgument(f"metadata has more than {MAX_METADATA_KEYS} keys", field="metadata")
    for key, value in md.items():
        if not key or len(key) > MAX_METADATA_KEY:
            raise InvalidArgument(
                f"metadata keys must be 1-{MAX_METADATA_KEY} characters", field="metadata"
            )
        if len(value) > MAX_METADATA_VALUE:
            raise InvalidArgument(
                f"metadata values must be at most {MAX_METADATA_VALUE} characters",
                field=f"metadata.{key}",
            )


def check_lengths(msg: Message) -> None:
    """Every string field within its limit, metadata within its caps (any request)."""
    for field, value in msg.ListFields():
        if field.type == FieldDescriptor.TYPE_STRING and not field.is_repeated:
            # Every field should be listed (a test holds that); a forgotten one still gets a cap.
            limit = MAX_LENGTH.get(field.name, DEFAULT_MAX_LENGTH)
            if len(value) > limit:
                raise InvalidArgument(
                    f"{field.name} is longer than {limit} characters",
                    field=field.name,
                    metadata={"max_length": str(limit)},
                )
        elif field.name == "metadata":
            _metadata(value)


def _merchant_no(value: str, field: str) -> None:
    _require(value, field)
    if not MERCHANT_NO.match(value):
        raise InvalidArgument(f"{field} must be 1-64 of [A-Za-z0-9_-]", field=field)


def _amount(value: int, field: str = "amount") -> None:
    if value <= 0:
        raise InvalidArgument(f"{field} must be > 0 (minor units)", field=field)
    if value > MAX_AMOUNT:
        raise InvalidArgument(f"{field} is too large", field=field)


def _auth_fields(msg: Message) -> None:
    check_lengths(msg)
    _require(getattr(msg, "app_id"), "app_id")  # noqa: B009
    if getattr(msg, "sign_type") not in SIGN_TYPES:  # noqa: B009
        raise InvalidArgument(f"sign_type must be one of {sorted(SIGN_TYPES)}", field="sign_type")
    _require(getattr(msg, "sign"), "sign")  # noqa: B009
    if getattr(msg, "timestamp") <= 0:  # noqa: B009
        raise InvalidArgument("timestamp (unix seconds) is required", field="timestamp")


def _mutating(msg: Message) -> None:
    """A mutating request: the auth fields plus a signed nonce."""
    _auth_fields(msg)
    if not NONCE.match(getattr(msg, "nonce")):  # noqa: B009
        raise InvalidArgument("nonce must be 8-32 of [A-Za-z0-9]", field="nonce")


def _url(value: str, field: str) -> None:
    if value and not value.startswith(("http://", "https://")):
        raise InvalidArgument(f"{field} must be an http(s) URL", field=field)


def validate_create_order(req: pay_pb.CreateOrderRequest) -> None:
    _mutating(req)
    _merchant_no(req.out_trade_no, "out_trade_no")
    _amount(req.amount)
    if req.currency and req.currency not in CURRENCIES:
        raise InvalidArgument("currency must be CNY", field="currency")
    _require(req.subject, "subject")
    if req.channel and req.channel not in CHANNELS:
        raise InvalidArgument(f"channel must be one of {sorted(CHANNELS)}", field="channel")
    if req.method not in METHODS:
        raise InvalidArgument(f"method must be one of {sorted(METHODS)}", field="method")
    if req.expire_seconds < 0 or req.expire_seconds > MAX_EXPIRE_SECONDS:
        raise InvalidArgument("expire_seconds must be 0..604800", field="expire_seconds")
    if req.method == "cashier" and req.channel:
        raise InvalidArgument(
            "a cashier order takes no channel: the payer's wallet decides", field="channel"
        )
    if req.method == "jsapi":
        _require(req.payer_id, "payer_id")
    if req.method == "barcode":
        _require(req.auth_code, "auth_code")
    _url(req.notify_url, "notify_url")
    _url(req.return_url, "return_url")


def validate_close_order(req: pay_pb.CloseOrderRequest) -> None:
    _mutating(req)
    _require(req.order_id, "order_id")


def validate_create_refund(req: refund_pb.CreateRefundRequest) -> None:
    _mutating(req)
    if not req.order_id and not req.out_trade_no:
        raise InvalidArgument("order_id or out_trade_no is required", field="order_id")
    _merchant_no(req.out_refund_no, "out_refund_no")
    _amount(req.amount)
    _url(req.notify_url, "notify_url")


def validate_create_transfer(req: transfer_pb.CreateTransferRequest) -> None:
    _mutating(req)
    _merchant_no(req.out_transfer_no, "out_transfer_no")
    _amount(req.amount)
    if req.currency and req.currency not in CURRENCIES:
        raise InvalidArgument("currency must be CNY", field="currency")
    if req.channel and req.channel not in CHANNELS:
        raise InvalidArgument(f"channel must be one of {sorted(CHANNELS)}", field="channel")
    _require(req.payee_id, "payee_id")
    _url(req.notify_url, "notify_url")


def validate_cancel_transfer(req: transfer_pb.CancelTransferRequest) -> None:
    _mutating(req)
    _require(req.transfer_id, "transfer_id")


QueryRequest = (
    query_pb.QueryOrderRequest | query_pb.QueryRefundRequest | query_pb.QueryTransferRequest
)


def validate_query(req: QueryRequest) -> None:
    """Queries: limits and app_id; the signature check follows."""
    check_lengths(req)
    _require(req.app_id, "app_id")
