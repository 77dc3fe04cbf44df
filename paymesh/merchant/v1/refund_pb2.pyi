import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Refund(_message.Message):
    __slots__ = ("refund_id", "app_id", "out_refund_no", "order_id", "out_trade_no", "status", "amount", "currency", "channel", "channel_refund_no", "reason", "created_at", "succeeded_at", "metadata", "channel_state")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[Refund.Status]
        PENDING: _ClassVar[Refund.Status]
        SUCCEEDED: _ClassVar[Refund.Status]
        FAILED: _ClassVar[Refund.Status]
    STATUS_UNSPECIFIED: Refund.Status
    PENDING: Refund.Status
    SUCCEEDED: Refund.Status
    FAILED: Refund.Status
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    OUT_REFUND_NO_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    OUT_TRADE_NO_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_REFUND_NO_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_AT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_STATE_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    app_id: str
    out_refund_no: str
    order_id: str
    out_trade_no: str
    status: Refund.Status
    amount: int
    currency: str
    channel: str
    channel_refund_no: str
    reason: str
    created_at: _timestamp_pb2.Timestamp
    succeeded_at: _timestamp_pb2.Timestamp
    metadata: _containers.ScalarMap[str, str]
    channel_state: str
    def __init__(self, refund_id: _Optional[str] = ..., app_id: _Optional[str] = ..., out_refund_no: _Optional[str] = ..., order_id: _Optional[str] = ..., out_trade_no: _Optional[str] = ..., status: _Optional[_Union[Refund.Status, str]] = ..., amount: _Optional[int] = ..., currency: _Optional[str] = ..., channel: _Optional[str] = ..., channel_refund_no: _Optional[str] = ..., reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., succeeded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., channel_state: _Optional[str] = ...) -> None: ...
