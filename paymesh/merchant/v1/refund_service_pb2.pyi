from google.api import annotations_pb2 as _annotations_pb2
from paymesh.merchant.v1 import refund_pb2 as _refund_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateRefundRequest(_message.Message):
    __slots__ = ("app_id", "order_id", "out_trade_no", "out_refund_no", "amount", "reason", "notify_url", "metadata", "timestamp", "sign_type", "sign", "nonce")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    OUT_TRADE_NO_FIELD_NUMBER: _ClassVar[int]
    OUT_REFUND_NO_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_URL_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SIGN_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIGN_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    order_id: str
    out_trade_no: str
    out_refund_no: str
    amount: int
    reason: str
    notify_url: str
    metadata: _containers.ScalarMap[str, str]
    timestamp: int
    sign_type: str
    sign: str
    nonce: str
    def __init__(self, app_id: _Optional[str] = ..., order_id: _Optional[str] = ..., out_trade_no: _Optional[str] = ..., out_refund_no: _Optional[str] = ..., amount: _Optional[int] = ..., reason: _Optional[str] = ..., notify_url: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., timestamp: _Optional[int] = ..., sign_type: _Optional[str] = ..., sign: _Optional[str] = ..., nonce: _Optional[str] = ...) -> None: ...

class CreateRefundResponse(_message.Message):
    __slots__ = ("refund",)
    REFUND_FIELD_NUMBER: _ClassVar[int]
    refund: _refund_pb2.Refund
    def __init__(self, refund: _Optional[_Union[_refund_pb2.Refund, _Mapping]] = ...) -> None: ...
