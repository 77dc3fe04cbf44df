"""Calls to channel services from the gateways, callback gateway and monitor.

A definitive answer (the provider said no; the request was refused before reaching the
provider) passes through; anything unclear becomes CHANNEL_UNAVAILABLE, so no caller ever
turns an unknown outcome into a terminal state.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import grpc

from paymesh.channel.v1 import channel_pb2
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
)
from paymesh.runtime.context import ServiceContext
from paymesh.runtime.logging import get_logger
from paymesh.runtime.status import error_info, from_rpc_error

log = get_logger("paymesh.channel_client")

# Errors after which the provider certainly did not act on the request.
DEFINITIVE: tuple[type[PaymeshError], ...] = (
    ChannelError,
    ChannelNotEnabled,
    InvalidArgument,
    ConfigNotFound,
)


class ChannelClient:
    def __init__(self, ctx: ServiceContext, store: Store) -> None:
        self._ctx = ctx
        self._store = store
        self._timeout = ctx.settings.channel_timeout_seconds

    def _stub(self, channel: str) -> Any:
        target = self._ctx.settings.channel_targets.get(channel)
        if not target:
            raise ChannelNotEnabled(f"channel {channel!r} is not served here")
        return svc_grpc.ChannelServiceStub(self._ctx.channel(target))

    async def call(self, rpc: str, request: Any, *, kind: str, object_id: str) -> Any:
        """Call ChannelService.<rpc>; log every provider exchange against the object."""
        account = request.account
        started = time.perf_counter()
        try:
            response = await getattr(self._stub(account.channel), rpc)(
                request, timeout=self._timeout
            )
        except grpc.aio.AioRpcError as e:
            err = self._classify(e)
            await self._log(
                kind,
                object_id,
                rpc,
                account,
                [],
                error=f"{err.reason.value}: {err.message}",
                latency_ms=int((time.perf_counter() - started) * 1000),
            )
            raise err from e
        has_log = "exchanges" in response.DESCRIPTOR.fields_by_name
        await self._log(kind, object_id, rpc, account, response.exchanges if has_log else [])
        return response

    @staticmethod
    def _classify(e: grpc.aio.AioRpcError) -> PaymeshError:
        if error_info(e) is not None:
            err = from_rpc_error(e)
            if isinstance(err, DEFINITIVE):
                return err
            if isinstance(err, ChannelUnavailable):
                return err
            return ChannelUnavailable(f"channel failed: {err.message}", metadata=err.metadata)
        return ChannelUnavailable(f"channel service {e.code().name}: {e.details() or ''}")

    async def _log(
        self,
        kind: str,
        object_id: str,
        rpc: str,
        account: channel_pb2.AccountRef,
        exchanges: Sequence[channel_pb2.Exchange],
        *,
        error: str = "",
        latency_ms: int | None = None,
    ) -> None:
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
        ] or [
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
        for call in calls:
            try:
                await self._store.log_channel_request(call)
            except Exception:  # the log must never break the money path
                log.exception("channel_log_failed", object_id=object_id, rpc=rpc)
