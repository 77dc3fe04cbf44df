"""CallbackService: provider notifications -> verified, conditional state transitions.

The channel verifies and normalises (ParseNotify); this service applies the event through the
same `apply_*` code as sync queries and the monitor, stores the raw callback for audit, and
answers with the provider's own ack. Duplicate and late callbacks are no-ops that still ack;
forged or mismatched ones change nothing and get a failure answer.
"""

from __future__ import annotations

from typing import Any, TypeVar

import grpc
from google.api import httpbody_pb2

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as ch
from paymesh.core.apply import amount_agrees, apply_refund, apply_trade, apply_transfer
from paymesh.core.db.audit import ChannelCall, RawCallback
from paymesh.core.db.models import (
    OrderStatus,
    PayOrder,
    Refund,
    RefundStatus,
    Transfer,
    TransferStatus,
)
from paymesh.core.deps import CoreDeps, build_core_deps
from paymesh.core.late import settle_trade
from paymesh.errors import (
    ChannelNotEnabled,
    ConfigNotFound,
    InvalidArgument,
    PaymeshError,
    SignatureInvalid,
)
from paymesh.merchant.v1 import callback_service_pb2 as pb
from paymesh.merchant.v1 import callback_service_pb2_grpc as pb_grpc
from paymesh.runtime import metrics
from paymesh.runtime.context import ServiceContext
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.callback")

TS = channel_pb2.TradeState
RS = channel_pb2.ResultState
_SKIP_HEADERS = frozenset({"user-agent", "content-length", "te", "grpc-accept-encoding"})


class Rejected(Exception):
    """The event cannot be applied; answer with the provider's failure reply."""


def _reply(r: channel_pb2.Reply) -> httpbody_pb2.HttpBody:
    return httpbody_pb2.HttpBody(content_type=r.content_type or "text/plain", data=r.body)


