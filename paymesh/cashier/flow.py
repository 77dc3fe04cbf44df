"""Committing a cashier order to a wallet: one order, at most one live channel trade.

Nothing is created at any provider until the payer commits (presses pay) in a wallet.
Then:
- a fresh order is bound to the wallet's route (one conditional UPDATE) and the channel
  trade is started with ChannelService.Pay;
- the same wallet, route and payer again: the attempt already made is reused (same trade);
- another wallet: the first attempt is released before anything new is created. The
  provider is asked first (paid there: the order settles, nothing new starts), then the
  trade is closed at the channel; only a definitive close lets the switch go on. A
  client-side attempt (Alipay wap URL, UnionPay form) can be paid until its own
  `live_until` whatever a close says (Alipay keeps a never-opened URL payable until its
  time_expire), so the cashier gives those a short window and refuses a switch inside it;
- another payer on the same wallet's trade: refused (the trade belongs to the first payer).
Whatever is unclear (a channel that does not answer) refuses the switch: a payer can always
go back to the first wallet, and never ends up with two trades that can both take money.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from google.protobuf import json_format, timestamp_pb2

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as ch
from paymesh.core.apply import apply_trade
from paymesh.core.cashier import CASHIER_KEY, Attempt, Wallet, server_trade, wallet_route
from paymesh.core.db.models import OrderStatus, PayOrder
from paymesh.core.deps import CoreDeps
from paymesh.core.late import settle_trade
from paymesh.errors import ChannelError, ChannelNotEnabled, ChannelUnavailable, PaymeshError
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.cashier")
TS = channel_pb2.TradeState
# How long a client-side attempt (a signed URL or form the payer's browser completes)
# stays payable at the provider: the wallet cannot be switched before it runs out.
CLIENT_WINDOW = timedelta(minutes=3)


class CommitRefused(Exception):
    """The payer cannot commit now; `kind` names the page that says why."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(detail or kind)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class Committed:
    order: PayOrder
    attempt: Attempt
    wallet: Wallet


def _account(channel: str, account_id: str) -> channel_pb2.AccountRef:
    return channel_pb2.AccountRef(channel=channel, account_id=account_id)


def links_of(order: PayOrder) -> dict[str, Any]:
    """The order's merchant-facing pay_data (its cashier links), without the attempt."""
    return {k: v for k, v in (order.pay_data or {}).items() if k != CASHIER_KEY}


async def settled(deps: CoreDeps, order: PayOrder, now: datetime) -> PayOrder:
    """Ask the bound channel about a PENDING order and apply a definitive answer."""
    if order.status != OrderStatus.PENDING.value or not order.channel:
        return order
    query = ch.QueryRequest(
        account=_account(order.channel, order.account_id), order_id=order.order_id
    )
    try:
        resp = await deps.channels.call("Query", query, kind="order", object_id=order.order_id)
    except (ChannelUnavailable, ChannelError) as e:
        log.info("cashier_query_inconclusive", order_id=order.order_id, reason=e.reason.value)
        return order
    return (await settle_trade(deps, order, resp.trade, now))[0].row


async def _release(
    deps: CoreDeps, order: PayOrder, attempt: Attempt | None, now: datetime
) -> PayOrder:
    """Make sure the order's current channel trade can take no money; returns the order
    (PAID if the provider says it was paid). CommitRefused when that cannot be made sure."""
    client_side = attempt is not None and not server_trade(attempt.channel, attempt.method)
    if client_side and attempt is not None and now.timestamp() < attempt.live_until:
        raise CommitRefused("busy", f"{order.channel} attempt open")
    account = _account(order.channel, order.account_id)
    query = ch.QueryRequest(account=account, order_id=order.order_id)
    try:
        resp = await deps.channels.call("Query", query, kind="order", object_id=order.order_id)
    except ChannelUnavailable as e:
        raise CommitRefused("busy", "the first wallet's trade state is unclear") from e
    except ChannelError:
        resp = None  # the provider has no such trade (definitive answer)
    if resp is not None:
        moved = (await settle_trade(deps, order, resp.trade, now))[0].row
        if moved.status != OrderStatus.PENDING.value:
            return moved
        if resp.trade.state == TS.TRADE_STATE_PAID:
            raise CommitRefused("busy", "paid at the provider, not applicable")
    close = ch.CloseRequest(account=account, order_id=order.order_id, method=order.method)
    try:
        await deps.channels.call("Close", close, kind="order", object_id=order.order_id)
    except (ChannelUnavailable, ChannelError) as e:
        raise CommitRefused("busy", "the first wallet's trade did not close") from e
    log.info("cashier_attempt_released", order_id=order.order_id, channel=order.channel)
    return order


