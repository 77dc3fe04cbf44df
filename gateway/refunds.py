"""Refunds: create (partial or full, never beyond the paid amount) and query (with sync)."""

from __future__ import annotations

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as ch
from paymesh.core.apply import apply_refund
from paymesh.core.db.convert import refund_message
from paymesh.core.db.models import Refund, RefundStatus
from paymesh.core.db.refunds import NewRefund
from paymesh.core.submit import submit_refund
from paymesh.errors import ChannelError, ChannelUnavailable, InvalidArgument, RefundNotFound
from paymesh.gateway.deps import Deps
from paymesh.gateway.orders import find_order
from paymesh.gateway.validation import validate_create_refund, validate_query
from paymesh.merchant.v1 import query_service_pb2 as query_pb
from paymesh.merchant.v1 import refund_pb2
from paymesh.merchant.v1 import refund_service_pb2 as refund_pb
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.refunds")


async def create_refund(deps: Deps, req: refund_pb.CreateRefundRequest) -> refund_pb2.Refund:
    validate_create_refund(req)
    app = await deps.authenticated_app(req)
    order = await find_order(deps, req.app_id, req.order_id, req.out_trade_no)
    # One conditional UPDATE reserves the amount: succeeded + pending <= paid, always.
    created = await deps.store.reserve_refund(
        NewRefund(
            app_id=req.app_id,
            out_refund_no=req.out_refund_no,
            order_id=order.order_id,
            amount=req.amount,
            reason=req.reason,
            notify_url=req.notify_url or order.notify_url or app.notify_url or "",
            metadata=dict(req.metadata),
        )
    )
    refund = created.row
    if not created.created:
        return refund_message(refund)
    return refund_message(await submit_refund(deps, order, refund))


async def sync_refund(deps: Deps, refund: Refund) -> Refund:
    if refund.status != RefundStatus.PENDING.value:
        return refund
    order = await find_order(deps, refund.app_id, refund.order_id, "")
    call = ch.QueryRefundRequest(
        account=channel_pb2.AccountRef(channel=order.channel, account_id=order.account_id),
        order_id=order.order_id,
        refund_id=refund.refund_id,
    )
    try:
        resp = await deps.channels.call(
            "QueryRefund", call, kind="refund", object_id=refund.refund_id
        )
    except (ChannelUnavailable, ChannelError) as e:
        log.info("sync_refund_inconclusive", refund_id=refund.refund_id, reason=e.reason.value)
        return refund
    return (await apply_refund(deps.store, refund, resp.refund, deps.clock())).row


async def query_refund(deps: Deps, req: query_pb.QueryRefundRequest) -> refund_pb2.Refund:
    validate_query(req)
    await deps.authenticated_app(req)
    if req.refund_id:
        refund = await deps.store.get_refund(req.refund_id, req.app_id)
    elif req.out_refund_no:
        refund = await deps.store.get_refund_by_out_refund_no(req.app_id, req.out_refund_no)
    else:
        raise InvalidArgument("refund_id or out_refund_no is required", field="refund_id")
    if refund is None:
        raise RefundNotFound("refund not found")
    if req.sync:
        refund = await sync_refund(deps, refund)
    return refund_message(refund)
