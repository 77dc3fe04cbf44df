import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TradeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRADE_STATE_UNSPECIFIED: _ClassVar[TradeState]
    TRADE_STATE_PENDING: _ClassVar[TradeState]
    TRADE_STATE_PAID: _ClassVar[TradeState]
    TRADE_STATE_CLOSED: _ClassVar[TradeState]
    TRADE_STATE_FAILED: _ClassVar[TradeState]

class ResultState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESULT_STATE_UNSPECIFIED: _ClassVar[ResultState]
    RESULT_STATE_PENDING: _ClassVar[ResultState]
    RESULT_STATE_SUCCEEDED: _ClassVar[ResultState]
    RESULT_STATE_FAILED: _ClassVar[ResultState]

class BillLineKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BILL_LINE_KIND_UNSPECIFIED: _ClassVar[BillLineKind]
    BILL_LINE_KIND_PAYMENT: _ClassVar[BillLineKind]
    BILL_LINE_KIND_REFUND: _ClassVar[BillLineKind]
TRADE_STATE_UNSPECIFIED: TradeState
TRADE_STATE_PENDING: TradeState
TRADE_STATE_PAID: TradeState
TRADE_STATE_CLOSED: TradeState
TRADE_STATE_FAILED: TradeState
RESULT_STATE_UNSPECIFIED: ResultState
RESULT_STATE_PENDING: ResultState
RESULT_STATE_SUCCEEDED: ResultState
RESULT_STATE_FAILED: ResultState
BILL_LINE_KIND_UNSPECIFIED: BillLineKind
BILL_LINE_KIND_PAYMENT: BillLineKind
BILL_LINE_KIND_REFUND: BillLineKind

