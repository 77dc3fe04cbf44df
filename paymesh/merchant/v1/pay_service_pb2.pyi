from google.api import annotations_pb2 as _annotations_pb2
from paymesh.merchant.v1 import order_pb2 as _order_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateOrderRequest(_message.Message):
    __slots__ = ("app_id", "out_trade_no", "amount", "currency", "subject", "description", "channel", "method", "notify_url", "return_url", "expire_seconds", "client_ip", "payer_id", "auth_code", "metadata", "timestamp", "sign_type", "sign", "nonce")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    OUT_TRADE_NO_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_URL_FIELD_NUMBER: _ClassVar[int]
    RETURN_URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    PAYER_ID_FIELD_NUMBER: _ClassVar[int]
    AUTH_CODE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SIGN_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIGN_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    out_trade_no: str
    amount: int
    currency: str
    subject: str
    description: str
    channel: str
    method: str
    notify_url: str
    return_url: str
    expire_seconds: int
    client_ip: str
    payer_id: str
    auth_code: str
    metadata: _containers.ScalarMap[str, str]
    timestamp: int
    sign_type: str
    sign: str
    nonce: str
    def __init__(self, app_id: _Optional[str] = ..., out_trade_no: _Optional[str] = ..., amount: _Optional[int] = ..., currency: _Optional[str] = ..., subject: _Optional[str] = ..., description: _Optional[str] = ..., channel: _Optional[str] = ..., method: _Optional[str] = ..., notify_url: _Optional[str] = ..., return_url: _Optional[str] = ..., expire_seconds: _Optional[int] = ..., client_ip: _Optional[str] = ..., payer_id: _Optional[str] = ..., auth_code: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., timestamp: _Optional[int] = ..., sign_type: _Optional[str] = ..., sign: _Optional[str] = ..., nonce: _Optional[str] = ...) -> None: ...

class CreateOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: _order_pb2.Order
    def __init__(self, order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ...) -> None: ...

class CloseOrderRequest(_message.Message):
    __slots__ = ("order_id", "app_id", "timestamp", "sign_type", "sign", "nonce")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SIGN_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIGN_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    app_id: str
    timestamp: int
    sign_type: str
    sign: str
    nonce: str
    def __init__(self, order_id: _Optional[str] = ..., app_id: _Optional[str] = ..., timestamp: _Optional[int] = ..., sign_type: _Optional[str] = ..., sign: _Optional[str] = ..., nonce: _Optional[str] = ...) -> None: ...

class CloseOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: _order_pb2.Order
    def __init__(self, order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ...) -> None: ...
