from paymesh.ops.v1 import reconciliation_pb2 as _reconciliation_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResolveAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESOLVE_ACTION_UNSPECIFIED: _ClassVar[ResolveAction]
    RESOLVE_ACTION_ACCEPT: _ClassVar[ResolveAction]
    RESOLVE_ACTION_REPAIR: _ClassVar[ResolveAction]
RESOLVE_ACTION_UNSPECIFIED: ResolveAction
RESOLVE_ACTION_ACCEPT: ResolveAction
RESOLVE_ACTION_REPAIR: ResolveAction

class RunReconciliationRequest(_message.Message):
    __slots__ = ("channel", "account_id", "bill_date")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    BILL_DATE_FIELD_NUMBER: _ClassVar[int]
    channel: str
    account_id: str
    bill_date: str
    def __init__(self, channel: _Optional[str] = ..., account_id: _Optional[str] = ..., bill_date: _Optional[str] = ...) -> None: ...

class RunReconciliationResponse(_message.Message):
    __slots__ = ("run", "mismatches")
    RUN_FIELD_NUMBER: _ClassVar[int]
    MISMATCHES_FIELD_NUMBER: _ClassVar[int]
    run: _reconciliation_pb2.ReconciliationRun
    mismatches: _containers.RepeatedCompositeFieldContainer[_reconciliation_pb2.Mismatch]
    def __init__(self, run: _Optional[_Union[_reconciliation_pb2.ReconciliationRun, _Mapping]] = ..., mismatches: _Optional[_Iterable[_Union[_reconciliation_pb2.Mismatch, _Mapping]]] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("bill_date", "account_id")
    BILL_DATE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    bill_date: str
    account_id: str
    def __init__(self, bill_date: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[_reconciliation_pb2.ReconciliationRun]
    def __init__(self, runs: _Optional[_Iterable[_Union[_reconciliation_pb2.ReconciliationRun, _Mapping]]] = ...) -> None: ...

class ListMismatchesRequest(_message.Message):
    __slots__ = ("run_id", "bill_date", "status")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    BILL_DATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    bill_date: str
    status: str
    def __init__(self, run_id: _Optional[str] = ..., bill_date: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class ListMismatchesResponse(_message.Message):
    __slots__ = ("mismatches",)
    MISMATCHES_FIELD_NUMBER: _ClassVar[int]
    mismatches: _containers.RepeatedCompositeFieldContainer[_reconciliation_pb2.Mismatch]
    def __init__(self, mismatches: _Optional[_Iterable[_Union[_reconciliation_pb2.Mismatch, _Mapping]]] = ...) -> None: ...

class ResolveMismatchRequest(_message.Message):
    __slots__ = ("mismatch_id", "action", "note", "actor")
    MISMATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    mismatch_id: str
    action: ResolveAction
    note: str
    actor: str
    def __init__(self, mismatch_id: _Optional[str] = ..., action: _Optional[_Union[ResolveAction, str]] = ..., note: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class ResolveMismatchResponse(_message.Message):
    __slots__ = ("mismatch",)
    MISMATCH_FIELD_NUMBER: _ClassVar[int]
    mismatch: _reconciliation_pb2.Mismatch
    def __init__(self, mismatch: _Optional[_Union[_reconciliation_pb2.Mismatch, _Mapping]] = ...) -> None: ...

class GetSettlementSummaryRequest(_message.Message):
    __slots__ = ("bill_date",)
    BILL_DATE_FIELD_NUMBER: _ClassVar[int]
    bill_date: str
    def __init__(self, bill_date: _Optional[str] = ...) -> None: ...

class GetSettlementSummaryResponse(_message.Message):
    __slots__ = ("summaries", "csv")
    SUMMARIES_FIELD_NUMBER: _ClassVar[int]
    CSV_FIELD_NUMBER: _ClassVar[int]
    summaries: _containers.RepeatedCompositeFieldContainer[_reconciliation_pb2.SettlementSummary]
    csv: str
    def __init__(self, summaries: _Optional[_Iterable[_Union[_reconciliation_pb2.SettlementSummary, _Mapping]]] = ..., csv: _Optional[str] = ...) -> None: ...
