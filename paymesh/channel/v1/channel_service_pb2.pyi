import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from paymesh.channel.v1 import channel_pb2 as _channel_pb2
from paymesh.common.v1 import pay_data_pb2 as _pay_data_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PayRequest(_message.Message):
    __slots__ = ("account", "method", "order_id", "amount", "currency", "subject", "description", "notify_url", "return_url", "expire_time", "client_ip", "payer_id", "auth_code")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_URL_FIELD_NUMBER: _ClassVar[int]
    RETURN_URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    PAYER_ID_FIELD_NUMBER: _ClassVar[int]
    AUTH_CODE_FIELD_NUMBER: _ClassVar[int]
    account: _channel_pb2.AccountRef
    method: str
    order_id: str
    amount: int
    currency: str
    subject: str
    description: str
    notify_url: str
    return_url: str
    expire_time: _timestamp_pb2.Timestamp
    client_ip: str
    payer_id: str
    auth_code: str
    def __init__(self, account: _Optional[_Union[_channel_pb2.AccountRef, _Mapping]] = ..., method: _Optional[str] = ..., order_id: _Optional[str] = ..., amount: _Optional[int] = ..., currency: _Optional[str] = ..., subject: _Optional[str] = ..., description: _Optional[str] = ..., notify_url: _Optional[str] = ..., return_url: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., client_ip: _Optional[str] = ..., payer_id: _Optional[str] = ..., auth_code: _Optional[str] = ...) -> None: ...

class PayResponse(_message.Message):
    __slots__ = ("pay_data", "trade", "exchanges")
    PAY_DATA_FIELD_NUMBER: _ClassVar[int]
    TRADE_FIELD_NUMBER: _ClassVar[int]
    EXCHANGES_FIELD_NUMBER: _ClassVar[int]
    pay_data: _pay_data_pb2.PayData
    trade: _channel_pb2.TradeResult
    exchanges: _containers.RepeatedCompositeFieldContainer[_channel_pb2.Exchange]
    def __init__(self, pay_data: _Optional[_Union[_pay_data_pb2.PayData, _Mapping]] = ..., trade: _Optional[_Union[_channel_pb2.TradeResult, _Mapping]] = ..., exchanges: _Optional[_Iterable[_Union[_channel_pb2.Exchange, _Mapping]]] = ...) -> None: ...

class QueryRequest(_message.Message):
    __slots__ = ("account", "order_id")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    account: _channel_pb2.AccountRef
    order_id: str
    def __init__(self, account: _Optional[_Union[_channel_pb2.AccountRef, _Mapping]] = ..., order_id: _Optional[str] = ...) -> None: ...

class QueryResponse(_message.Message):
    __slots__ = ("trade", "exchanges")
    TRADE_FIELD_NUMBER: _ClassVar[int]
    EXCHANGES_FIELD_NUMBER: _ClassVar[int]
    trade: _channel_pb2.TradeResult
    exchanges: _containers.RepeatedCompositeFieldContainer[_channel_pb2.Exchange]
    def __init__(self, trade: _Optional[_Union[_channel_pb2.TradeResult, _Mapping]] = ..., exchanges: _Optional[_Iterable[_Union[_channel_pb2.Exchange, _Mapping]]] = ...) -> None: ...

class CloseRequest(_message.Message):
    __slots__ = ("account", "order_id", "method")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    account: _channel_pb2.AccountRef
    order_id: str
    method: str
    def __init__(self, account: _Optional[_Union[_channel_pb2.AccountRef, _Mapping]] = ..., order_id: _Optional[str] = ..., method: _Optional[str] = ...) -> None: ...

class CloseResponse(_message.Message):
    __slots__ = ("exchanges",)
    EXCHANGES_FIELD_NUMBER: _ClassVar[int]
    exchanges: _containers.RepeatedCompositeFieldContainer[_channel_pb2.Exchange]
    def __init__(self, exchanges: _Optional[_Iterable[_Union[_channel_pb2.Exchange, _Mapping]]] = ...) -> None: ...

class RefundRequest(_message.Message):
    __slots__ = ("account", "order_id", "refund_id", "amount", "total_amount", "currency", "reason", "notify_url")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_URL_FIELD_NUMBER: _ClassVar[int]
    account: _channel_pb2.AccountRef
    order_id: str
    refund_id: str
    amount: int
    total_amount: int
    currency: str
    reason: str
    notify_url: str
    def __init__(self, account: _Optional[_Union[_channel_pb2.AccountRef, _Mapping]] = ..., order_id: _Optional[str] = ..., refund_id: _Optional[str] = ..., amount: _Optional[int] = ..., total_amount: _Optional[int] = ..., currency: _Optional[str] = ..., reason: _Optional[str] = ..., notify_url: _Optional[str] = ...) -> None: ...

