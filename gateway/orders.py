"""Pay orders: create, close, query (with sync), as the merchant API defines them."""

from __future__ import annotations

from datetime import datetime, timedelta

from google.protobuf import json_format, timestamp_pb2

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as ch
from paymesh.core.apply import apply_trade
from paymesh.core.cashier import CASHIER_METHOD
from paymesh.core.db.convert import order_message
from paymesh.core.db.models import OrderStatus, PayOrder
from paymesh.core.db.orders import DEFAULT_EXPIRE_SECONDS, NewOrder
from paymesh.core.late import settle_trade
from paymesh.errors import (
    ChannelError,
    ChannelUnavailable,
    InvalidArgument,
    OrderNotFound,
    OrderNotPayable,
)
from paymesh.gateway.cashier_orders import create_cashier_order
from paymesh.gateway.deps import Deps, route
from paymesh.gateway.validation import validate_close_order, validate_create_order, validate_query
from paymesh.merchant.v1 import order_pb2
from paymesh.merchant.v1 import pay_service_pb2 as pay_pb
from paymesh.merchant.v1 import query_service_pb2 as query_pb
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.orders")
# A retry re-drives the Pay of an order without stored (or with expired) pay data only once
# the previous attempt cannot still be in flight: the edge gives a request at most 30 s
# (Envoy route timeout).
REDRIVE_AFTER = timedelta(seconds=30)
# Pay data this close to its end is renewed: the payer needs time to open it.
RENEW_MARGIN = timedelta(seconds=30)
TS = channel_pb2.TradeState


def _account(order: PayOrder) -> channel_pb2.AccountRef:
    return channel_pb2.AccountRef(channel=order.channel, account_id=order.account_id)


async def create_order(deps: Deps, req: pay_pb.CreateOrderRequest) -> order_pb2.Order:
    validate_create_order(req)
    app = await deps.authenticated_app(req)
    if req.method == CASHIER_METHOD:
        return await create_cashier_order(deps, req, app)
    target = route(app, req.channel, req.method)
    created = await deps.store.insert_order(
        NewOrder(
            app_id=req.app_id,
            out_trade_no=req.out_trade_no,
            amount=req.amount,
            channel=target.channel,
            account_id=target.account_id,
            method=req.method,
            currency=req.currency or "CNY",
            subject=req.subject,
            description=req.description,
            notify_url=req.notify_url or app.notify_url or "",
            return_url=req.return_url,
            client_ip=req.client_ip,
            payer_id=req.payer_id,
            metadata=dict(req.metadata),
            expire_seconds=req.expire_seconds or DEFAULT_EXPIRE_SECONDS,
        )
    )
    order = created.row
    if not created.created:
        if _pay_data_expired(order, deps.clock()):
            # The provider no longer accepts the stored pay data (WeChat: prepay_id 2 h,
            # h5_url 5 min): ask again with the same out_trade_no, which WeChat answers with
            # fresh pay data. The claim is a conditional UPDATE that also moves the row: one
            # concurrent retry wins, and none other claims while its call may be in flight.
            if not await deps.store.claim_pay_redrive(order, deps.clock() - REDRIVE_AFTER):
                return order_message(order)
            log.info("pay_data_renewed", order_id=order.order_id, method=order.method)
            return await _pay(deps, order, req.auth_code, redriven=True)
        if not _unanswered(order) or not await deps.store.claim_pay_redrive(
            order, deps.clock() - REDRIVE_AFTER
        ):
            return order_message(order)  # a retry: no second channel call
        # The first attempt never stored the channel's answer (its gateway died, or the
        # channel timed out): drive the same call again with the same out_trade_no, which
        # the provider answers idempotently. A barcode is asked about instead: its auth
        # code is single-use, and a second pay could be refused for an order paid meanwhile.
        log.info("pay_redriven", order_id=order.order_id, method=order.method)
        if order.method == "barcode":
            return order_message(await sync_order(deps, order))
        return await _pay(deps, order, req.auth_code, redriven=True)
    return await _pay(deps, order, req.auth_code)


def _pay_data_expired(order: PayOrder, now: datetime) -> bool:
    """A PENDING order whose stored pay data carries a validity (the channel's
    ``expires_at``) that ends within RENEW_MARGIN: the payer could no longer use it."""
    if order.status != OrderStatus.PENDING.value or not order.pay_data:
        return False
    expires_at = order.pay_data.get("expires_at")
    if not isinstance(expires_at, str) or order.method in ("barcode", CASHIER_METHOD):
        return False
    return datetime.fromisoformat(expires_at) - RENEW_MARGIN <= now


def _unanswered(order: PayOrder) -> bool:
    """A PENDING order on a channel with no stored pay data: the channel's answer is lost."""
    return (
        order.status == OrderStatus.PENDING.value
        and order.pay_data is None
        and bool(order.channel)
        and order.method != CASHIER_METHOD
    )