def _headers(context: grpc.aio.ServicerContext[Any, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in context.invocation_metadata() or ():
        if key.startswith(":") or key in _SKIP_HEADERS or key.endswith("-bin"):
            continue
        out[key] = value if isinstance(value, str) else value.decode("latin-1")
    return out


_Row = TypeVar("_Row", PayOrder, Refund, Transfer)


def _bound(kind: str, object_id: str, row: _Row | None, account: channel_pb2.AccountRef) -> _Row:
    """The object, if it was created on the channel account the callback came in for.

    A genuine callback of one account must never settle another account's object: tenant B
    could otherwise open a trade at the provider under a victim's order id with B's own
    notify URL."""
    if row is None:
        raise Rejected(f"unknown {kind} {object_id}")
    if row.channel != account.channel or row.account_id != account.account_id:
        raise Rejected(
            f"{kind} {object_id} was not created on {account.channel}/{account.account_id}"
        )
    return row


MAX_REJECTED_BODY = 4096
MAX_REJECTED_HEADERS = 32
MAX_HEADER_VALUE = 512


def _capped(audit: dict[str, Any]) -> dict[str, Any]:
    """A rejected callback is anyone's input: keep a few KiB of it, not megabytes per call."""
    body: bytes = audit["body"]
    headers = dict(list(audit["headers"].items())[:MAX_REJECTED_HEADERS])
    return {
        **audit,
        "channel": audit["channel"][:32],
        "account_id": audit["account_id"][:64],
        "content_type": audit["content_type"][:128],
        "body": body[:MAX_REJECTED_BODY],
        "headers": {k[:64]: v[:MAX_HEADER_VALUE] for k, v in headers.items()},
    }


class CallbackServicer(pb_grpc.CallbackServiceServicer):
    def __init__(self, deps: CoreDeps) -> None:
        self.deps = deps

    async def HandleCallback(
        self, request: pb.HandleCallbackRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> httpbody_pb2.HttpBody:
        if not request.channel or not request.account_id:
            raise InvalidArgument("channel and account_id are required")
        headers = _headers(context)
        parse = ch.ParseNotifyRequest(
            account=channel_pb2.AccountRef(channel=request.channel, account_id=request.account_id),
            http_method="POST",
            headers=headers,
            body=request.body.data,
            content_type=request.body.content_type,
        )
        audit = {
            "channel": request.channel,
            "account_id": request.account_id,
            "body": request.body.data,
            "content_type": request.body.content_type,
            "headers": headers,
        }
        # ParseNotify's exchanges are written with the callback's audit row (`_record`), or
        # on their own if the callback ends before it is recorded (a database outage).
        unlogged: list[ChannelCall] = []
        try:
            resp, unlogged = await self.deps.channels.call_unlogged(
                "ParseNotify", parse, kind="callback", object_id=request.account_id
            )
        except (ChannelNotEnabled, ConfigNotFound, InvalidArgument):
            # A channel nobody serves: rejected like a forged callback (nothing to probe).
            resp = ch.ParseNotifyResponse(reject_reason="unknown channel")
        audit["log"] = unlogged
        try:
            return await self._settle(request, resp, parse, audit)
        finally:
            if unlogged:
                await self.deps.channels.write_log(unlogged)

    async def _settle(
        self,
        request: pb.HandleCallbackRequest,
        resp: ch.ParseNotifyResponse,
        parse: ch.ParseNotifyRequest,
        audit: dict[str, Any],
    ) -> httpbody_pb2.HttpBody:
        if resp.reject_reason or resp.WhichOneof("event") is None:
            verified = not resp.reject_reason
            await self._record(
                audit,
                verified,
                "rejected" if not verified else "ignored",
                "",
                "",
                resp.reject_reason,
            )
            if not verified:
                log.warning("callback_rejected", channel=request.channel, reason=resp.reject_reason)
                # One answer for every rejection (forged, stale, unknown account): the reason
                # is in the log and the audit row, never in the reply.
                return self._fail(resp, SignatureInvalid("callback rejected"))
            return _reply(resp.ack)  # authentic but nothing for us (an event type we ignore)
        try:
            kind, object_id = await self._apply(resp, parse.account)
        except Rejected as e:
            await self._record(audit, True, "mismatch", "", "", str(e))
            log.error("callback_not_applied", channel=request.channel, error=str(e))
            return self._fail(resp, InvalidArgument(f"callback not applied: {e}"))
        await self._record(audit, True, "applied", kind, object_id, "")
        return _reply(resp.ack)

    @staticmethod
    def _fail(resp: ch.ParseNotifyResponse, err: Exception) -> httpbody_pb2.HttpBody:
        # A 200 failure answer (Alipay's "fail") goes back as is; any other status needs a
        # gRPC error, which the edge turns into that HTTP status class.
        if resp.HasField("nack") and resp.nack.http_status == 200:
            return _reply(resp.nack)
        raise err

    async def _apply(
        self, resp: ch.ParseNotifyResponse, account: channel_pb2.AccountRef
    ) -> tuple[str, str]:
        deps, now = self.deps, self.deps.clock()
        which = resp.WhichOneof("event")
        if which == "trade":
            order = _bound("order", resp.trade.order_id, await deps.store.get_order(
                resp.trade.order_id), account)  # fmt: skip
            if resp.trade.state != TS.TRADE_STATE_PAID:
                await apply_trade(deps.store, order, resp.trade, now)
                return "order", order.order_id
            if resp.trade.amount != order.amount:
                raise Rejected(
                    f"order {order.order_id} is for {order.amount}, "
                    f"callback says PAID {resp.trade.amount or 'without an amount'}"
                )
            moved, late = await settle_trade(deps, order, resp.trade, now)
            if late is not None:  # paid after we closed/failed it: recorded, policy applied
                return "order", order.order_id
            order = moved.row
            if order.status != OrderStatus.PAID.value:
                raise Rejected(f"order {order.order_id} is {order.status}, callback says PAID")
            return "order", order.order_id
        if which == "refund":
            refund = _bound("refund", resp.refund.refund_id, await deps.store.get_refund(
                resp.refund.refund_id), account)  # fmt: skip
            result = resp.refund
            if result.state == RS.RESULT_STATE_SUCCEEDED and not result.amount:
                result = await self._confirm_refund(refund, account)
            refund = (await apply_refund(deps.store, refund, result, now)).row
            if not amount_agrees(result.state, result.amount, refund.amount):
                raise Rejected(f"refund {refund.refund_id} amount differs or is missing")
            if result.state == RS.RESULT_STATE_SUCCEEDED and (
                refund.status != RefundStatus.SUCCEEDED.value
            ):
                raise Rejected(f"refund {refund.refund_id} is {refund.status}")
            return "refund", refund.refund_id
        transfer = _bound("transfer", resp.transfer.transfer_id, await deps.store.get_transfer(
            resp.transfer.transfer_id), account)  # fmt: skip
        tresult = resp.transfer
        if tresult.state == RS.RESULT_STATE_SUCCEEDED and not tresult.amount:
            tresult = await self._confirm_transfer(transfer, account)
        transfer = (await apply_transfer(deps.store, transfer, tresult, now)).row
        if not amount_agrees(tresult.state, tresult.amount, transfer.amount):
            raise Rejected(f"transfer {transfer.transfer_id} amount differs or is missing")
        if tresult.state == RS.RESULT_STATE_SUCCEEDED and (
            transfer.status != TransferStatus.SUCCEEDED.value
        ):
            raise Rejected(f"transfer {transfer.transfer_id} is {transfer.status}")
        return "transfer", transfer.transfer_id

    async def _confirm_refund(
        self, refund: Refund, account: channel_pb2.AccountRef
    ) -> channel_pb2.RefundResult:
        """A success notify that does not state this refund's amount (Alipay's refund_fee is
        the trade's running total) is confirmed by asking the provider, which does."""
        try:
            resp = await self.deps.channels.call(
                "QueryRefund",
                ch.QueryRefundRequest(
                    account=account, order_id=refund.order_id, refund_id=refund.refund_id
                ),
                kind="refund",
                object_id=refund.refund_id,
            )
        except PaymeshError as e:
            raise Rejected(f"refund {refund.refund_id} could not be confirmed: {e.message}") from e
        result: channel_pb2.RefundResult = resp.refund
        return result

    async def _confirm_transfer(
        self, transfer: Transfer, account: channel_pb2.AccountRef
    ) -> channel_pb2.TransferResult:
        try:
            resp = await self.deps.channels.call(
                "QueryTransfer",
                ch.QueryTransferRequest(account=account, transfer_id=transfer.transfer_id),
                kind="transfer",
                object_id=transfer.transfer_id,
            )
        except PaymeshError as e:
            raise Rejected(
                f"transfer {transfer.transfer_id} could not be confirmed: {e.message}"
            ) from e
        result: channel_pb2.TransferResult = resp.transfer
        return result

    async def _record(
        self, audit: dict[str, Any], verified: bool, outcome: str, kind: str, oid: str, error: str
    ) -> None:
        metrics.callback(audit["channel"], outcome)
        unlogged: list[ChannelCall] = audit.pop("log", [])
        exchanges = list(unlogged)
        unlogged.clear()  # written here, with the callback's row
        if not verified:
            audit = _capped(audit)
        try:
            await self.deps.store.record_callback(
                RawCallback(
                    **audit,
                    verified=verified,
                    outcome=outcome,
                    object_kind=kind,
                    object_id=oid,
                    error=error,
                ),
                log=exchanges,
            )
        except Exception:  # audit must not turn an applied payment into a provider retry
            log.exception("callback_audit_failed")


async def register(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    pb_grpc.add_CallbackServiceServicer_to_server(
        CallbackServicer(await build_core_deps(ctx)), server
    )
    return [pb.DESCRIPTOR.services_by_name["CallbackService"].full_name]


__all__ = ["CallbackServicer", "register"]