class RefundResponse(_message.Message):
    __slots__ = ("refund", "exchanges")
    REFUND_FIELD_NUMBER: _ClassVar[int]
    EXCHANGES_FIELD_NUMBER: _ClassVar[int]
    refund: _channel_pb2.RefundResult
    exchanges: _containers.RepeatedCompositeFieldContainer[_channel_pb2.Exchange]
    def __init__(self, refund: _Optional[_Union[_channel_pb2.RefundResult, _Mapping]] = ..., exchanges: _Optional[_Iterable[_Union[_channel_pb2.Exchange, _Mapping]]] = ...) -> None: ...

class QueryRefundRequest(_message.Message):
    __slots__ = ("account", "order_id", "refund_id")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    account: _channel_pb2.AccountRef
    order_id: str
    refund_id: str
    def __init__(self, account: _Optional[_Union[_channel_pb2.AccountRef, _Mapping]] = ..., order_id: _Optional[str] = ..., refund_id: _Optional[str] = ...) -> None: ...

class QueryRefundResponse(_message.Message):
    __slots__ = ("refund", "exchanges")
    REFUND_FIELD_NUMBER: _ClassVar[int]
    EXCHANGES_FIELD_NUMBER: _ClassVar[int]
    refund: _channel_pb2.RefundResult
    exchanges: _containers.RepeatedCompositeFieldContainer[_channel_pb2.Exchange]
    def __init__(self, refund: _Optional[_Union[_channel_pb2.RefundResult, _Mapping]] = ..., exchanges: _Optional[_Iterable[_Union[_channel_pb2.Exchange, _Mapping]]] = ...) -> None: ...

class TransferRequest(_message.Message):
    __slots__ = ("account", "transfer_id", "amount", "currency", "payee_id", "payee_name", "remark", "notify_url")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PAYEE_ID_FIELD_NUMBER: _ClassVar[int]
    PAYEE_NAME_FIELD_NUMBER: _ClassVar[int]
    REMARK_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_URL_FIELD_NUMBER: _ClassVar[int]
    account: _channel_pb2.AccountRef
    transfer_id: str
    amount: int
    currency: str
    payee_id: str
    payee_name: str
    remark: str
    notify_url: str
    def __init__(self, account: _Optional[_Union[_channel_pb2.AccountRef, _Mapping]] = ..., transfer_id: _Optional[str] = ..., amount: _Optional[int] = ..., currency: _Optional[str] = ..., payee_id: _Optional[str] = ..., payee_name: _Optional[str] = ..., remark: _Optional[str] = ..., notify_url: _Optional[str] = ...) -> None: ...

class TransferResponse(_message.Message):
    __slots__ = ("transfer", "exchanges")
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    EXCHANGES_FIELD_NUMBER: _ClassVar[int]
    transfer: _channel_pb2.TransferResult
    exchanges: _containers.RepeatedCompositeFieldContainer[_channel_pb2.Exchange]
    def __init__(self, transfer: _Optional[_Union[_channel_pb2.TransferResult, _Mapping]] = ..., exchanges: _Optional[_Iterable[_Union[_channel_pb2.Exchange, _Mapping]]] = ...) -> None: ...

class QueryTransferRequest(_message.Message):
    __slots__ = ("account", "transfer_id")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    account: _channel_pb2.AccountRef
    transfer_id: str
    def __init__(self, account: _Optional[_Union[_channel_pb2.AccountRef, _Mapping]] = ..., transfer_id: _Optional[str] = ...) -> None: ...

class QueryTransferResponse(_message.Message):
    __slots__ = ("transfer", "exchanges")
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    EXCHANGES_FIELD_NUMBER: _ClassVar[int]
    transfer: _channel_pb2.TransferResult
    exchanges: _containers.RepeatedCompositeFieldContainer[_channel_pb2.Exchange]
    def __init__(self, transfer: _Optional[_Union[_channel_pb2.TransferResult, _Mapping]] = ..., exchanges: _Optional[_Iterable[_Union[_channel_pb2.Exchange, _Mapping]]] = ...) -> None: ...

class CancelTransferRequest(_message.Message):
    __slots__ = ("account", "transfer_id")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    account: _channel_pb2.AccountRef
    transfer_id: str
    def __init__(self, account: _Optional[_Union[_channel_pb2.AccountRef, _Mapping]] = ..., transfer_id: _Optional[str] = ...) -> None: ...