async def _pay(
    deps: Deps, order: PayOrder, auth_code: str, *, redriven: bool = False
) -> order_pb2.Order:
    """ChannelService.Pay for the order; store its answer (pay data, trade state). A
    refusal fails the order, except on a re-driven call: the first one may have gone
    through, so the refusal (e.g. "already paid") is reported and the order left PENDING
    for the monitor's query."""
    expire = timestamp_pb2.Timestamp()
    expire.FromDatetime(order.expire_time)
    pay = ch.PayRequest(
        account=_account(order),
        method=order.method,
        order_id=order.order_id,
        amount=order.amount,
        currency=order.currency,
        subject=order.subject,
        description=order.description,
        notify_url=deps.callback_url(order.channel, order.account_id),
        return_url=order.return_url,
        expire_time=expire,
        client_ip=order.client_ip,
        payer_id=order.payer_id,
        auth_code=auth_code,
    )
    try:
        resp, exchanges = await deps.channels.call_unlogged(
            "Pay", pay, kind="order", object_id=order.order_id
        )
    except ChannelUnavailable:
        log.warning("pay_outcome_unknown", order_id=order.order_id)
        return order_message(order)  # PENDING: the monitor settles it
    except ChannelError as e:
        if redriven:
            raise
        await deps.store.mark_failed(order.order_id, e.metadata.get("provider_code", e.message))
        raise
    pay_data = json_format.MessageToDict(resp.pay_data, preserving_proto_field_name=True)
    try:  # the exchanges are logged in the same transaction as the pay data
        stored = await deps.store.store_pay_data(
            order.order_id, pay_data, resp.trade.channel_trade_no, log=exchanges, before=order
        )
    except Exception:
        await deps.channels.write_log(exchanges)
        raise
    order = stored.row
    if resp.trade.state != TS.TRADE_STATE_PENDING:
        order = (await apply_trade(deps.store, order, resp.trade, deps.clock())).row
    # the stored pay data is this message's JSON form (unless another attempt's won)
    same = stored.changed and order.pay_data == pay_data
    return order_message(order, pay_data=resp.pay_data if same and pay_data else None)


async def find_order(deps: Deps, app_id: str, order_id: str, out_trade_no: str) -> PayOrder:
    if order_id:
        order = await deps.store.get_order(order_id, app_id)
    elif out_trade_no:
        order = await deps.store.get_order_by_out_trade_no(app_id, out_trade_no)
    else:
        raise InvalidArgument("order_id or out_trade_no is required", field="order_id")
    if order is None:
        raise OrderNotFound("order not found", metadata={"order_id": order_id or out_trade_no})
    return order


async def sync_order(deps: Deps, order: PayOrder) -> PayOrder:
    """Ask the channel about a PENDING order and apply the answer (unknown: unchanged)."""
    if order.status != OrderStatus.PENDING.value:
        return order
    query = ch.QueryRequest(account=_account(order), order_id=order.order_id)
    try:
        resp = await deps.channels.call("Query", query, kind="order", object_id=order.order_id)
    except (ChannelUnavailable, ChannelError) as e:
        log.info("sync_query_inconclusive", order_id=order.order_id, reason=e.reason.value)
        return order
    return (await settle_trade(deps, order, resp.trade, deps.clock()))[0].row


async def query_order(deps: Deps, req: query_pb.QueryOrderRequest) -> order_pb2.Order:
    validate_query(req)
    await deps.authenticated_app(req)
    order = await find_order(deps, req.app_id, req.order_id, req.out_trade_no)
    if req.sync:
        order = await sync_order(deps, order)
    # A late payment exists only for an order that was closed or failed (and, accepted,
    # may have become PAID since): PENDING orders need no second read.
    late = None
    if order.status != OrderStatus.PENDING.value:
        late = await deps.store.get_late_payment(order.order_id)
    return order_message(order, late)


async def close_order(deps: Deps, req: pay_pb.CloseOrderRequest) -> order_pb2.Order:
    validate_close_order(req)
    await deps.authenticated_app(req)
    order = await find_order(deps, req.app_id, req.order_id, "")
    if order.status == OrderStatus.CLOSED.value:
        return order_message(order)
    if order.status != OrderStatus.PENDING.value:
        raise OrderNotPayable(f"order is {order.status} and cannot be closed")
    close = ch.CloseRequest(account=_account(order), order_id=order.order_id, method=order.method)
    # Channel first: if the provider cannot confirm the close, the order stays PENDING.
    await deps.channels.call("Close", close, kind="order", object_id=order.order_id)
    result = await deps.store.mark_closed(order.order_id, deps.clock())
    if not result.changed and result.row.status != OrderStatus.CLOSED.value:
        raise OrderNotPayable(f"order is {result.row.status} and cannot be closed")
    return order_message(result.row)
