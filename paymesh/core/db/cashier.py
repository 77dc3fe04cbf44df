"""Cashier orders: binding an order to the wallet the payer chose, conditionally.

A cashier order starts with no channel. `bind_cashier` moves it to a wallet's channel
account in one guarded UPDATE: only while it is PENDING, still a cashier order and still
on the channel account the caller saw (`from_channel`/`from_account`, empty for a fresh
order). Two payers (or two tabs) committing at once: one wins, the other sees `changed`
False and the row as it is now. No merchant event: the order's status does not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from paymesh.core.db.base import Transition
from paymesh.core.db.events import ORDER_CLOSED
from paymesh.core.db.models import OrderStatus, PayOrder
from paymesh.core.db.orders import OrderStore


class CashierStore(OrderStore):
    async def bind_cashier(
        self,
        order_id: str,
        *,
        from_channel: str,
        from_account: str,
        channel: str,
        account_id: str,
        pay_data: Mapping[str, Any],
        now: datetime,
    ) -> Transition[PayOrder]:
        """Point a PENDING cashier order at `channel`/`account_id` with `pay_data` (its
        cashier links plus the attempt), if it is still where the caller saw it."""
        return await self._order_transition(
            order_id,
            [
                PayOrder.status == OrderStatus.PENDING.value,
                PayOrder.method == "cashier",
                PayOrder.channel == from_channel,
                PayOrder.account_id == from_account,
                PayOrder.expire_time > now,
            ],
            {
                "channel": channel,
                "account_id": account_id,
                "pay_data": dict(pay_data),
                "channel_trade_no": "",
            },
            None,
        )

    async def close_unbound_cashier(self, order_id: str, now: datetime) -> Transition[PayOrder]:
        """PENDING -> CLOSED for a cashier order no wallet committed to (no trade exists
        anywhere, so no channel is asked); emits ``order.closed``. A bind that won the race
        leaves it PENDING for the ordinary channel-first close."""
        return await self._order_transition(
            order_id,
            [PayOrder.status == OrderStatus.PENDING.value, PayOrder.channel == ""],
            {"status": OrderStatus.CLOSED.value, "closed_at": now},
            ORDER_CLOSED,
        )


__all__ = ["CashierStore"]
