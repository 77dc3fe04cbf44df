"""The channel abstraction every provider (wechat, alipay, unionpay) implements.

A channel takes the proto request of the ChannelService RPC and the account's typed config
and returns the proto response, filled with normalised results and the `exchanges` it made.
It keeps no order state (caching provider keys/certificates is fine).

How a channel is laid out (see channels/wechat):
- `config.py`: the account model (subclass of `ChannelAccountBase`), its JSON Schema drives
  the ops console;
- `transformers.py`: wire shapes, unit conversion, one explicit status map per provider enum;
- `adapter.py`: pure `build_*_request(...) -> HttpRequest` and `parse_*_response(...)`
  (signing and verification included; no I/O, no clock: `now` and nonces are passed in);
- `channel.py`: the `Channel` implementation gluing adapter and `Transport` (a `ChannelBase`).
Methods a provider completes client-side (Alipay page/wap/app) simply build the signed
payload in the adapter and make no HTTP call.
"""

from __future__ import annotations

import html
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import ClassVar, Generic, Protocol, TypeVar, runtime_checkable

from google.protobuf import timestamp_pb2
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.transport import HttpRequest, HttpResponse, Transport
from paymesh.config.models import ChannelAccountBase
from paymesh.errors import ChannelUnavailable, InvalidArgument, OperationNotOffered
from paymesh.runtime.clock import utcnow

TradeState = channel_pb2.TradeState
ResultState = channel_pb2.ResultState

TRADE_PENDING = channel_pb2.TRADE_STATE_PENDING
TRADE_PAID = channel_pb2.TRADE_STATE_PAID
TRADE_CLOSED = channel_pb2.TRADE_STATE_CLOSED
TRADE_FAILED = channel_pb2.TRADE_STATE_FAILED

RESULT_PENDING = channel_pb2.RESULT_STATE_PENDING
RESULT_SUCCEEDED = channel_pb2.RESULT_STATE_SUCCEEDED
RESULT_FAILED = channel_pb2.RESULT_STATE_FAILED


class LoggedResponse(Protocol):
    """A ChannelService response: carries the provider exchanges made to produce it."""

    @property
    def exchanges(self) -> RepeatedCompositeFieldContainer[channel_pb2.Exchange]: ...


A = TypeVar("A", bound=ChannelAccountBase, contravariant=True)
S = TypeVar("S")


@runtime_checkable
class Channel(Protocol[A]):
    """One provider. Every method may raise `ChannelError` (the provider said no) or
    `ChannelUnavailable` (timeout, 5xx, unauthenticated answer: outcome unknown)."""

    @property
    def name(self) -> str:
        """The channel name used in `AccountRef.channel` and config keys (e.g. "wechat")."""
        ...

    @property
    def account_model(self) -> type[ChannelAccountBase]:
        """The config model of this channel's accounts."""
        ...

    @property
    def methods(self) -> frozenset[str]:
        """Pay methods this channel implements at all."""
        ...

    async def pay(self, account: A, request: svc.PayRequest) -> svc.PayResponse: ...

    async def query(self, account: A, request: svc.QueryRequest) -> svc.QueryResponse: ...

    async def close(self, account: A, request: svc.CloseRequest) -> svc.CloseResponse: ...

    async def refund(self, account: A, request: svc.RefundRequest) -> svc.RefundResponse: ...

    async def query_refund(
        self, account: A, request: svc.QueryRefundRequest
    ) -> svc.QueryRefundResponse: ...

    async def transfer(self, account: A, request: svc.TransferRequest) -> svc.TransferResponse: ...

    async def query_transfer(
        self, account: A, request: svc.QueryTransferRequest
    ) -> svc.QueryTransferResponse: ...

    async def cancel_transfer(
        self, account: A, request: svc.CancelTransferRequest
    ) -> svc.CancelTransferResponse:
        """Cancel a transfer the payee has not confirmed yet; `OperationNotOffered` where
        the provider has no such step."""
        ...

    async def download_bill(
        self, account: A, request: svc.DownloadBillRequest
    ) -> svc.DownloadBillResponse:
        """The provider's trade bill of one China-time day, parsed (BillInvalid when the
        file cannot be trusted: nothing of it is returned)."""
        ...

    async def parse_notify(
        self, account: A, request: svc.ParseNotifyRequest
    ) -> svc.ParseNotifyResponse:
        """Verify and normalise one notification. Never raises for a bad notification:
        returns `reject_reason` + `nack` instead (the caller answers the provider with it)."""
        ...

    async def identify_payer(
        self, account: A, request: svc.IdentifyPayerRequest
    ) -> svc.IdentifyPayerResponse:
        """Exchange a wallet OAuth code for the payer's id (the cashier's jsapi payments);
        `OperationNotOffered` where the provider has no such step."""
        ...

    async def aclose(self) -> None:
        """Release resources (HTTP sessions)."""
        ...


Account = TypeVar("Account", bound=ChannelAccountBase)
Keys = TypeVar("Keys")
T = TypeVar("T")
R = TypeVar("R", bound=LoggedResponse)


