"""`Store`: the only way the gateways read and change orders, refunds, transfers, outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from paymesh.core.db.audit import AuditStore
from paymesh.core.db.base import Created, Transition
from paymesh.core.db.cashier import CashierStore
from paymesh.core.db.engine import create_engine, session_factory
from paymesh.core.db.late import LatePaymentStore, NewLatePayment
from paymesh.core.db.orders import NewOrder, OrderStore
from paymesh.core.db.outbox import OutboxStore
from paymesh.core.db.refunds import NewRefund, RefundStore
from paymesh.core.db.transfers import NewTransfer, TransferStore
from paymesh.core.ids import IdGenerator
from paymesh.runtime.clock import utcnow


class Store(
    CashierStore, OrderStore, RefundStore, TransferStore, OutboxStore, AuditStore, LatePaymentStore
):
    @classmethod
    def from_url(
        cls,
        url: str,
        ids: IdGenerator,
        clock: Callable[[], datetime] = utcnow,
        **engine_kwargs: Any,
    ) -> Store:
        engine = create_engine(url, **engine_kwargs)
        return cls(engine, session_factory(engine), ids, clock)

    async def close(self) -> None:
        await self.engine.dispose()


__all__ = [
    "Created",
    "NewLatePayment",
    "NewOrder",
    "NewRefund",
    "NewTransfer",
    "Store",
    "Transition",
]