class AccountRef(_message.Message):
    __slots__ = ("channel", "account_id")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    channel: str
    account_id: str
    def __init__(self, channel: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class Exchange(_message.Message):
    __slots__ = ("http_method", "url", "http_status", "request_body", "response_body", "latency_ms", "error")
    HTTP_METHOD_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_BODY_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_BODY_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    http_method: str
    url: str
    http_status: int
    request_body: str
    response_body: str
    latency_ms: int
    error: str
    def __init__(self, http_method: _Optional[str] = ..., url: _Optional[str] = ..., http_status: _Optional[int] = ..., request_body: _Optional[str] = ..., response_body: _Optional[str] = ..., latency_ms: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class TradeResult(_message.Message):
    __slots__ = ("state", "order_id", "channel_trade_no", "amount", "currency", "paid_at", "payer_id", "provider_state")
    STATE_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_TRADE_NO_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_FIELD_NUMBER: _ClassVar[int]
    PAYER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_STATE_FIELD_NUMBER: _ClassVar[int]
    state: TradeState
    order_id: str
    channel_trade_no: str
    amount: int
    currency: str
    paid_at: _timestamp_pb2.Timestamp
    payer_id: str
    provider_state: str
    def __init__(self, state: _Optional[_Union[TradeState, str]] = ..., order_id: _Optional[str] = ..., channel_trade_no: _Optional[str] = ..., amount: _Optional[int] = ..., currency: _Optional[str] = ..., paid_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., payer_id: _Optional[str] = ..., provider_state: _Optional[str] = ...) -> None: ...

class RefundResult(_message.Message):
    __slots__ = ("state", "refund_id", "order_id", "channel_refund_no", "amount", "succeeded_at", "provider_state", "not_found")
    STATE_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_REFUND_NO_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_AT_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_STATE_FIELD_NUMBER: _ClassVar[int]
    NOT_FOUND_FIELD_NUMBER: _ClassVar[int]
    state: ResultState
    refund_id: str
    order_id: str
    channel_refund_no: str
    amount: int
    succeeded_at: _timestamp_pb2.Timestamp
    provider_state: str
    not_found: bool
    def __init__(self, state: _Optional[_Union[ResultState, str]] = ..., refund_id: _Optional[str] = ..., order_id: _Optional[str] = ..., channel_refund_no: _Optional[str] = ..., amount: _Optional[int] = ..., succeeded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., provider_state: _Optional[str] = ..., not_found: _Optional[bool] = ...) -> None: ...

class TransferResult(_message.Message):
    __slots__ = ("state", "transfer_id", "channel_transfer_no", "amount", "succeeded_at", "fail_reason", "provider_state", "confirm_params", "not_found")
    class ConfirmParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STATE_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_TRANSFER_NO_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_AT_FIELD_NUMBER: _ClassVar[int]
    FAIL_REASON_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_STATE_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_PARAMS_FIELD_NUMBER: _ClassVar[int]
    NOT_FOUND_FIELD_NUMBER: _ClassVar[int]
    state: ResultState
    transfer_id: str
    channel_transfer_no: str
    amount: int
    succeeded_at: _timestamp_pb2.Timestamp
    fail_reason: str
    provider_state: str
    confirm_params: _containers.ScalarMap[str, str]
    not_found: bool
    def __init__(self, state: _Optional[_Union[ResultState, str]] = ..., transfer_id: _Optional[str] = ..., channel_transfer_no: _Optional[str] = ..., amount: _Optional[int] = ..., succeeded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., fail_reason: _Optional[str] = ..., provider_state: _Optional[str] = ..., confirm_params: _Optional[_Mapping[str, str]] = ..., not_found: _Optional[bool] = ...) -> None: ...

class Reply(_message.Message):
    __slots__ = ("http_status", "content_type", "body")
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    http_status: int
    content_type: str
    body: bytes
    def __init__(self, http_status: _Optional[int] = ..., content_type: _Optional[str] = ..., body: _Optional[bytes] = ...) -> None: ...

class BillLine(_message.Message):
    __slots__ = ("kind", "order_id", "refund_id", "channel_trade_no", "channel_refund_no", "amount", "fee", "provider_state", "booked_at", "currency", "trade_state", "result_state")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_TRADE_NO_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_REFUND_NO_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_STATE_FIELD_NUMBER: _ClassVar[int]
    BOOKED_AT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    TRADE_STATE_FIELD_NUMBER: _ClassVar[int]
    RESULT_STATE_FIELD_NUMBER: _ClassVar[int]
    kind: BillLineKind
    order_id: str
    refund_id: str
    channel_trade_no: str
    channel_refund_no: str
    amount: int
    fee: int
    provider_state: str
    booked_at: _timestamp_pb2.Timestamp
    currency: str
    trade_state: TradeState
    result_state: ResultState
    def __init__(self, kind: _Optional[_Union[BillLineKind, str]] = ..., order_id: _Optional[str] = ..., refund_id: _Optional[str] = ..., channel_trade_no: _Optional[str] = ..., channel_refund_no: _Optional[str] = ..., amount: _Optional[int] = ..., fee: _Optional[int] = ..., provider_state: _Optional[str] = ..., booked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., currency: _Optional[str] = ..., trade_state: _Optional[_Union[TradeState, str]] = ..., result_state: _Optional[_Union[ResultState, str]] = ...) -> None: ...

class BillSummary(_message.Message):
    __slots__ = ("line_count", "payment_count", "refund_count", "payment_amount", "refund_amount", "fee_amount")
    LINE_COUNT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    REFUND_COUNT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REFUND_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FEE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    line_count: int
    payment_count: int
    refund_count: int
    payment_amount: int
    refund_amount: int
    fee_amount: int
    def __init__(self, line_count: _Optional[int] = ..., payment_count: _Optional[int] = ..., refund_count: _Optional[int] = ..., payment_amount: _Optional[int] = ..., refund_amount: _Optional[int] = ..., fee_amount: _Optional[int] = ...) -> None: ...

class FundFlowSummary(_message.Message):
    __slots__ = ("available", "entry_count", "income_count", "income_amount", "expense_count", "expense_amount", "payment_amount", "refund_amount", "fee_amount", "other_amount")
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    ENTRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    INCOME_COUNT_FIELD_NUMBER: _ClassVar[int]
    INCOME_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    EXPENSE_COUNT_FIELD_NUMBER: _ClassVar[int]
    EXPENSE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REFUND_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FEE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    OTHER_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    available: bool
    entry_count: int
    income_count: int
    income_amount: int
    expense_count: int
    expense_amount: int
    payment_amount: int
    refund_amount: int
    fee_amount: int
    other_amount: int
    def __init__(self, available: _Optional[bool] = ..., entry_count: _Optional[int] = ..., income_count: _Optional[int] = ..., income_amount: _Optional[int] = ..., expense_count: _Optional[int] = ..., expense_amount: _Optional[int] = ..., payment_amount: _Optional[int] = ..., refund_amount: _Optional[int] = ..., fee_amount: _Optional[int] = ..., other_amount: _Optional[int] = ...) -> None: ...
