"""Outbox payloads: the unsigned merchant `Notification` fields.

Field names are the `paymesh.events.v1.Notification` names; empty values are left out.
The notifier adds ``timestamp``, ``sign_type`` and ``sign`` at delivery time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paymesh.core.db.base import compact, rfc3339
from paymesh.core.db.models import PayOrder, Refund, Transfer

ORDER_PAID = "order.paid"
ORDER_CLOSED = "order.closed"
REFUND_SUCCEEDED = "refund.succeeded"
REFUND_FAILED = "refund.failed"
TRANSFER_SUCCEEDED = "transfer.succeeded"
TRANSFER_FAILED = "transfer.failed"

Payload = Callable[[str], dict[str, Any]]


def order_payload(order: PayOrder, event_type: str) -> Payload:
    def build(event_id: str) -> dict[str, Any]:
        return compact(
            {
                "event_id": event_id,
                "event_type": event_type,
                "app_id": order.app_id,
                "order_id": order.order_id,
                "out_trade_no": order.out_trade_no,
                "amount": order.amount,
                "currency": order.currency,
                "status": order.status,
                "channel": order.channel,
                "channel_trade_no": order.channel_trade_no,
                "paid_at": rfc3339(order.paid_at),
                "metadata": dict(order.meta or {}),
            }
        )

    return build


def refund_payload(refund: Refund, event_type: str) -> Payload:
    def build(event_id: str) -> dict[str, Any]:
        return compact(
            {
                "event_id": event_id,
                "event_type": event_type,
                "app_id": refund.app_id,
                "order_id": refund.order_id,
                "out_trade_no": refund.out_trade_no,
                "refund_id": refund.refund_id,
                "out_refund_no": refund.out_refund_no,
                "amount": refund.amount,
                "currency": refund.currency,
                "status": refund.status,
                "channel": refund.channel,
                "metadata": dict(refund.meta or {}),
            }
        )

    return build


def transfer_payload(transfer: Transfer, event_type: str) -> Payload:
    def build(event_id: str) -> dict[str, Any]:
        return compact(
            {
                "event_id": event_id,
                "event_type": event_type,
                "app_id": transfer.app_id,
                "transfer_id": transfer.transfer_id,
                "out_transfer_no": transfer.out_transfer_no,
                "amount": transfer.amount,
                "currency": transfer.currency,
                "status": transfer.status,
                "channel": transfer.channel,
                "metadata": dict(transfer.meta or {}),
            }
        )

    return build
