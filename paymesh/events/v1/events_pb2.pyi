import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Notification(_message.Message):
    __slots__ = ("event_id", "event_type", "app_id", "order_id", "out_trade_no", "refund_id", "out_refund_no", "transfer_id", "out_transfer_no", "amount", "currency", "status", "channel", "channel_trade_no", "paid_at", "metadata", "timestamp", "sign_type", "sign")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    OUT_TRADE_NO_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    OUT_REFUND_NO_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    OUT_TRANSFER_NO_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_TRADE_NO_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SIGN_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIGN_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_type: str
    app_id: str
    order_id: str
    out_trade_no: str
    refund_id: str
    out_refund_no: str
    transfer_id: str
    out_transfer_no: str
    amount: int
    currency: str
    status: str
    channel: str
    channel_trade_no: str
    paid_at: str
    metadata: _containers.ScalarMap[str, str]
    timestamp: int
    sign_type: str
    sign: str
    def __init__(self, event_id: _Optional[str] = ..., event_type: _Optional[str] = ..., app_id: _Optional[str] = ..., order_id: _Optional[str] = ..., out_trade_no: _Optional[str] = ..., refund_id: _Optional[str] = ..., out_refund_no: _Optional[str] = ..., transfer_id: _Optional[str] = ..., out_transfer_no: _Optional[str] = ..., amount: _Optional[int] = ..., currency: _Optional[str] = ..., status: _Optional[str] = ..., channel: _Optional[str] = ..., channel_trade_no: _Optional[str] = ..., paid_at: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., timestamp: _Optional[int] = ..., sign_type: _Optional[str] = ..., sign: _Optional[str] = ...) -> None: ...

class OutboxEvent(_message.Message):
    __slots__ = ("event_id", "event_type", "app_id", "notify_url", "notification", "created_at")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_URL_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_type: str
    app_id: str
    notify_url: str
    notification: Notification
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., event_type: _Optional[str] = ..., app_id: _Optional[str] = ..., notify_url: _Optional[str] = ..., notification: _Optional[_Union[Notification, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
