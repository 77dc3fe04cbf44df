"""Submitting a refund or a transfer to its channel and applying the answer.

Shared by the gateways (the merchant's request) and the order monitor (a resubmission of
one the provider says it never received: the same request, so providers treat it
idempotently). A definitive refusal fails the row and raises; an unclear answer keeps it
PENDING with the reason noted, for the monitor to query.
"""

from __future__ import annotations

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as ch
from paymesh.core.apply import apply_refund, apply_transfer
from paymesh.core.db.models import PayOrder, Refund, Transfer
from paymesh.core.deps import CoreDeps
from paymesh.errors import ChannelError, ChannelNotEnabled, ChannelUnavailable
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.submit")


def transfer_account(t: Transfer) -> channel_pb2.AccountRef:
    return channel_pb2.AccountRef(channel=t.channel, account_id=t.account_id)


def refund_request(deps: CoreDeps, order: PayOrder, refund: Refund) -> ch.RefundRequest:
    """The channel request of a refund; a resubmission sends exactly the same one (same
    refund_id = out_refund_no / out_request_no), which providers treat idempotently."""
    return ch.RefundRequest(
        account=channel_pb2.AccountRef(channel=order.channel, account_id=order.account_id),
        order_id=order.order_id,
        refund_id=refund.refund_id,
        amount=refund.amount,
        total_amount=order.amount,
        currency=order.currency,
        reason=refund.reason,
        notify_url=deps.callback_url(order.channel, order.account_id),
    )


async def submit_refund(deps: CoreDeps, order: PayOrder, refund: Refund) -> Refund:
    """Send the refund to its channel and apply the answer. A definitive refusal fails it
    (releasing the reservation) and raises; an unclear answer keeps it PENDING with the
    reason recorded, for the monitor to query (and resubmit if it was never received)."""
    call = refund_request(deps, order, refund)
    try:
        resp = await deps.channels.call("Refund", call, kind="refund", object_id=refund.refund_id)
    except ChannelUnavailable as e:
        log.warning("refund_outcome_unknown", refund_id=refund.refund_id, error=e.message)
        return (
            await deps.store.note_pending_refund(
                refund.refund_id, pending_reason=f"submit unclear: {e.message}"
            )
        ).row
    except ChannelError as e:
        code = e.metadata.get("provider_code", e.message)
        await deps.store.mark_refund_failed(refund.refund_id, code, channel_state=code)
        raise
    return (await apply_refund(deps.store, refund, resp.refund, deps.clock())).row


def transfer_request(deps: CoreDeps, transfer: Transfer) -> ch.TransferRequest:
    """The channel request of a transfer; a resubmission sends the same one (same
    transfer_id = out_bill_no / out_biz_no), which providers treat idempotently."""
    return ch.TransferRequest(
        account=transfer_account(transfer),
        transfer_id=transfer.transfer_id,
        amount=transfer.amount,
        currency=transfer.currency,
        payee_id=transfer.payee_id,
        payee_name=transfer.payee_name,
        remark=transfer.remark,
        notify_url=deps.callback_url(transfer.channel, transfer.account_id),
    )


async def submit_transfer(deps: CoreDeps, transfer: Transfer) -> Transfer:
    """Send the transfer to its channel and apply the answer (see submit_refund)."""
    call = transfer_request(deps, transfer)
    try:
        resp = await deps.channels.call(
            "Transfer", call, kind="transfer", object_id=transfer.transfer_id
        )
    except ChannelUnavailable as e:
        log.warning("transfer_outcome_unknown", transfer_id=transfer.transfer_id, error=e.message)
        return (
            await deps.store.note_pending_transfer(
                transfer.transfer_id, pending_reason=f"submit unclear: {e.message}"
            )
        ).row
    except (ChannelError, ChannelNotEnabled) as e:
        # a refusal, or a channel that offers no transfers (UnionPay): nothing was moved
        code = e.metadata.get("provider_code", e.message)
        await deps.store.mark_transfer_failed(
            transfer.transfer_id, code, deps.clock(), channel_state=code
        )
        raise
    return (await apply_transfer(deps.store, transfer, resp.transfer, deps.clock())).row


async def cancel_at_channel(deps: CoreDeps, transfer: Transfer) -> Transfer:
    """Ask the channel to cancel a PENDING transfer (the payee has not confirmed it) and
    apply its answer: CANCELING stays PENDING, CANCELLED fails the transfer (nothing paid)."""
    call = ch.CancelTransferRequest(
        account=transfer_account(transfer), transfer_id=transfer.transfer_id
    )
    resp = await deps.channels.call(
        "CancelTransfer", call, kind="transfer", object_id=transfer.transfer_id
    )
    log.info(
        "transfer_cancel_requested",
        transfer_id=transfer.transfer_id,
        channel_state=resp.transfer.provider_state,
    )
    return (await apply_transfer(deps.store, transfer, resp.transfer, deps.clock())).row


__all__ = [
    "cancel_at_channel",
    "refund_request",
    "submit_refund",
    "submit_transfer",
    "transfer_account",
    "transfer_request",
]
