"""ChannelServicer: the gRPC ChannelService, dispatching to `Channel` implementations.

Each RPC names `account.channel` and `account.account_id`; the servicer loads the account
config through an `AccountSource` (the config repository) and hands it, typed, to the
channel. Errors are raised as `PaymeshError`s; the server interceptor maps them to gRPC.

Enablement rules:
- unknown channel, or a channel this process does not serve -> ChannelNotEnabled;
- `Pay` with a method not in the account's `enabled_methods` (or not implemented by the
  channel) -> ChannelNotEnabled;
- a disabled account takes no new money movements: `Pay`, `Refund` and `Transfer` ->
  ChannelNotEnabled. Follow-ups (`Query`, `Close`, `QueryRefund`, `QueryTransfer`,
  `ParseNotify`) still work so that in-flight orders settle.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol, TypeVar

import grpc

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channel.v1 import channel_service_pb2_grpc as svc_grpc
from paymesh.channels.base import Channel
from paymesh.config.models import ChannelAccountBase
from paymesh.errors import (
    ChannelNotEnabled,
    ChannelUnavailable,
    ConfigInvalid,
    ConfigNotFound,
    InvalidArgument,
    PaymeshError,
)
from paymesh.runtime import metrics, tracing
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.channels.service")

Context = grpc.aio.ServicerContext[Any, Any]
R = TypeVar("R")
_TRANSPORT_FAILURES = frozenset({"timeout", "connection", "http_5xx"})
_FAILED_STATE = {
    "trade": channel_pb2.TradeState.TRADE_STATE_FAILED,
    "refund": channel_pb2.ResultState.RESULT_STATE_FAILED,
    "transfer": channel_pb2.ResultState.RESULT_STATE_FAILED,
}


def outcome_of(answer: object) -> str:
    """ok, or refused when the answer is a definitive failure (FAILED trade/refund/transfer)."""
    for field, failed in _FAILED_STATE.items():
        result = getattr(answer, field, None)
        if result is not None:
            return "refused" if result.state == failed else "ok"
    return "ok"


def outcome_of_error(error: BaseException) -> str:
    """unavailable (no answer: timeout, connection, 5xx), unclear (an answer that could not
    be trusted or classified), refused (the provider or our own checks said no)."""
    if isinstance(error, ChannelUnavailable):
        failure = error.metadata.get("failure", "") if error.metadata else ""
        return "unavailable" if failure in _TRANSPORT_FAILURES else "unclear"
    if isinstance(error, PaymeshError):
        return "refused"
    return "unclear"


async def observed(provider: str, operation: str, call: Awaitable[R]) -> R:
    """Await one channel operation, counted by provider, operation and outcome class (and
    a span of its own when tracing: the provider's HTTP calls are its children, whether the
    gateway called over gRPC or in-process)."""
    if tracing.enabled():
        with tracing.span(f"channel {metrics.provider(provider)} {operation}"):
            return await _observed(provider, operation, call)
    return await _observed(provider, operation, call)


async def _observed(provider: str, operation: str, call: Awaitable[R]) -> R:
    started = time.perf_counter()
    outcome = "unclear"
    try:
        answer = await call
        outcome = outcome_of(answer)
        return answer
    except BaseException as e:
        outcome = outcome_of_error(e)
        raise
    finally:
        name = metrics.provider(provider)
        elapsed = time.perf_counter() - started
        metrics.child(metrics.CHANNEL_SECONDS, name, operation).observe(elapsed)
        metrics.child(metrics.CHANNEL_TOTAL, name, operation, outcome).inc()


class AccountSource(Protocol):
    """Where account configs come from (implemented by the config repository)."""

    async def get_channel_account(self, channel: str, account_id: str) -> ChannelAccountBase:
        """The account's typed config; raises ConfigNotFound when there is none."""
        ...


