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

class Transfer(_message.Message):
    __slots__ = ("transfer_id", "app_id", "out_transfer_no", "status", "amount", "currency", "channel", "payee_id", "payee_name", "remark", "channel_transfer_no", "fail_reason", "created_at", "succeeded_at", "metadata", "channel_state", "pay_data")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[Transfer.Status]
        PENDING: _ClassVar[Transfer.Status]
        SUCCEEDED: _ClassVar[Transfer.Status]
        FAILED: _ClassVar[Transfer.Status]
    STATUS_UNSPECIFIED: Transfer.Status
    PENDING: Transfer.Status
    SUCCEEDED: Transfer.Status
    FAILED: Transfer.Status
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    OUT_TRANSFER_NO_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PAYEE_ID_FIELD_NUMBER: _ClassVar[int]
    PAYEE_NAME_FIELD_NUMBER: _ClassVar[int]
    REMARK_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_TRANSFER_NO_FIELD_NUMBER: _ClassVar[int]
    FAIL_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_AT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_STATE_FIELD_NUMBER: _ClassVar[int]
    PAY_DATA_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    app_id: str
    out_transfer_no: str
    status: Transfer.Status
    amount: int
    currency: str
    channel: str
    payee_id: str
    payee_name: str
    remark: str
    channel_transfer_no: str
    fail_reason: str
    created_at: _timestamp_pb2.Timestamp
    succeeded_at: _timestamp_pb2.Timestamp
    metadata: _containers.ScalarMap[str, str]
    channel_state: str
    pay_data: _pay_data_pb2.PayData
    def __init__(self, transfer_id: _Optional[str] = ..., app_id: _Optional[str] = ..., out_transfer_no: _Optional[str] = ..., status: _Optional[_Union[Transfer.Status, str]] = ..., amount: _Optional[int] = ..., currency: _Optional[str] = ..., channel: _Optional[str] = ..., payee_id: _Optional[str] = ..., payee_name: _Optional[str] = ..., remark: _Optional[str] = ..., channel_transfer_no: _Optional[str] = ..., fail_reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., succeeded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., channel_state: _Optional[str] = ..., pay_data: _Optional[_Union[_pay_data_pb2.PayData, _Mapping]] = ...) -> None: ...
