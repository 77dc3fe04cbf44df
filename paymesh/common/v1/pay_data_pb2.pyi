import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PayData(_message.Message):
    __slots__ = ("code_url", "pay_url", "form_html", "app_params", "prepay_id", "expires_at")
    class AppParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CODE_URL_FIELD_NUMBER: _ClassVar[int]
    PAY_URL_FIELD_NUMBER: _ClassVar[int]
    FORM_HTML_FIELD_NUMBER: _ClassVar[int]
    APP_PARAMS_FIELD_NUMBER: _ClassVar[int]
    PREPAY_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    code_url: str
    pay_url: str
    form_html: str
    app_params: _containers.ScalarMap[str, str]
    prepay_id: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, code_url: _Optional[str] = ..., pay_url: _Optional[str] = ..., form_html: _Optional[str] = ..., app_params: _Optional[_Mapping[str, str]] = ..., prepay_id: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
