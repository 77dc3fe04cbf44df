"""The one error tree. Handlers raise these; one interceptor maps them to gRPC.

Each error has a gRPC code, an ErrorInfo reason, a retryable flag and
string metadata (never secrets: messages and metadata reach the merchant).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

import grpc

DOMAIN = "paymesh"


class Reason(StrEnum):
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    TIMESTAMP_EXPIRED = "TIMESTAMP_EXPIRED"
    APP_NOT_FOUND = "APP_NOT_FOUND"
    APP_DISABLED = "APP_DISABLED"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    CHANNEL_NOT_ENABLED = "CHANNEL_NOT_ENABLED"
    DUPLICATE_OUT_TRADE_NO = "DUPLICATE_OUT_TRADE_NO"
    DUPLICATE_OUT_REFUND_NO = "DUPLICATE_OUT_REFUND_NO"
    DUPLICATE_OUT_TRANSFER_NO = "DUPLICATE_OUT_TRANSFER_NO"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    REFUND_NOT_FOUND = "REFUND_NOT_FOUND"
    TRANSFER_NOT_FOUND = "TRANSFER_NOT_FOUND"
    EVENT_NOT_FOUND = "EVENT_NOT_FOUND"
    ORDER_NOT_PAYABLE = "ORDER_NOT_PAYABLE"
    ORDER_NOT_REFUNDABLE = "ORDER_NOT_REFUNDABLE"
    REFUND_EXCEEDS_PAID = "REFUND_EXCEEDS_PAID"
    TRANSFER_NOT_CANCELLABLE = "TRANSFER_NOT_CANCELLABLE"
    CHANNEL_ERROR = "CHANNEL_ERROR"
    CHANNEL_UNAVAILABLE = "CHANNEL_UNAVAILABLE"
    CONFIG_INVALID = "CONFIG_INVALID"
    CONFIG_CONFLICT = "CONFIG_CONFLICT"
    CONFIG_NOT_FOUND = "CONFIG_NOT_FOUND"
    BILL_INVALID = "BILL_INVALID"
    RECON_MISMATCH_NOT_FOUND = "RECON_MISMATCH_NOT_FOUND"
    DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
    WORKER_ID_UNAVAILABLE = "WORKER_ID_UNAVAILABLE"
    INTERNAL = "INTERNAL"


class PaymeshError(Exception):
    """Root of every error paymesh raises on purpose."""

    code: ClassVar[grpc.StatusCode] = grpc.StatusCode.INTERNAL
    reason: ClassVar[Reason] = Reason.INTERNAL
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.metadata: dict[str, str] = dict(metadata or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, reason={self.reason.value})"


class InvalidArgument(PaymeshError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = Reason.INVALID_ARGUMENT

    def __init__(self, message: str, *, field: str = "", metadata: dict[str, str] | None = None):
        md = dict(metadata or {})
        if field:
            md["field"] = field
        super().__init__(message, metadata=md)


class SignatureInvalid(PaymeshError):
    code = grpc.StatusCode.UNAUTHENTICATED
    reason = Reason.SIGNATURE_INVALID


class TimestampExpired(PaymeshError):
    code = grpc.StatusCode.UNAUTHENTICATED
    reason = Reason.TIMESTAMP_EXPIRED


class AppNotFound(PaymeshError):
    code = grpc.StatusCode.NOT_FOUND
    reason = Reason.APP_NOT_FOUND


class AppDisabled(PaymeshError):
    code = grpc.StatusCode.PERMISSION_DENIED
    reason = Reason.APP_DISABLED


class ChannelNotEnabled(PaymeshError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = Reason.CHANNEL_NOT_ENABLED


class OperationNotOffered(ChannelNotEnabled):
    """The provider does not offer this operation at all (e.g. transfers on UnionPay
    online payment): UNIMPLEMENTED from the channel service, CHANNEL_NOT_ENABLED to callers."""

    code = grpc.StatusCode.UNIMPLEMENTED


class DuplicateOutTradeNo(PaymeshError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = Reason.DUPLICATE_OUT_TRADE_NO


class DuplicateOutRefundNo(PaymeshError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = Reason.DUPLICATE_OUT_REFUND_NO


class DuplicateOutTransferNo(PaymeshError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = Reason.DUPLICATE_OUT_TRANSFER_NO


class OrderNotFound(PaymeshError):
    code = grpc.StatusCode.NOT_FOUND
    reason = Reason.ORDER_NOT_FOUND


class RefundNotFound(PaymeshError):
    code = grpc.StatusCode.NOT_FOUND
    reason = Reason.REFUND_NOT_FOUND


class TransferNotFound(PaymeshError):
    code = grpc.StatusCode.NOT_FOUND
    reason = Reason.TRANSFER_NOT_FOUND


class EventNotFound(PaymeshError):
    """No notification event with that id (operator re-send)."""

    code = grpc.StatusCode.NOT_FOUND
    reason = Reason.EVENT_NOT_FOUND


class OrderNotPayable(PaymeshError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = Reason.ORDER_NOT_PAYABLE


class TransferNotCancellable(PaymeshError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = Reason.TRANSFER_NOT_CANCELLABLE


class OrderNotRefundable(PaymeshError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = Reason.ORDER_NOT_REFUNDABLE


class RefundExceedsPaid(PaymeshError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = Reason.REFUND_EXCEEDS_PAID


class ChannelError(PaymeshError):
    """The provider answered and said no. Carries its code and message."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = Reason.CHANNEL_ERROR

    def __init__(
        self,
        message: str,
        *,
        provider_code: str = "",
        provider_message: str = "",
        metadata: dict[str, str] | None = None,
    ) -> None:
        md = dict(metadata or {})
        if provider_code:
            md["provider_code"] = provider_code
        if provider_message:
            md["provider_message"] = provider_message
        super().__init__(message, metadata=md)


