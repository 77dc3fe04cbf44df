import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReconciliationRun(_message.Message):
    __slots__ = ("run_id", "channel", "account_id", "bill_date", "status", "attempts", "error", "provider_lines", "payment_count", "payment_amount", "refund_count", "refund_amount", "fee_amount", "matched_count", "mismatch_count", "open_count", "started_at", "finished_at", "fund_flow", "fund_flow_lines", "fund_income_count", "fund_income_amount", "fund_expense_count", "fund_expense_amount")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    BILL_DATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_LINES_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REFUND_COUNT_FIELD_NUMBER: _ClassVar[int]
    REFUND_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FEE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    MATCHED_COUNT_FIELD_NUMBER: _ClassVar[int]
    MISMATCH_COUNT_FIELD_NUMBER: _ClassVar[int]
    OPEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    FUND_FLOW_FIELD_NUMBER: _ClassVar[int]
    FUND_FLOW_LINES_FIELD_NUMBER: _ClassVar[int]
    FUND_INCOME_COUNT_FIELD_NUMBER: _ClassVar[int]
    FUND_INCOME_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FUND_EXPENSE_COUNT_FIELD_NUMBER: _ClassVar[int]
    FUND_EXPENSE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    channel: str
    account_id: str
    bill_date: str
    status: str
    attempts: int
    error: str
    provider_lines: int
    payment_count: int
    payment_amount: int
    refund_count: int
    refund_amount: int
    fee_amount: int
    matched_count: int
    mismatch_count: int
    open_count: int
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    fund_flow: bool
    fund_flow_lines: int
    fund_income_count: int
    fund_income_amount: int
    fund_expense_count: int
    fund_expense_amount: int
    def __init__(self, run_id: _Optional[str] = ..., channel: _Optional[str] = ..., account_id: _Optional[str] = ..., bill_date: _Optional[str] = ..., status: _Optional[str] = ..., attempts: _Optional[int] = ..., error: _Optional[str] = ..., provider_lines: _Optional[int] = ..., payment_count: _Optional[int] = ..., payment_amount: _Optional[int] = ..., refund_count: _Optional[int] = ..., refund_amount: _Optional[int] = ..., fee_amount: _Optional[int] = ..., matched_count: _Optional[int] = ..., mismatch_count: _Optional[int] = ..., open_count: _Optional[int] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., fund_flow: _Optional[bool] = ..., fund_flow_lines: _Optional[int] = ..., fund_income_count: _Optional[int] = ..., fund_income_amount: _Optional[int] = ..., fund_expense_count: _Optional[int] = ..., fund_expense_amount: _Optional[int] = ...) -> None: ...

class MismatchAction(_message.Message):
    __slots__ = ("action", "actor", "note", "outcome", "created_at")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    action: str
    actor: str
    note: str
    outcome: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, action: _Optional[str] = ..., actor: _Optional[str] = ..., note: _Optional[str] = ..., outcome: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Mismatch(_message.Message):
    __slots__ = ("mismatch_id", "run_id", "kind", "object_kind", "object_id", "order_id", "app_id", "ours_amount", "provider_amount", "ours_state", "provider_state", "channel_trade_no", "detail", "status", "resolution", "note", "resolved_by", "resolved_at", "actions")
    MISMATCH_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OBJECT_KIND_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    OURS_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    OURS_STATE_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_STATE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_TRADE_NO_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_BY_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    mismatch_id: str
    run_id: str
    kind: str
    object_kind: str
    object_id: str
    order_id: str
    app_id: str
    ours_amount: int
    provider_amount: int
    ours_state: str
    provider_state: str
    channel_trade_no: str
    detail: str
    status: str
    resolution: str
    note: str
    resolved_by: str
    resolved_at: _timestamp_pb2.Timestamp
    actions: _containers.RepeatedCompositeFieldContainer[MismatchAction]
    def __init__(self, mismatch_id: _Optional[str] = ..., run_id: _Optional[str] = ..., kind: _Optional[str] = ..., object_kind: _Optional[str] = ..., object_id: _Optional[str] = ..., order_id: _Optional[str] = ..., app_id: _Optional[str] = ..., ours_amount: _Optional[int] = ..., provider_amount: _Optional[int] = ..., ours_state: _Optional[str] = ..., provider_state: _Optional[str] = ..., channel_trade_no: _Optional[str] = ..., detail: _Optional[str] = ..., status: _Optional[str] = ..., resolution: _Optional[str] = ..., note: _Optional[str] = ..., resolved_by: _Optional[str] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actions: _Optional[_Iterable[_Union[MismatchAction, _Mapping]]] = ...) -> None: ...

class SettlementSummary(_message.Message):
    __slots__ = ("bill_date", "app_id", "channel", "payment_count", "payment_amount", "refund_count", "refund_amount", "fee_amount", "net_amount")
    BILL_DATE_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REFUND_COUNT_FIELD_NUMBER: _ClassVar[int]
    REFUND_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FEE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    NET_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    bill_date: str
    app_id: str
    channel: str
    payment_count: int
    payment_amount: int
    refund_count: int
    refund_amount: int
    fee_amount: int
    net_amount: int
    def __init__(self, bill_date: _Optional[str] = ..., app_id: _Optional[str] = ..., channel: _Optional[str] = ..., payment_count: _Optional[int] = ..., payment_amount: _Optional[int] = ..., refund_count: _Optional[int] = ..., refund_amount: _Optional[int] = ..., fee_amount: _Optional[int] = ..., net_amount: _Optional[int] = ...) -> None: ...
