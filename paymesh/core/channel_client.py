"""Calls to channel services from the gateways, callback gateway and monitor.

A definitive answer (the provider said no; the request was refused before reaching the
provider) passes through; anything unclear becomes CHANNEL_UNAVAILABLE, so no caller ever
turns an unknown outcome into a terminal state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import grpc

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channel.v1 import channel_service_pb2_grpc as svc_grpc
from paymesh.core.db.audit import ChannelCall
from paymesh.core.db.store import Store
from paymesh.errors import (
    ChannelError,
    ChannelNotEnabled,
    ChannelUnavailable,
    ConfigNotFound,
    InvalidArgument,
    PaymeshError,
    error_for_reason,
)
from paymesh.runtime.context import ServiceContext
from paymesh.runtime.logging import get_logger
from paymesh.runtime.status import error_info, from_rpc_error

log = get_logger("paymesh.channel_client")
CHANNEL_SERVICE = svc.DESCRIPTOR.services_by_name["ChannelService"].full_name

# Errors after which the provider certainly did not act on the request.
DEFINITIVE: tuple[type[PaymeshError], ...] = (
    ChannelError,
    ChannelNotEnabled,
    InvalidArgument,
    ConfigNotFound,
)


class ChannelClient:
    """ChannelService calls. A channel this process serves itself (`paymesh serve pay
    wechat`) is called in-process: no serialisation and no second gRPC hop, with the same
    timeout and the same error mapping as over the wire (errors are rebuilt from their
    reason, as a remote caller sees them)."""

    def __init__(self, ctx: ServiceContext, store: Store, *, in_process: bool = True) -> None:
        self._ctx = ctx
        self._store = store
        self._timeout = ctx.settings.channel_timeout_seconds
        self.in_process = in_process

    def _target(self, channel: str) -> str:
        target = self._ctx.settings.channel_targets.get(channel)
        if not target:
            raise ChannelNotEnabled(f"channel {channel!r} is not served here")
        return target

    async def call(self, rpc: str, request: Any, *, kind: str, object_id: str) -> Any:
        """Call ChannelService.<rpc>; log every provider exchange against the object."""
        response, calls = await self.call_unlogged(rpc, request, kind=kind, object_id=object_id)
        await self.write_log(calls)
        return response

    async def call_unlogged(
        self, rpc: str, request: Any, *, kind: str, object_id: str
    ) -> tuple[Any, list[ChannelCall]]:
        """Call ChannelService.<rpc>; the response and its provider exchanges, for the caller
        to write in the transaction it runs next (`Store.store_pay_data(log=...)`). A failed
        call is logged here and raised."""
        account = request.account
        target = self._target(account.channel)
        started = time.perf_counter()
        try:
            response = await self._invoke(target, account.channel, rpc, request)
        except PaymeshError as err:
            calls = self._calls(
                kind,
                object_id,
                rpc,
                account,
                [],
                error=f"{err.reason.value}: {err.message}",
                latency_ms=int((time.perf_counter() - started) * 1000),
            )
            await self.write_log(calls)
            raise
        has_log = "exchanges" in response.DESCRIPTOR.fields_by_name
        calls = self._calls(kind, object_id, rpc, account, response.exchanges if has_log else [])
        return response, calls

    async def _invoke(self, target: str, channel: str, rpc: str, request: Any) -> Any:
        """The response, or a PaymeshError: definitive, or CHANNEL_UNAVAILABLE."""
        local = self._ctx.local(f"{CHANNEL_SERVICE}/{channel}") if self.in_process else None
        if local is None:
            stub = svc_grpc.ChannelServiceStub(self._ctx.channel(target))
            try:
                return await getattr(stub, rpc)(request, timeout=self._timeout)
            except grpc.aio.AioRpcError as e:
                raise self._classify(e) from e
        try:
            async with asyncio.timeout(self._timeout):
                return await getattr(local, rpc)(request, None)
        except PaymeshError as e:
            raise self._definitive_or_unavailable(_as_received(e)) from e
        except TimeoutError as e:
            raise ChannelUnavailable("channel service DEADLINE_EXCEEDED") from e
        except Exception as e:  # what the server interceptor answers INTERNAL for
            log.exception("channel_call_failed", rpc=rpc, channel=channel)
            raise ChannelUnavailable("channel failed: internal error") from e

    @staticmethod
    def _definitive_or_unavailable(err: PaymeshError) -> PaymeshError:
        if isinstance(err, (*DEFINITIVE, ChannelUnavailable)):
            return err
        return ChannelUnavailable(f"channel failed: {err.message}", metadata=err.metadata)

    @classmethod
    def _classify(cls, e: grpc.aio.AioRpcError) -> PaymeshError:
        if error_info(e) is not None:
            return cls._definitive_or_unavailable(from_rpc_error(e))
        return ChannelUnavailable(f"channel service {e.code().name}: {e.details() or ''}")

    @staticmethod
    def _calls(
        kind: str,
        object_id: str,
        rpc: str,
        account: channel_pb2.AccountRef,
        exchanges: Sequence[channel_pb2.Exchange],
        *,
        error: str = "",
        latency_ms: int | None = None,
    ) -> list[ChannelCall]:
        calls = [
            ChannelCall(
                object_kind=kind,
                object_id=object_id,
                rpc=rpc,
                channel=account.channel,
                account_id=account.account_id,
                http_method=x.http_method,
                url=x.url,
                http_status=x.http_status or None,
                request_body=x.request_body,
                response_body=x.response_body,
                latency_ms=x.latency_ms,
                error=x.error,
            )
            for x in exchanges
        ]
        return calls or [
            ChannelCall(
                object_kind=kind,
                object_id=object_id,
                rpc=rpc,
                channel=account.channel,
                account_id=account.account_id,
                latency_ms=latency_ms,
                error=error,
            )
        ]

    async def write_log(self, calls: Sequence[ChannelCall]) -> None:
        """Record channel exchanges in their own transaction (never failing the caller)."""
        if not calls:
            return
        try:
            await self._store.log_channel_requests(calls)
        except Exception:  # the log must never break the money path
            log.exception("channel_log_failed", object_id=calls[0].object_id, rpc=calls[0].rpc)


def _as_received(err: PaymeshError) -> PaymeshError:
    """The error as a caller over gRPC receives it: the class of its reason, with its
    message and metadata (`paymesh.runtime.status.from_rpc_error`)."""
    cls = error_for_reason(err.reason.value)
    out = cls.__new__(cls)
    PaymeshError.__init__(out, err.message, metadata=dict(err.metadata))
    return out
