import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from paymesh.common.v1 import pay_data_pb2 as _pay_data_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Order(_message.Message):
    __slots__ = ("order_id", "app_id", "out_trade_no", "status", "amount", "currency", "channel", "method", "pay_data", "channel_trade_no", "expire_time", "created_at", "paid_at", "refunded_amount", "subject", "metadata", "late_payment")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[Order.Status]
        PENDING: _ClassVar[Order.Status]
        PAID: _ClassVar[Order.Status]
        CLOSED: _ClassVar[Order.Status]
        FAILED: _ClassVar[Order.Status]
    STATUS_UNSPECIFIED: Order.Status
    PENDING: Order.Status
    PAID: Order.Status
    CLOSED: Order.Status
    FAILED: Order.Status
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    OUT_TRADE_NO_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PAY_DATA_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_TRADE_NO_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    LATE_PAYMENT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    app_id: str
    out_trade_no: str
    status: Order.Status
    amount: int
    currency: str
    channel: str
    method: str
    pay_data: _pay_data_pb2.PayData
    channel_trade_no: str
    expire_time: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    paid_at: _timestamp_pb2.Timestamp
    refunded_amount: int
    subject: str
    metadata: _containers.ScalarMap[str, str]
    late_payment: LatePayment
    def __init__(self, order_id: _Optional[str] = ..., app_id: _Optional[str] = ..., out_trade_no: _Optional[str] = ..., status: _Optional[_Union[Order.Status, str]] = ..., amount: _Optional[int] = ..., currency: _Optional[str] = ..., channel: _Optional[str] = ..., method: _Optional[str] = ..., pay_data: _Optional[_Union[_pay_data_pb2.PayData, _Mapping]] = ..., channel_trade_no: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., paid_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., refunded_amount: _Optional[int] = ..., subject: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., late_payment: _Optional[_Union[LatePayment, _Mapping]] = ...) -> None: ...

class LatePayment(_message.Message):
    __slots__ = ("amount", "channel_trade_no", "policy", "refund_id", "paid_at", "order_status")
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_TRADE_NO_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_FIELD_NUMBER: _ClassVar[int]
    ORDER_STATUS_FIELD_NUMBER: _ClassVar[int]
    amount: int
    channel_trade_no: str
    policy: str
    refund_id: str
    paid_at: _timestamp_pb2.Timestamp
    order_status: str
    def __init__(self, amount: _Optional[int] = ..., channel_trade_no: _Optional[str] = ..., policy: _Optional[str] = ..., refund_id: _Optional[str] = ..., paid_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., order_status: _Optional[str] = ...) -> None: ...
