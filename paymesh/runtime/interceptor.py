"""The one server interceptor: PaymeshError -> gRPC status + google.rpc.ErrorInfo."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import grpc
import structlog

from paymesh.errors import Internal, PaymeshError
from paymesh.runtime.dberrors import database_unavailable
from paymesh.runtime.logging import get_logger
from paymesh.runtime.status import to_status
from paymesh.runtime.tracing import trace_id

log = get_logger("paymesh.rpc")

Handler = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]


def _traced(e: PaymeshError) -> PaymeshError:
    """The error with the trace id in its metadata (merchants quote it; operators find the
    trace), when the call is traced."""
    if tid := trace_id():
        e.metadata = {**e.metadata, "trace_id": tid}
    return e


def _wrap(method: str, inner: Handler) -> Handler:
    async def handle(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        started = time.perf_counter()
        structlog.contextvars.bind_contextvars(rpc=method)
        try:
            return await inner(request, context)
        except PaymeshError as e:
            log.info(
                "rpc_error",
                reason=e.reason.value,
                code=e.code.name,
                error=e.message,
                metadata=e.metadata,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
            await context.abort_with_status(to_status(_traced(e)))
        except grpc.aio.AbortError:
            raise
        except Exception as e:
            outage = database_unavailable(e)
            if outage is not None:
                log.warning("database_unavailable", error=type(e).__name__)
                await context.abort_with_status(to_status(_traced(outage)))
            else:
                log.exception("rpc_unhandled")
                await context.abort_with_status(to_status(_traced(Internal("internal error"))))
        finally:
            structlog.contextvars.unbind_contextvars("rpc")

    return handle


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = cast(Handler, handler.unary_unary)
        return grpc.unary_unary_rpc_method_handler(
            _wrap(handler_call_details.method, inner),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
