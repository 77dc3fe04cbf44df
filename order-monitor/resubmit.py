"""Resubmission of refunds and transfers the provider never received.

After an unclear submission (timeout, 5xx, busy code) a refund or transfer stays PENDING
with its money reserved, and the monitor queries it. When the provider answers that it has
no such refund or transfer (WeChat 404 RESOURCE_NOT_EXISTS / NOT_FOUND, Alipay's empty
refund query or ORDER_NOT_EXIST), the request never reached it: both providers tell
merchants to send it again *with the same merchant number* (WeChat: "请使用原商户退款单号"
/ "请商户务必不要立即更换商户订单号重试"; Alipay: "重试时请务必保证退款请求号一致"), which
they treat idempotently, so a resubmission can never pay twice.

Each resubmission is claimed with one conditional UPDATE on ``submit_attempts`` (two
monitors never resubmit for the same answer), counted against a budget, logged, and its
reason kept in ``pending_reason``; the provider exchange lands in the channel log. A
definitive refusal of the resubmission fails the record (the provider said it has none and
will not create it); an unclear answer keeps it PENDING. Past the budget the record stays
PENDING with its reason, for a person.
"""

from __future__ import annotations

from dataclasses import dataclass

from paymesh.core.db.models import Refund, RefundStatus, Transfer, TransferStatus
from paymesh.core.deps import CoreDeps
from paymesh.core.submit import submit_refund, submit_transfer
from paymesh.errors import ChannelError, ChannelNotEnabled, OrderNotFound
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.order_monitor")

DEFAULT_RESUBMIT_BUDGET = 5


@dataclass(frozen=True)
class Resubmitted:
    status: str
    changed: bool


def exhausted_reason(kind: str, attempts: int, provider_state: str) -> str:
    return (
        f"{kind} not found at the provider ({provider_state}) after {attempts} "
        "resubmissions: needs a person"
    )


async def resubmit_refund(
    deps: CoreDeps, refund: Refund, provider_state: str, budget: int
) -> Resubmitted:
    store = deps.store
    attempt = refund.submit_attempts + 1
    if refund.submit_attempts >= budget:
        reason = exhausted_reason("refund", refund.submit_attempts, provider_state)
        if refund.pending_reason != reason:
            await store.note_pending_refund(
                refund.refund_id, pending_reason=reason, channel_state=provider_state
            )
            log.warning("refund_resubmit_budget_exhausted", refund_id=refund.refund_id)
        return Resubmitted(refund.status, False)
    reason = f"resubmit {attempt}/{budget}: provider has no such refund ({provider_state})"
    claim = await store.claim_refund_resubmit(refund.refund_id, refund.submit_attempts, reason)
    if not claim.changed:
        return Resubmitted(claim.row.status, False)
    log.info("refund_resubmitted", refund_id=refund.refund_id, attempt=attempt, reason=reason)
    order = await store.get_order(refund.order_id)
    if order is None:
        raise OrderNotFound("refund's order not found", metadata={"order_id": refund.order_id})
    try:
        row = await submit_refund(deps, order, claim.row)
    except ChannelError:  # refused: submit_refund failed it (the provider has none)
        return Resubmitted(RefundStatus.FAILED.value, True)
    return Resubmitted(row.status, row.status != RefundStatus.PENDING.value)


async def resubmit_transfer(
    deps: CoreDeps, transfer: Transfer, provider_state: str, budget: int
) -> Resubmitted:
    store = deps.store
    attempt = transfer.submit_attempts + 1
    if transfer.submit_attempts >= budget:
        reason = exhausted_reason("transfer", transfer.submit_attempts, provider_state)
        if transfer.pending_reason != reason:
            await store.note_pending_transfer(
                transfer.transfer_id, pending_reason=reason, channel_state=provider_state
            )
            log.warning("transfer_resubmit_budget_exhausted", transfer_id=transfer.transfer_id)
        return Resubmitted(transfer.status, False)
    reason = f"resubmit {attempt}/{budget}: provider has no such transfer ({provider_state})"
    claim = await store.claim_transfer_resubmit(
        transfer.transfer_id, transfer.submit_attempts, reason
    )
    if not claim.changed:
        return Resubmitted(claim.row.status, False)
    log.info(
        "transfer_resubmitted", transfer_id=transfer.transfer_id, attempt=attempt, reason=reason
    )
    try:
        row = await submit_transfer(deps, claim.row)
    except (ChannelError, ChannelNotEnabled):  # refused: submit_transfer failed it
        return Resubmitted(TransferStatus.FAILED.value, True)
    return Resubmitted(row.status, row.status != TransferStatus.PENDING.value)


__all__ = ["DEFAULT_RESUBMIT_BUDGET", "Resubmitted", "resubmit_refund", "resubmit_transfer"]