class ChannelBase(ABC, Generic[Account, Keys]):
    """The glue every `Channel` shares; a provider's `channel.py` subclasses it.

    A subclass sets `account_class` and `pay_methods`, implements `_keys` (whatever its
    parsers need to verify an answer: WeChat's platform keys, nothing for Alipay) and writes
    one method per RPC as build (adapter) -> `_logged`/`_call` (transport) -> parse (adapter).
    """

    account_class: ClassVar[type[ChannelAccountBase]]
    pay_methods: ClassVar[frozenset[str]]

    def __init__(self, transport: Transport, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._transport = transport
        self._clock = clock

    @property
    def name(self) -> str:
        return self.account_class.channel

    @property
    def account_model(self) -> type[ChannelAccountBase]:
        return self.account_class

    @property
    def methods(self) -> frozenset[str]:
        return self.pay_methods

    async def aclose(self) -> None:
        await self._transport.close()

    async def identify_payer(
        self, account: Account, request: svc.IdentifyPayerRequest
    ) -> svc.IdentifyPayerResponse:
        """No wallet OAuth at this provider (a channel that has one overrides this)."""
        raise OperationNotOffered(
            f"{self.name} has no payer identification", metadata={"channel": self.name}
        )

    @abstractmethod
    async def _keys(
        self, account: Account, exchanges: list[channel_pb2.Exchange], *, refresh: bool
    ) -> Keys:
        """What the parsers verify answers with; `refresh` after they met an unknown key."""

    def _stale_keys(self, account: Account, error: Exception) -> bool:
        """Whether `error` (raised by a parser) means: refresh the keys and parse again."""
        return False

    async def _send(
        self, account: Account, request: HttpRequest, exchanges: list[channel_pb2.Exchange]
    ) -> HttpResponse:
        timeout: float | None = getattr(account, "request_timeout_seconds", None)
        return await self._transport.send(request, timeout_seconds=timeout, exchanges=exchanges)

    async def _call(
        self,
        account: Account,
        request: HttpRequest,
        parse: Callable[[HttpResponse, Keys], T],
        exchanges: list[channel_pb2.Exchange],
    ) -> T:
        """One provider round trip, recorded in `exchanges`, parsed with the account's keys."""
        response = await self._send(account, request, exchanges)
        keys = await self._keys(account, exchanges, refresh=False)
        try:
            return parse(response, keys)
        except Exception as e:
            if not self._stale_keys(account, e):
                raise
        keys = await self._keys(account, exchanges, refresh=True)
        return parse(response, keys)

    async def _logged(
        self, account: Account, request: HttpRequest, parse: Callable[[HttpResponse, Keys], R]
    ) -> R:
        """One provider round trip; its exchanges are attached to the response it returns."""
        ex: list[channel_pb2.Exchange] = []
        out = await self._call(account, request, parse, ex)
        out.exchanges.extend(ex)
        return out


class ResponseUnauthenticated(ChannelUnavailable):
    """The provider's answer could not be authenticated (unsigned, bad signature, unknown
    key): the outcome is unknown, so nothing becomes terminal on it."""


def expect_same(provider: str, field: str, sent: str, got: str) -> None:
    """An answer naming another order/refund/transfer than we asked about is not trusted."""
    if got and got != sent:
        raise ChannelUnavailable(f"{provider} answered for another {field}")


def check_currency(currency: str, provider: str) -> str:
    """The domestic providers take CNY only (an empty currency means CNY)."""
    cur = currency or "CNY"
    if cur != "CNY":
        raise InvalidArgument(f"{provider} accepts CNY only", field="currency")
    return cur


def auto_submit_form(
    action: str,
    fields: Mapping[str, str],
    *,
    form_id: str,
    method: str = "POST",
    submit_button: bool = False,
) -> str:
    """An HTML form that posts `fields` to `action` as soon as a browser renders it (the
    client-side pay methods: the provider's page takes the signed fields)."""
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}"/>'
        for k, v in fields.items()
    )
    button = '<input type="submit" value="ok" style="display:none"/>' if submit_button else ""
    return (
        f'<form id="{form_id}" name="{form_id}" action="{html.escape(action)}" '
        f'method="{method}">{inputs}{button}</form>'
        f"<script>document.forms['{form_id}'].submit();</script>"
    )


def map_state(table: Mapping[str, S], provider_state: str, unknown: S) -> S:
    """Look a provider state up in an explicit map; anything unknown maps to `unknown`
    (always the PENDING value: only explicit success or failure is terminal)."""
    return table.get(provider_state, unknown)


def to_timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value.astimezone(UTC))
    return ts


def parse_rfc3339(value: str) -> datetime | None:
    """Parse an RFC 3339 time (`2024-06-08T10:34:56+08:00`); None when empty or invalid."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    return dt


__all__ = [
    "RESULT_FAILED",
    "RESULT_PENDING",
    "RESULT_SUCCEEDED",
    "TRADE_CLOSED",
    "TRADE_FAILED",
    "TRADE_PAID",
    "TRADE_PENDING",
    "Channel",
    "ChannelBase",
    "ResponseUnauthenticated",
    "ResultState",
    "TradeState",
    "auto_submit_form",
    "check_currency",
    "expect_same",
    "map_state",
    "parse_rfc3339",
    "to_timestamp",
]
