"""Transfers (payouts): create and query (with sync)."""

from __future__ import annotations

from paymesh.channel.v1 import channel_service_pb2 as ch
from paymesh.core.apply import apply_transfer
from paymesh.core.db.convert import transfer_message
from paymesh.core.db.models import Transfer, TransferStatus
from paymesh.core.db.transfers import NewTransfer
from paymesh.core.submit import cancel_at_channel, submit_transfer, transfer_account
from paymesh.errors import (
    ChannelError,
    ChannelUnavailable,
    InvalidArgument,
    TransferNotCancellable,
    TransferNotFound,
)
from paymesh.gateway.deps import Deps, route
from paymesh.gateway.validation import (
    validate_cancel_transfer,
    validate_create_transfer,
    validate_query,
)
from paymesh.merchant.v1 import query_service_pb2 as query_pb
from paymesh.merchant.v1 import transfer_pb2
from paymesh.merchant.v1 import transfer_service_pb2 as transfer_pb
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.transfers")

TRANSFER_ROUTE = "transfer"


async def create_transfer(
    deps: Deps, req: transfer_pb.CreateTransferRequest
) -> transfer_pb2.Transfer:
    validate_create_transfer(req)
    app = await deps.authenticated_app(req)
    target = route(app, req.channel, TRANSFER_ROUTE)
    created = await deps.store.insert_transfer(
        NewTransfer(
            app_id=req.app_id,
            out_transfer_no=req.out_transfer_no,
            amount=req.amount,
            channel=target.channel,
            account_id=target.account_id,
            payee_id=req.payee_id,
            currency=req.currency or "CNY",
            payee_name=req.payee_name,
            remark=req.remark,
            notify_url=req.notify_url or app.notify_url or "",
            metadata=dict(req.metadata),
        )
    )
    transfer = created.row
    if not created.created:
        return transfer_message(transfer)
    return transfer_message(await submit_transfer(deps, transfer))


CANCELLED_STATES = frozenset({"CANCELLED", "CANCELING"})


async def cancel_transfer(
    deps: Deps, req: transfer_pb.CancelTransferRequest
) -> transfer_pb2.Transfer:
    """The merchant cancels a transfer its payee has not confirmed (WeChat WAIT_USER_CONFIRM).
    Idempotent: a transfer already cancelled is returned as it is."""
    validate_cancel_transfer(req)
    await deps.authenticated_app(req)
    transfer = await deps.store.get_transfer(req.transfer_id, req.app_id)
    if transfer is None:
        raise TransferNotFound("transfer not found")
    if transfer.channel_state in CANCELLED_STATES:
        return transfer_message(transfer)
    if transfer.status != TransferStatus.PENDING.value:
        raise TransferNotCancellable(
            f"transfer is {transfer.status}",
            metadata={"transfer_id": transfer.transfer_id, "status": transfer.status},
        )
    return transfer_message(await cancel_at_channel(deps, transfer))


async def sync_transfer(deps: Deps, transfer: Transfer) -> Transfer:
    if transfer.status != TransferStatus.PENDING.value:
        return transfer
    call = ch.QueryTransferRequest(
        account=transfer_account(transfer), transfer_id=transfer.transfer_id
    )
    try:
        resp = await deps.channels.call(
            "QueryTransfer", call, kind="transfer", object_id=transfer.transfer_id
        )
    except (ChannelUnavailable, ChannelError) as e:
        log.info(
            "sync_transfer_inconclusive", transfer_id=transfer.transfer_id, reason=e.reason.value
        )
        return transfer
    return (await apply_transfer(deps.store, transfer, resp.transfer, deps.clock())).row


async def query_transfer(deps: Deps, req: query_pb.QueryTransferRequest) -> transfer_pb2.Transfer:
    validate_query(req)
    await deps.authenticated_app(req)
    if req.transfer_id:
        transfer = await deps.store.get_transfer(req.transfer_id, req.app_id)
    elif req.out_transfer_no:
        transfer = await deps.store.get_transfer_by_out_transfer_no(req.app_id, req.out_transfer_no)
    else:
        raise InvalidArgument("transfer_id or out_transfer_no is required", field="transfer_id")
    if transfer is None:
        raise TransferNotFound("transfer not found")
    if req.sync:
        transfer = await sync_transfer(deps, transfer)
    return transfer_message(transfer)
