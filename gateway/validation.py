"""Request validation for the merchant API: pure, before anything is read or written."""

from __future__ import annotations

import re

from paymesh.errors import InvalidArgument
from paymesh.merchant.v1 import pay_service_pb2 as pay_pb
from paymesh.merchant.v1 import refund_service_pb2 as refund_pb
from paymesh.merchant.v1 import transfer_service_pb2 as transfer_pb

MERCHANT_NO = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CHANNELS = frozenset({"wechat", "alipay", "unionpay"})
METHODS = frozenset({"qr", "h5", "page", "app", "jsapi", "barcode"})
CURRENCIES = frozenset({"CNY"})
SIGN_TYPES = frozenset({"HMAC-SHA256", "MD5", "RSA2"})
MAX_AMOUNT = 10**12  # fen; far above any single payment the providers accept
MAX_EXPIRE_SECONDS = 7 * 24 * 3600
MAX_METADATA = 16


def _require(value: str, field: str) -> None:
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)


def _merchant_no(value: str, field: str) -> None:
    _require(value, field)
    if not MERCHANT_NO.match(value):
        raise InvalidArgument(f"{field} must be 1-64 of [A-Za-z0-9_-]", field=field)


def _amount(value: int, field: str = "amount") -> None:
    if value <= 0:
        raise InvalidArgument(f"{field} must be > 0 (minor units)", field=field)
    if value > MAX_AMOUNT:
        raise InvalidArgument(f"{field} is too large", field=field)


def _auth_fields(app_id: str, sign_type: str, sign: str, timestamp: int) -> None:
    _require(app_id, "app_id")
    if sign_type not in SIGN_TYPES:
        raise InvalidArgument(f"sign_type must be one of {sorted(SIGN_TYPES)}", field="sign_type")
    _require(sign, "sign")
    if timestamp <= 0:
        raise InvalidArgument("timestamp (unix seconds) is required", field="timestamp")


def _metadata(md: dict[str, str] | object) -> None:
    if len(md) > MAX_METADATA:  # type: ignore[arg-type]
        raise InvalidArgument(f"metadata has more than {MAX_METADATA} keys", field="metadata")


def validate_create_order(req: pay_pb.CreateOrderRequest) -> None:
    _auth_fields(req.app_id, req.sign_type, req.sign, req.timestamp)
    _merchant_no(req.out_trade_no, "out_trade_no")
    _amount(req.amount)
    if req.currency and req.currency not in CURRENCIES:
        raise InvalidArgument("currency must be CNY", field="currency")
    _require(req.subject, "subject")
    if len(req.subject) > 128:
        raise InvalidArgument("subject is longer than 128 characters", field="subject")
    if req.channel and req.channel not in CHANNELS:
        raise InvalidArgument(f"channel must be one of {sorted(CHANNELS)}", field="channel")
    if req.method not in METHODS:
        raise InvalidArgument(f"method must be one of {sorted(METHODS)}", field="method")
    if req.expire_seconds < 0 or req.expire_seconds > MAX_EXPIRE_SECONDS:
        raise InvalidArgument("expire_seconds must be 0..604800", field="expire_seconds")
    if req.method == "jsapi":
        _require(req.payer_id, "payer_id")
    if req.method == "barcode":
        _require(req.auth_code, "auth_code")
    if req.notify_url and not req.notify_url.startswith(("http://", "https://")):
        raise InvalidArgument("notify_url must be an http(s) URL", field="notify_url")
    _metadata(req.metadata)


def validate_create_refund(req: refund_pb.CreateRefundRequest) -> None:
    _auth_fields(req.app_id, req.sign_type, req.sign, req.timestamp)
    if not req.order_id and not req.out_trade_no:
        raise InvalidArgument("order_id or out_trade_no is required", field="order_id")
    _merchant_no(req.out_refund_no, "out_refund_no")
    _amount(req.amount)
    _metadata(req.metadata)


def validate_create_transfer(req: transfer_pb.CreateTransferRequest) -> None:
    _auth_fields(req.app_id, req.sign_type, req.sign, req.timestamp)
    _merchant_no(req.out_transfer_no, "out_transfer_no")
    _amount(req.amount)
    if req.currency and req.currency not in CURRENCIES:
        raise InvalidArgument("currency must be CNY", field="currency")
    if req.channel and req.channel not in CHANNELS:
        raise InvalidArgument(f"channel must be one of {sorted(CHANNELS)}", field="channel")
    _require(req.payee_id, "payee_id")
    _metadata(req.metadata)