class ChannelUnavailable(PaymeshError):
    """Timeout, connection failure or 5xx: the outcome is unknown, never terminal."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = Reason.CHANNEL_UNAVAILABLE
    retryable = True


class ConfigInvalid(PaymeshError):
    """A config document does not validate. `field_errors` maps a field path (dotted; ""
    for the whole document) to its problem, for forms that show errors beside the field."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = Reason.CONFIG_INVALID

    def __init__(
        self,
        message: str,
        *,
        metadata: dict[str, str] | None = None,
        field_errors: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, metadata=metadata)
        self.field_errors: dict[str, str] = dict(field_errors or {})


class ConfigConflict(PaymeshError):
    """A compare-and-swap lost: somebody else changed the key first."""

    code = grpc.StatusCode.ABORTED
    reason = Reason.CONFIG_CONFLICT
    retryable = True


class ConfigNotFound(PaymeshError):
    code = grpc.StatusCode.NOT_FOUND
    reason = Reason.CONFIG_NOT_FOUND


class BillInvalid(PaymeshError):
    """A provider bill that cannot be trusted: malformed, truncated, or not matching its
    hash or its own summary. Nothing of it is imported; downloading again may help."""

    code = grpc.StatusCode.DATA_LOSS
    reason = Reason.BILL_INVALID
    retryable = True


class MismatchNotFound(PaymeshError):
    code = grpc.StatusCode.NOT_FOUND
    reason = Reason.RECON_MISMATCH_NOT_FOUND


class DatabaseUnavailable(PaymeshError):
    """The database cannot be reached, lost the connection or timed out on a lock: retry."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = Reason.DATABASE_UNAVAILABLE
    retryable = True


class WorkerIdUnavailable(PaymeshError):
    """No id can be issued now: the worker-id lease is being re-acquired, or the clock is
    far behind the last issued id. Nothing was written: retry."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = Reason.WORKER_ID_UNAVAILABLE
    retryable = True


class Internal(PaymeshError):
    code = grpc.StatusCode.INTERNAL
    reason = Reason.INTERNAL


_BY_REASON: dict[str, type[PaymeshError]] = {}


def _index(cls: type[PaymeshError]) -> None:
    for sub in cls.__subclasses__():
        _BY_REASON.setdefault(sub.reason.value, sub)
        _index(sub)


_index(PaymeshError)


def error_for_reason(reason: str) -> type[PaymeshError]:
    """The error class for a wire reason (Internal when unknown)."""
    return _BY_REASON.get(reason, Internal)
