"""The error interceptor over a real grpc.aio server: PaymeshError -> status + ErrorInfo."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.api import httpbody_pb2
from sqlalchemy import exc as sa_exc

from paymesh import errors
from paymesh.merchant.v1 import info_service_pb2 as pb
from paymesh.merchant.v1 import info_service_pb2_grpc as pb_grpc
from paymesh.runtime.interceptor import ErrorInterceptor
from paymesh.runtime.status import error_info, from_rpc_error


class Raising(pb_grpc.InfoServiceServicer):
    def __init__(self) -> None:
        self.next: BaseException | None = None

    async def GetVersion(
        self, request: pb.GetVersionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetVersionResponse:
        if self.next is not None:
            raise self.next
        return pb.GetVersionResponse(version="ok")

    async def GetOpenApi(
        self, request: pb.GetOpenApiRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> httpbody_pb2.HttpBody:
        return httpbody_pb2.HttpBody()


@pytest.fixture
async def served() -> AsyncIterator[tuple[Raising, pb_grpc.InfoServiceAsyncStub]]:
    server = grpc.aio.server(interceptors=[ErrorInterceptor()])
    servicer = Raising()
    pb_grpc.add_InfoServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield servicer, pb_grpc.InfoServiceStub(channel)
    await server.stop(0)


CASES = [
    (
        errors.InvalidArgument("amount must be > 0", field="amount"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        {"field": "amount"},
    ),
    (errors.SignatureInvalid("bad sign"), grpc.StatusCode.UNAUTHENTICATED, "SIGNATURE_INVALID", {}),
    (errors.TimestampExpired("old"), grpc.StatusCode.UNAUTHENTICATED, "TIMESTAMP_EXPIRED", {}),
    (errors.AppNotFound("no app"), grpc.StatusCode.NOT_FOUND, "APP_NOT_FOUND", {}),
    (errors.AppDisabled("off"), grpc.StatusCode.PERMISSION_DENIED, "APP_DISABLED", {}),
    (
        errors.DuplicateOutTradeNo("dup"),
        grpc.StatusCode.ALREADY_EXISTS,
        "DUPLICATE_OUT_TRADE_NO",
        {},
    ),
    (
        errors.RefundExceedsPaid("too much"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "REFUND_EXCEEDS_PAID",
        {},
    ),
    (
        errors.ChannelError(
            "provider refused", provider_code="ORDERPAID", provider_message="已支付"
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "CHANNEL_ERROR",
        {"provider_code": "ORDERPAID", "provider_message": "已支付"},
    ),
    (errors.ChannelUnavailable("timeout"), grpc.StatusCode.UNAVAILABLE, "CHANNEL_UNAVAILABLE", {}),
    (
        errors.DatabaseUnavailable("retry"),
        grpc.StatusCode.UNAVAILABLE,
        "DATABASE_UNAVAILABLE",
        {},
    ),
]


@pytest.mark.parametrize(("err", "code", "reason", "metadata"), CASES)
async def test_paymesh_errors_become_status_with_error_info(
    served: tuple[Raising, pb_grpc.InfoServiceAsyncStub],
    err: errors.PaymeshError,
    code: grpc.StatusCode,
    reason: str,
    metadata: dict[str, str],
) -> None:
    servicer, stub = served
    servicer.next = err
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await stub.GetVersion(pb.GetVersionRequest())
    assert exc.value.code() == code
    assert exc.value.details() == err.message
    info = error_info(exc.value)
    assert info is not None
    assert info.domain == "paymesh"
    assert info.reason == reason
    assert dict(info.metadata) == metadata
    rebuilt = from_rpc_error(exc.value)
    assert type(rebuilt) is type(err)
    assert rebuilt.metadata == metadata


async def test_unexpected_exception_is_internal_without_leaking_text(
    served: tuple[Raising, pb_grpc.InfoServiceAsyncStub],
) -> None:
    servicer, stub = served
    servicer.next = RuntimeError("secret=hunter2 exploded")
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await stub.GetVersion(pb.GetVersionRequest())
    assert exc.value.code() == grpc.StatusCode.INTERNAL
    assert "hunter2" not in (exc.value.details() or "")
    info = error_info(exc.value)
    assert info is not None
    assert info.reason == "INTERNAL"


async def test_success_passes_through(served: tuple[Raising, pb_grpc.InfoServiceAsyncStub]) -> None:
    _, stub = served
    assert (await stub.GetVersion(pb.GetVersionRequest())).version == "ok"


def test_every_reason_has_one_error_class() -> None:
    reasons = {cls.reason for cls in errors._BY_REASON.values()}
    assert reasons == set(errors.Reason)


def _wrapped(orig: BaseException, cls: type[sa_exc.DBAPIError]) -> sa_exc.DBAPIError:
    return cls("INSERT INTO pay_orders ...", {}, orig)


@pytest.mark.parametrize(
    ("err", "code", "reason"),
    [
        # aiomysql/pymysql codes: 2003 connect refused, 2013 lost connection, 1205 lock wait.
        (_wrapped(Exception(2003, "Can't connect"), sa_exc.OperationalError), "UNAVAILABLE", "DATABASE_UNAVAILABLE"),
        (_wrapped(Exception(2013, "Lost connection"), sa_exc.OperationalError), "UNAVAILABLE", "DATABASE_UNAVAILABLE"),
        (_wrapped(Exception(1205, "Lock wait timeout"), sa_exc.OperationalError), "UNAVAILABLE", "DATABASE_UNAVAILABLE"),
        (_wrapped(Exception(0, "closed"), sa_exc.InterfaceError), "UNAVAILABLE", "DATABASE_UNAVAILABLE"),
        (sa_exc.TimeoutError("QueuePool limit reached"), "UNAVAILABLE", "DATABASE_UNAVAILABLE"),
        # Bugs stay INTERNAL: data too long, a constraint nobody expected.
        (_wrapped(Exception(1406, "Data too long"), sa_exc.DataError), "INTERNAL", "INTERNAL"),
        (_wrapped(Exception(1062, "Duplicate"), sa_exc.IntegrityError), "INTERNAL", "INTERNAL"),
    ],
)  # fmt: skip
async def test_database_outages_are_unavailable_and_bugs_internal(
    served: tuple[Raising, pb_grpc.InfoServiceAsyncStub],
    err: BaseException,
    code: str,
    reason: str,
) -> None:
    servicer, stub = served
    servicer.next = err
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await stub.GetVersion(pb.GetVersionRequest())
    assert exc.value.code().name == code
    assert "INSERT" not in (exc.value.details() or "")
    info = error_info(exc.value)
    assert info is not None
    assert info.reason == reason
