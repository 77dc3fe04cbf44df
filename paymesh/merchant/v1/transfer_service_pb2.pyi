from google.api import annotations_pb2 as _annotations_pb2
from paymesh.merchant.v1 import transfer_pb2 as _transfer_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateTransferRequest(_message.Message):
    __slots__ = ("app_id", "out_transfer_no", "amount", "currency", "channel", "payee_id", "payee_name", "remark", "notify_url", "metadata", "timestamp", "sign_type", "sign", "nonce")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    OUT_TRANSFER_NO_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PAYEE_ID_FIELD_NUMBER: _ClassVar[int]
    PAYEE_NAME_FIELD_NUMBER: _ClassVar[int]
    REMARK_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_URL_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SIGN_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIGN_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    out_transfer_no: str
    amount: int
    currency: str
    channel: str
    payee_id: str
    payee_name: str
    remark: str
    notify_url: str
    metadata: _containers.ScalarMap[str, str]
    timestamp: int
    sign_type: str
    sign: str
    nonce: str
    def __init__(self, app_id: _Optional[str] = ..., out_transfer_no: _Optional[str] = ..., amount: _Optional[int] = ..., currency: _Optional[str] = ..., channel: _Optional[str] = ..., payee_id: _Optional[str] = ..., payee_name: _Optional[str] = ..., remark: _Optional[str] = ..., notify_url: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., timestamp: _Optional[int] = ..., sign_type: _Optional[str] = ..., sign: _Optional[str] = ..., nonce: _Optional[str] = ...) -> None: ...

class CreateTransferResponse(_message.Message):
    __slots__ = ("transfer",)
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    transfer: _transfer_pb2.Transfer
    def __init__(self, transfer: _Optional[_Union[_transfer_pb2.Transfer, _Mapping]] = ...) -> None: ...

class CancelTransferRequest(_message.Message):
    __slots__ = ("transfer_id", "app_id", "timestamp", "sign_type", "sign", "nonce")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SIGN_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIGN_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    app_id: str
    timestamp: int
    sign_type: str
    sign: str
    nonce: str
    def __init__(self, transfer_id: _Optional[str] = ..., app_id: _Optional[str] = ..., timestamp: _Optional[int] = ..., sign_type: _Optional[str] = ..., sign: _Optional[str] = ..., nonce: _Optional[str] = ...) -> None: ...

class CancelTransferResponse(_message.Message):
    __slots__ = ("transfer",)
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    transfer: _transfer_pb2.Transfer
    def __init__(self, transfer: _Optional[_Union[_transfer_pb2.Transfer, _Mapping]] = ...) -> None: ...
