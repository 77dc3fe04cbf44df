"""Our books for a reconciliation run: the orders and refunds of a channel account that a
bill names or that settled within its day, as the matcher's views (`recon.match`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from paymesh.channel.v1 import channel_pb2
from paymesh.core.db.base import StoreBase
from paymesh.core.db.models import LatePayment, OrderStatus, PayOrder, Refund, RefundStatus
from paymesh.recon.match import OrderView, RefundView

_CHUNK = 500


@dataclass(frozen=True)
class RunKey:
    channel: str
    account_id: str
    bill_date: str  # yyyy-MM-dd


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


def order_view(o: PayOrder, late_amount: int = 0) -> OrderView:
    return OrderView(
        o.order_id, o.app_id, o.channel, o.account_id, o.amount, o.status, o.paid_at, late_amount
    )


def refund_view(r: Refund) -> RefundView:
    return RefundView(
        r.refund_id, r.order_id, r.app_id, r.channel, r.account_id, r.amount, r.status,
        r.succeeded_at,
    )  # fmt: skip


class Books(StoreBase):
    """Reads paymesh's core tables (never writes them)."""

    async def books(
        self, key: RunKey, window: tuple[datetime, datetime], lines: Sequence[channel_pb2.BillLine]
    ) -> tuple[dict[str, OrderView], dict[str, RefundView]]:
        """Our orders and refunds the lines name, plus those of the account settled in the
        window (PAID orders by paid_at, SUCCEEDED refunds by succeeded_at)."""
        order_ids = sorted({ln.order_id for ln in lines if ln.order_id})
        refund_ids = sorted({ln.refund_id for ln in lines if ln.refund_id})

        async def tx(s: AsyncSession) -> tuple[dict[str, OrderView], dict[str, RefundView]]:
            orders: dict[str, OrderView] = {}
            refunds: dict[str, RefundView] = {}
            for chunk in _chunks(order_ids):
                for o in await s.scalars(sa.select(PayOrder).where(PayOrder.order_id.in_(chunk))):
                    orders[o.order_id] = order_view(o)
            for o in await s.scalars(
                sa.select(PayOrder).where(
                    PayOrder.channel == key.channel,
                    PayOrder.account_id == key.account_id,
                    PayOrder.status == OrderStatus.PAID,
                    PayOrder.paid_at >= window[0],
                    PayOrder.paid_at < window[1],
                )
            ):
                orders[o.order_id] = order_view(o)
            for chunk in _chunks(refund_ids):
                for r in await s.scalars(sa.select(Refund).where(Refund.refund_id.in_(chunk))):
                    refunds[r.refund_id] = refund_view(r)
            for r in await s.scalars(
                sa.select(Refund).where(
                    Refund.channel == key.channel,
                    Refund.account_id == key.account_id,
                    Refund.status == RefundStatus.SUCCEEDED,
                    Refund.succeeded_at >= window[0],
                    Refund.succeeded_at < window[1],
                )
            ):
                refunds[r.refund_id] = refund_view(r)
            late_ids = [o.order_id for o in orders.values() if o.status != OrderStatus.PAID]
            for chunk in _chunks(late_ids):
                q = sa.select(LatePayment).where(LatePayment.order_id.in_(chunk))
                for late in await s.scalars(q):
                    view = orders[late.order_id]
                    orders[late.order_id] = replace(view, late_amount=late.amount)
            return orders, refunds

        return await self._run(tx)


__all__ = ["Books", "RunKey", "order_view", "refund_view"]