class ChannelServicer(svc_grpc.ChannelServiceServicer):
    def __init__(self, source: AccountSource, channels: Mapping[str, Channel[Any]]) -> None:
        self._source = source
        self._channels = dict(channels)

    @property
    def channels(self) -> Mapping[str, Channel[Any]]:
        return self._channels

    async def aclose(self) -> None:
        for channel in self._channels.values():
            await channel.aclose()

    async def _resolve(
        self, ref: channel_pb2.AccountRef, *, new_money: bool
    ) -> tuple[Channel[Any], ChannelAccountBase]:
        if not ref.channel or not ref.account_id:
            raise InvalidArgument(
                "account.channel and account.account_id are required", field="account"
            )
        channel = self._channels.get(ref.channel)
        if channel is None:
            raise ChannelNotEnabled(
                f"channel {ref.channel!r} is not served here", metadata={"channel": ref.channel}
            )
        account = await self._source.get_channel_account(ref.channel, ref.account_id)
        if not isinstance(account, channel.account_model):
            raise ConfigInvalid(
                f"account {ref.account_id!r} is not a {ref.channel} account",
                metadata={"channel": ref.channel, "account_id": ref.account_id},
            )
        if new_money and not account.enabled:
            raise ChannelNotEnabled(
                f"{ref.channel} account {ref.account_id!r} is disabled",
                metadata={"channel": ref.channel, "account_id": ref.account_id},
            )
        return channel, account

    async def Pay(self, request: svc.PayRequest, context: Context) -> svc.PayResponse:
        channel, account = await self._resolve(request.account, new_money=True)
        if request.method not in channel.methods or request.method not in account.enabled_methods:
            raise ChannelNotEnabled(
                f"method {request.method!r} is not enabled for this {channel.name} account",
                metadata={"channel": channel.name, "method": request.method},
            )
        return await observed(channel.name, "pay", channel.pay(account, request))

    async def Query(self, request: svc.QueryRequest, context: Context) -> svc.QueryResponse:
        channel, account = await self._resolve(request.account, new_money=False)
        return await observed(channel.name, "query", channel.query(account, request))

    async def Close(self, request: svc.CloseRequest, context: Context) -> svc.CloseResponse:
        channel, account = await self._resolve(request.account, new_money=False)
        return await observed(channel.name, "close", channel.close(account, request))

    async def Refund(self, request: svc.RefundRequest, context: Context) -> svc.RefundResponse:
        channel, account = await self._resolve(request.account, new_money=True)
        return await observed(channel.name, "refund", channel.refund(account, request))

    async def QueryRefund(
        self, request: svc.QueryRefundRequest, context: Context
    ) -> svc.QueryRefundResponse:
        channel, account = await self._resolve(request.account, new_money=False)
        return await observed(channel.name, "query_refund", channel.query_refund(account, request))

    async def Transfer(
        self, request: svc.TransferRequest, context: Context
    ) -> svc.TransferResponse:
        channel, account = await self._resolve(request.account, new_money=True)
        return await observed(channel.name, "transfer", channel.transfer(account, request))

    async def QueryTransfer(
        self, request: svc.QueryTransferRequest, context: Context
    ) -> svc.QueryTransferResponse:
        channel, account = await self._resolve(request.account, new_money=False)
        return await observed(
            channel.name, "query_transfer", channel.query_transfer(account, request)
        )

    async def CancelTransfer(
        self, request: svc.CancelTransferRequest, context: Context
    ) -> svc.CancelTransferResponse:
        channel, account = await self._resolve(request.account, new_money=False)
        return await observed(
            channel.name, "cancel_transfer", channel.cancel_transfer(account, request)
        )

    async def DownloadBill(
        self, request: svc.DownloadBillRequest, context: Context
    ) -> svc.DownloadBillResponse:
        channel, account = await self._resolve(request.account, new_money=False)
        return await observed(
            channel.name, "download_bill", channel.download_bill(account, request)
        )

    async def IdentifyPayer(
        self, request: svc.IdentifyPayerRequest, context: Context
    ) -> svc.IdentifyPayerResponse:
        if not request.code or len(request.code) > 512:
            raise InvalidArgument("code must be 1-512 characters", field="code")
        channel, account = await self._resolve(request.account, new_money=False)
        return await observed(
            channel.name, "identify_payer", channel.identify_payer(account, request)
        )

    async def ParseNotify(
        self, request: svc.ParseNotifyRequest, context: Context
    ) -> svc.ParseNotifyResponse:
        try:
            channel, account = await self._resolve(request.account, new_money=False)
        except (ConfigNotFound, ConfigInvalid, ChannelNotEnabled, InvalidArgument) as e:
            # Answered like a forged notification, so that callbacks cannot probe which
            # channel accounts exist.
            log.warning(
                "notify_for_unknown_account",
                channel=request.account.channel[:32],
                account_id=request.account.account_id[:64],
                error=e.message,
            )
            reply = getattr(
                self._channels.get(request.account.channel), "rejected_notify_reply", None
            )
            out = svc.ParseNotifyResponse(reject_reason="unknown channel account")
            if isinstance(reply, channel_pb2.Reply):
                out.nack.CopyFrom(reply)
            return out
        return await channel.parse_notify(account, request)


__all__ = ["AccountSource", "ChannelServicer"]
