"""PaymeshError <-> gRPC status with google.rpc.ErrorInfo (domain "paymesh")."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from paymesh.errors import DOMAIN, Internal, PaymeshError, error_for_reason


def to_status(err: PaymeshError) -> grpc.Status:
    info = error_details_pb2.ErrorInfo(
        reason=err.reason.value, domain=DOMAIN, metadata=err.metadata
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    proto = status_pb2.Status(code=err.code.value[0], message=err.message, details=[detail])
    status: grpc.Status = rpc_status.to_status(proto)
    return status


def error_info(e: grpc.aio.AioRpcError | grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo carried by an RPC error, if any."""
    status = rpc_status.from_call(e)
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None


def from_rpc_error(e: grpc.aio.AioRpcError) -> PaymeshError:
    """Rebuild the PaymeshError a paymesh service raised, for callers of our own RPCs."""
    info = error_info(e)
    if info is None or info.domain != DOMAIN:
        return Internal(f"{e.code().name}: {e.details()}")
    cls = error_for_reason(info.reason)
    err = cls.__new__(cls)
    PaymeshError.__init__(err, e.details() or "", metadata=dict(info.metadata))
    return err