async def commit(
    deps: CoreDeps,
    order: PayOrder,
    wallet: Wallet,
    payer_id: str,
    *,
    return_url: str,
    client_ip: str,
) -> Committed:
    """Start (or reuse) the order's trade in `wallet` for this payer; see the module doc."""
    now = deps.clock()
    if order.status != OrderStatus.PENDING.value:
        raise CommitRefused(order.status.lower())
    if order.expire_time <= now:
        raise CommitRefused("expired")
    app = await deps.config.get_app(order.app_id)
    target = wallet_route(app, wallet)
    if target is None or not app.enabled:
        raise CommitRefused("no_wallet")
    current = Attempt.from_pay_data(order.pay_data)
    closed: list[str] = list(current.closed) if current else []
    here = f"{target.channel}/{target.account_id}"
    # Everything that refuses comes before anything is released: a refused switch leaves
    # the first wallet's trade as it was, payable.
    if here in closed:
        # the provider keeps a closed out_trade_no closed: this order cannot pay there again
        raise CommitRefused("busy", "this order's trade in that wallet was closed")
    if order.channel:
        same = (order.channel, order.account_id) == (target.channel, target.account_id)
        if same and current is not None and current.method != wallet.method:
            raise CommitRefused("busy", "started in this wallet another way")
        if same and current is not None:
            if current.payer_id != payer_id:
                raise CommitRefused("busy", "another payer started this order")
            # the same trade again; a browser-completed one only while it is payable (after
            # that a fresh signed URL or form, which the provider accepts if never opened)
            if current.pay_data and (wallet.server_trade or now.timestamp() < current.live_until):
                return Committed(order, current, wallet)
        elif not same:
            released = await _release(deps, order, current, now)
            if released.status != OrderStatus.PENDING.value:
                raise CommitRefused(released.status.lower())
            closed.append(f"{order.channel}/{order.account_id}")
    live_until = (
        order.expire_time if wallet.server_trade else min(order.expire_time, now + CLIENT_WINDOW)
    )
    attempt = Attempt(
        target.channel,
        target.account_id,
        wallet.method,
        payer_id,
        live_until.timestamp(),
        {},
        tuple(closed),
    )
    bound = await deps.store.bind_cashier(
        order.order_id,
        from_channel=order.channel,
        from_account=order.account_id,
        channel=target.channel,
        account_id=target.account_id,
        pay_data={**links_of(order), CASHIER_KEY: attempt.to_json()},
        now=now,
    )
    if not bound.changed:
        raise CommitRefused("busy", "the order changed meanwhile")
    order = bound.row
    expire = timestamp_pb2.Timestamp()
    expire.FromDatetime(live_until)
    pay = ch.PayRequest(
        account=_account(target.channel, target.account_id),
        method=wallet.method,
        order_id=order.order_id,
        amount=order.amount,
        currency=order.currency,
        subject=order.subject,
        description=order.description,
        notify_url=deps.callback_url(target.channel, target.account_id),
        return_url=return_url,
        expire_time=expire,
        client_ip=client_ip,
        payer_id=payer_id,
    )
    try:
        resp = await deps.channels.call("Pay", pay, kind="order", object_id=order.order_id)
    except ChannelUnavailable as e:
        log.warning("cashier_pay_outcome_unknown", order_id=order.order_id)
        raise CommitRefused("unavailable") from e
    except (ChannelError, ChannelNotEnabled) as e:
        raise CommitRefused("refused", e.message) from e
    except PaymeshError as e:
        raise CommitRefused("refused", e.message) from e
    data = json_format.MessageToDict(resp.pay_data, preserving_proto_field_name=True)
    attempt = replace(attempt, pay_data=data)
    stored = await deps.store.bind_cashier(
        order.order_id,
        from_channel=target.channel,
        from_account=target.account_id,
        channel=target.channel,
        account_id=target.account_id,
        pay_data={**links_of(order), CASHIER_KEY: attempt.to_json()},
        now=now,
    )
    order = stored.row
    if resp.trade.state != TS.TRADE_STATE_PENDING:
        order = (await apply_trade(deps.store, order, resp.trade, now)).row
    return Committed(order, attempt, wallet)


__all__ = ["CLIENT_WINDOW", "CommitRefused", "Committed", "commit", "links_of", "settled"]
