from google.api import annotations_pb2 as _annotations_pb2
from paymesh.merchant.v1 import order_pb2 as _order_pb2
from paymesh.merchant.v1 import refund_pb2 as _refund_pb2
from paymesh.merchant.v1 import transfer_pb2 as _transfer_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QueryOrderRequest(_message.Message):
    __slots__ = ("order_id", "app_id", "out_trade_no", "sync", "timestamp", "sign_type", "sign")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    OUT_TRADE_NO_FIELD_NUMBER: _ClassVar[int]
    SYNC_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SIGN_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIGN_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    app_id: str
    out_trade_no: str
    sync: bool
    timestamp: int
    sign_type: str
    sign: str
    def __init__(self, order_id: _Optional[str] = ..., app_id: _Optional[str] = ..., out_trade_no: _Optional[str] = ..., sync: _Optional[bool] = ..., timestamp: _Optional[int] = ..., sign_type: _Optional[str] = ..., sign: _Optional[str] = ...) -> None: ...

class QueryOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: _order_pb2.Order
    def __init__(self, order: _Optional[_Union[_order_pb2.Order, _Mapping]] = ...) -> None: ...

class QueryRefundRequest(_message.Message):
    __slots__ = ("refund_id", "app_id", "out_refund_no", "sync", "timestamp", "sign_type", "sign")
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    OUT_REFUND_NO_FIELD_NUMBER: _ClassVar[int]
    SYNC_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SIGN_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIGN_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    app_id: str
    out_refund_no: str
    sync: bool
    timestamp: int
    sign_type: str
    sign: str
    def __init__(self, refund_id: _Optional[str] = ..., app_id: _Optional[str] = ..., out_refund_no: _Optional[str] = ..., sync: _Optional[bool] = ..., timestamp: _Optional[int] = ..., sign_type: _Optional[str] = ..., sign: _Optional[str] = ...) -> None: ...

class QueryRefundResponse(_message.Message):
    __slots__ = ("refund",)
    REFUND_FIELD_NUMBER: _ClassVar[int]
    refund: _refund_pb2.Refund
    def __init__(self, refund: _Optional[_Union[_refund_pb2.Refund, _Mapping]] = ...) -> None: ...

class QueryTransferRequest(_message.Message):
    __slots__ = ("transfer_id", "app_id", "out_transfer_no", "sync", "timestamp", "sign_type", "sign")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    OUT_TRANSFER_NO_FIELD_NUMBER: _ClassVar[int]
    SYNC_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SIGN_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIGN_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    app_id: str
    out_transfer_no: str
    sync: bool
    timestamp: int
    sign_type: str
    sign: str
    def __init__(self, transfer_id: _Optional[str] = ..., app_id: _Optional[str] = ..., out_transfer_no: _Optional[str] = ..., sync: _Optional[bool] = ..., timestamp: _Optional[int] = ..., sign_type: _Optional[str] = ..., sign: _Optional[str] = ...) -> None: ...

class QueryTransferResponse(_message.Message):
    __slots__ = ("transfer",)
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    transfer: _transfer_pb2.Transfer
    def __init__(self, transfer: _Optional[_Union[_transfer_pb2.Transfer, _Mapping]] = ...) -> None: ...