class CancelTransferResponse(_message.Message):
    __slots__ = ("transfer", "exchanges")
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    EXCHANGES_FIELD_NUMBER: _ClassVar[int]
    transfer: _channel_pb2.TransferResult
    exchanges: _containers.RepeatedCompositeFieldContainer[_channel_pb2.Exchange]
    def __init__(self, transfer: _Optional[_Union[_channel_pb2.TransferResult, _Mapping]] = ..., exchanges: _Optional[_Iterable[_Union[_channel_pb2.Exchange, _Mapping]]] = ...) -> None: ...

class ParseNotifyRequest(_message.Message):
    __slots__ = ("account", "http_method", "headers", "body", "content_type", "query")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    HTTP_METHOD_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    account: _channel_pb2.AccountRef
    http_method: str
    headers: _containers.ScalarMap[str, str]
    body: bytes
    content_type: str
    query: str
    def __init__(self, account: _Optional[_Union[_channel_pb2.AccountRef, _Mapping]] = ..., http_method: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., body: _Optional[bytes] = ..., content_type: _Optional[str] = ..., query: _Optional[str] = ...) -> None: ...

class ParseNotifyResponse(_message.Message):
    __slots__ = ("trade", "refund", "transfer", "ack", "nack", "reject_reason", "provider_event_id")
    TRADE_FIELD_NUMBER: _ClassVar[int]
    REFUND_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    NACK_FIELD_NUMBER: _ClassVar[int]
    REJECT_REASON_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    trade: _channel_pb2.TradeResult
    refund: _channel_pb2.RefundResult
    transfer: _channel_pb2.TransferResult
    ack: _channel_pb2.Reply
    nack: _channel_pb2.Reply
    reject_reason: str
    provider_event_id: str
    def __init__(self, trade: _Optional[_Union[_channel_pb2.TradeResult, _Mapping]] = ..., refund: _Optional[_Union[_channel_pb2.RefundResult, _Mapping]] = ..., transfer: _Optional[_Union[_channel_pb2.TransferResult, _Mapping]] = ..., ack: _Optional[_Union[_channel_pb2.Reply, _Mapping]] = ..., nack: _Optional[_Union[_channel_pb2.Reply, _Mapping]] = ..., reject_reason: _Optional[str] = ..., provider_event_id: _Optional[str] = ...) -> None: ...

class DownloadBillRequest(_message.Message):
    __slots__ = ("account", "bill_date")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    BILL_DATE_FIELD_NUMBER: _ClassVar[int]
    account: _channel_pb2.AccountRef
    bill_date: str
    def __init__(self, account: _Optional[_Union[_channel_pb2.AccountRef, _Mapping]] = ..., bill_date: _Optional[str] = ...) -> None: ...

class DownloadBillResponse(_message.Message):
    __slots__ = ("available", "lines", "summary", "exchanges", "fund_flow")
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    EXCHANGES_FIELD_NUMBER: _ClassVar[int]
    FUND_FLOW_FIELD_NUMBER: _ClassVar[int]
    available: bool
    lines: _containers.RepeatedCompositeFieldContainer[_channel_pb2.BillLine]
    summary: _channel_pb2.BillSummary
    exchanges: _containers.RepeatedCompositeFieldContainer[_channel_pb2.Exchange]
    fund_flow: _channel_pb2.FundFlowSummary
    def __init__(self, available: _Optional[bool] = ..., lines: _Optional[_Iterable[_Union[_channel_pb2.BillLine, _Mapping]]] = ..., summary: _Optional[_Union[_channel_pb2.BillSummary, _Mapping]] = ..., exchanges: _Optional[_Iterable[_Union[_channel_pb2.Exchange, _Mapping]]] = ..., fund_flow: _Optional[_Union[_channel_pb2.FundFlowSummary, _Mapping]] = ...) -> None: ...

class IdentifyPayerRequest(_message.Message):
    __slots__ = ("account", "code")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    account: _channel_pb2.AccountRef
    code: str
    def __init__(self, account: _Optional[_Union[_channel_pb2.AccountRef, _Mapping]] = ..., code: _Optional[str] = ...) -> None: ...

class IdentifyPayerResponse(_message.Message):
    __slots__ = ("payer_id", "exchanges")
    PAYER_ID_FIELD_NUMBER: _ClassVar[int]
    EXCHANGES_FIELD_NUMBER: _ClassVar[int]
    payer_id: str
    exchanges: _containers.RepeatedCompositeFieldContainer[_channel_pb2.Exchange]
    def __init__(self, payer_id: _Optional[str] = ..., exchanges: _Optional[_Iterable[_Union[_channel_pb2.Exchange, _Mapping]]] = ...) -> None: ...
