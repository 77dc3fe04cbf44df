"""Pay orders: idempotent insert and the conditional state transitions.

Every transition is one ``UPDATE ... WHERE order_id = :id AND status = :from [AND ...]``;
when it matched, the outbox event is written in the same transaction, otherwise nothing
happens and the row is returned as it is (duplicate and racing callbacks are no-ops).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from paymesh.core.db.audit import FAST_INSERT_LOG, ChannelCall, channel_request_row
from paymesh.core.db.base import Created, StoreBase, Transition, rowcount
from paymesh.core.db.batch import RowBatcher, StepBatcher, run_steps
from paymesh.core.db.events import ORDER_CLOSED, ORDER_PAID, order_payload
from paymesh.core.db.fastexec import Prepared
from paymesh.core.db.models import OrderStatus, PayOrder
from paymesh.errors import DuplicateOutTradeNo, InvalidArgument, OrderNotFound
from paymesh.runtime import metrics

DEFAULT_EXPIRE_SECONDS = 900
ORDERS: sa.Table = PayOrder.__table__  # type: ignore[assignment]
# Attribute name -> column name (`meta` is stored as `metadata`), and a SELECT of the whole
# row labelled by attribute names, so a Core row builds the model without the ORM session.
COLUMN_OF = {a.key: a.columns[0].name for a in sa.inspect(PayOrder).column_attrs}
_SELECT_ROW = sa.select(*(ORDERS.c[col].label(attr) for attr, col in COLUMN_OF.items()))


# Statements built once: their compiled form is cached without a cache key per call.
_INSERT = Prepared(ORDERS.insert(), tuple(COLUMN_OF.values()))  # every column: `_params`
# CreateOrder's pay data: PENDING and unchanged since the insert (`store_pay_data`, `before`).
_STORE_PAY_DATA = Prepared(
    ORDERS.update()
    .where(
        ORDERS.c.order_id == sa.bindparam("w_order_id"),
        ORDERS.c.status == OrderStatus.PENDING.value,
        ORDERS.c.version == sa.bindparam("w_version"),
    )
    .values(
        pay_data=sa.bindparam("pay_data"),
        channel_trade_no=sa.bindparam("channel_trade_no"),
        updated_at=sa.bindparam("updated_at"),
        version=ORDERS.c.version + 1,
    )
)
_BY_ID = _SELECT_ROW.where(ORDERS.c.order_id == sa.bindparam("order_id"))
_BY_OUT_TRADE_NO = _SELECT_ROW.where(
    ORDERS.c.app_id == sa.bindparam("app_id"),
    ORDERS.c.out_trade_no == sa.bindparam("out_trade_no"),
)


def _params(order: PayOrder) -> dict[str, Any]:
    return {col: getattr(order, attr) for attr, col in COLUMN_OF.items()}


async def _fetch(
    conn: AsyncConnection, stmt: sa.Select[Any], params: dict[str, Any]
) -> PayOrder | None:
    row = (await conn.execute(stmt, params)).first()
    return None if row is None else PayOrder(**row._mapping)


def _after(before: PayOrder, values: Mapping[str, Any]) -> PayOrder:
    """The row an UPDATE guarded on ``before.version`` left: ``before`` plus ``values``."""
    return PayOrder(**{attr: getattr(before, attr) for attr in COLUMN_OF} | dict(values))


@dataclass(frozen=True)
class NewOrder:
    app_id: str
    out_trade_no: str
    amount: int
    channel: str
    account_id: str
    method: str
    currency: str = "CNY"
    subject: str = ""
    description: str = ""
    notify_url: str = ""
    return_url: str = ""
    client_ip: str = ""
    payer_id: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    expire_seconds: int = DEFAULT_EXPIRE_SECONDS
    order_id: str = ""  # generated when empty


def same_order(existing: PayOrder, new: NewOrder) -> bool:
    """Idempotency: a retry carries the same amount, currency, channel and method (a
    cashier order's channel is the wallet the payer chose since: not compared)."""
    if existing.method == new.method == "cashier":
        return existing.amount == new.amount and existing.currency == new.currency
    return (
        existing.amount == new.amount
        and existing.currency == new.currency
        and existing.channel == new.channel
        and existing.method == new.method
    )


class OrderStore(StoreBase):
    _inserts: RowBatcher | None = None

    _stores: StepBatcher | None = None

    def _order_inserts(self) -> RowBatcher:
        self._inserts = self._inserts or RowBatcher(self._run_core, _INSERT)
        return self._inserts

    def _pay_data_stores(self) -> StepBatcher:
        self._stores = self._stores or StepBatcher(self._run_core, FAST_INSERT_LOG)
        return self._stores

    async def insert_order(self, new: NewOrder) -> Created[PayOrder]:
        """Insert a PENDING order, or return the existing one for a retried request.

        Raises DuplicateOutTradeNo when (app_id, out_trade_no) exists with other values.
        """
        if new.amount <= 0:
            raise InvalidArgument("amount must be positive", field="amount")
        now = self.clock()
        order_id = new.order_id or self.ids.order_id()

        def build() -> PayOrder:
            return PayOrder(
                order_id=order_id,
                app_id=new.app_id,
                out_trade_no=new.out_trade_no,
                amount=new.amount,
                currency=new.currency,
                channel=new.channel,
                account_id=new.account_id,
                method=new.method,
                status=OrderStatus.PENDING.value,
                subject=new.subject,
                description=new.description,
                notify_url=new.notify_url,
                return_url=new.return_url,
                client_ip=new.client_ip,
                payer_id=new.payer_id,
                meta=dict(new.metadata),
                pay_data=None,
                channel_trade_no="",
                fail_reason="",
                refunded_amount=0,
                pending_refund_amount=0,
                expire_time=now + timedelta(seconds=new.expire_seconds),
                created_at=now,
                updated_at=now,
                version=1,
            )

        async def tx(conn: AsyncConnection) -> PayOrder:
            order = build()  # inside the transaction: a retried one inserts a fresh row
            await _INSERT.execute(conn, _params(order))
            return order

        try:
            if _INSERT.direct(self.engine.dialect):  # group commit (`batch.RowBatcher`)
                inserted = build()
                await self._order_inserts().insert(_params(inserted))
            else:
                inserted = await self._run_core(tx)
        except IntegrityError:
            existing = await self.get_order_by_out_trade_no(new.app_id, new.out_trade_no)
            if existing is None:
                raise
        else:
            metrics.order_moved(new.channel, "created")
            return Created(inserted, True)
        if same_order(existing, new):
            return Created(existing, False)
        raise DuplicateOutTradeNo(
            "out_trade_no already used with a different amount, currency, channel or method",
            metadata={"out_trade_no": new.out_trade_no, "order_id": existing.order_id},
        )

    async def get_order(self, order_id: str, app_id: str | None = None) -> PayOrder | None:
        """The order, or None (also None when it belongs to another app)."""

        async def tx(conn: AsyncConnection) -> PayOrder | None:
            return await _fetch(conn, _BY_ID, {"order_id": order_id})

        row = await self._run_core(tx)
        if row is None or (app_id is not None and row.app_id != app_id):
            return None
        return row

    async def get_order_by_out_trade_no(self, app_id: str, out_trade_no: str) -> PayOrder | None:
        async def tx(conn: AsyncConnection) -> PayOrder | None:
            return await _fetch(
                conn, _BY_OUT_TRADE_NO, {"app_id": app_id, "out_trade_no": out_trade_no}
            )

        return await self._run_core(tx)

    async def list_orders(
        self,
        status: OrderStatus,
        *,
        created_before: datetime | None = None,
        expire_before: datetime | None = None,
        limit: int = 100,
    ) -> list[PayOrder]:
        """Orders in ``status`` (oldest first) for the monitor's sweeps."""

        async def tx(s: AsyncSession) -> list[PayOrder]:
            stmt = sa.select(PayOrder).where(PayOrder.status == status.value)
            if created_before is not None:
                stmt = stmt.where(PayOrder.created_at < created_before)
            if expire_before is not None:
                stmt = stmt.where(PayOrder.expire_time < expire_before)
            stmt = stmt.order_by(PayOrder.created_at, PayOrder.order_id).limit(limit)
            return list((await s.execute(stmt)).scalars())

        return await self._run(tx)

    async def _order_transition(
        self,
        order_id: str,
        guard: list[sa.ColumnElement[bool]],
        values: Mapping[str, Any],
        event_type: str | None,
        log: Sequence[ChannelCall] = (),
        before: PayOrder | None = None,
    ) -> Transition[PayOrder]:
        """One conditional UPDATE (Core, no unit of work), the row as it is now, the outbox
        event when it matched, and ``log`` (channel exchanges) in the same transaction.

        With ``before`` (the row as the caller last saw it) the UPDATE is also guarded on
        its version: when that matches, the new row is ``before`` plus the changes and is not
        read back; when it does not, the ordinary transition runs."""
        now = self.clock()
        changes = {COLUMN_OF[k]: v for k, v in values.items()}
        changes |= {"updated_at": now, "version": ORDERS.c.version + 1}
        where = [ORDERS.c.order_id == order_id, *guard]
        if before is not None:
            where.append(ORDERS.c.version == before.version)
        stmt = ORDERS.update().where(*where).values(changes)
        log_rows = [channel_request_row(c, self.ids.next_id("CR"), now) for c in log]

        async def tx(conn: AsyncConnection) -> Transition[PayOrder] | None:
            changed = rowcount(await conn.execute(stmt)) == 1
            if before is not None and not changed:
                return None  # moved since the caller saw it: the ordinary transition decides
            if before is not None:
                row: PayOrder | None = _after(
                    before, {**values, "updated_at": now, "version": before.version + 1}
                )
            else:
                row = await _fetch(conn, _BY_ID, {"order_id": order_id})
            if row is None:
                raise OrderNotFound("order not found", metadata={"order_id": order_id})
            if changed and event_type is not None:
                await self._emit_core(
                    conn,
                    event_type=event_type,
                    app_id=row.app_id,
                    aggregate_id=row.order_id,
                    notify_url=row.notify_url,
                    payload=order_payload(row, event_type),
                )
            if log_rows:
                await FAST_INSERT_LOG.execute(conn, log_rows)
            return Transition(row, changed)

        moved = await self._run_core(tx)
        if moved is None:
            return await self._order_transition(order_id, guard, values, event_type, log)
        if moved.changed and "status" in values:
            metrics.order_moved(moved.row.channel, values["status"])
        return moved

    async def mark_paid(
        self,
        order_id: str,
        amount: int,
        channel_trade_no: str,
        paid_at: datetime,
        *,
        before: PayOrder | None = None,
    ) -> Transition[PayOrder]:
        """PENDING -> PAID when the paid amount equals the order's; emits ``order.paid``.

        Anything else (already paid, closed, failed, other amount) changes nothing:
        ``changed`` is False and the caller compares ``row`` to decide what to report.
        ``before``: the order as the caller just read it (see `_order_transition`).
        """
        return await self._order_transition(
            order_id,
            [PayOrder.status == OrderStatus.PENDING.value, PayOrder.amount == amount],
            {
                "status": OrderStatus.PAID.value,
                "channel_trade_no": channel_trade_no,
                "paid_at": paid_at,
            },
            ORDER_PAID,
            before=before,
        )

    async def mark_closed(
        self, order_id: str, closed_at: datetime | None = None
    ) -> Transition[PayOrder]:
        """PENDING -> CLOSED (expired or closed by the merchant); emits ``order.closed``."""
        return await self._order_transition(
            order_id,
            [PayOrder.status == OrderStatus.PENDING.value],
            {"status": OrderStatus.CLOSED.value, "closed_at": closed_at or self.clock()},
            ORDER_CLOSED,
        )

    async def mark_failed(self, order_id: str, reason: str = "") -> Transition[PayOrder]:
        """PENDING -> FAILED (the channel said no for good). No merchant event exists."""
        return await self._order_transition(
            order_id,
            [PayOrder.status == OrderStatus.PENDING.value],
            {"status": OrderStatus.FAILED.value, "fail_reason": reason[:256]},
            None,
        )

    async def claim_pay_redrive(self, order: PayOrder, idle_before: datetime) -> bool:
        """Claim the right to drive an unanswered order's Pay again: one conditional UPDATE
        on the version the caller saw, only if the row has not moved since `idle_before`
        (so the first attempt's call is over). Concurrent retries: one wins."""
        stmt = (
            ORDERS.update()
            .where(
                ORDERS.c.order_id == order.order_id,
                ORDERS.c.version == order.version,
                ORDERS.c.status == OrderStatus.PENDING.value,
                ORDERS.c.updated_at <= idle_before,
            )
            .values(updated_at=self.clock(), version=ORDERS.c.version + 1)
        )

        async def tx(conn: AsyncConnection) -> bool:
            return rowcount(await conn.execute(stmt)) == 1

        return await self._run_core(tx)

    async def store_pay_data(
        self,
        order_id: str,
        pay_data: Mapping[str, Any],
        channel_trade_no: str = "",
        *,
        log: Sequence[ChannelCall] = (),
        before: PayOrder | None = None,
    ) -> Transition[PayOrder]:
        """Save the channel's pay data (and trade number) while the order is PENDING, with
        the channel exchanges that produced it (`log`) in the same transaction. ``before``:
        the order as just inserted, to skip reading it back (see `_order_transition`)."""
        values: dict[str, Any] = {"pay_data": dict(pay_data)}
        if channel_trade_no:
            values["channel_trade_no"] = channel_trade_no
        if before is not None and before.status == OrderStatus.PENDING.value:
            stored = await self._store_pay_data_unchanged(before, values, log)
            if stored is not None:
                return stored
            before = None  # moved since: the ordinary transition decides
        return await self._order_transition(
            order_id, [PayOrder.status == OrderStatus.PENDING.value], values, None, log, before
        )

    async def _store_pay_data_unchanged(
        self, before: PayOrder, values: Mapping[str, Any], log: Sequence[ChannelCall]
    ) -> Transition[PayOrder] | None:
        """`store_pay_data` on the order as just inserted: one prepared UPDATE guarded on its
        version and PENDING, and the log rows; None when the row moved since."""
        now = self.clock()
        log_rows = [channel_request_row(c, self.ids.next_id("CR"), now) for c in log]
        params = {
            "w_order_id": before.order_id,
            "w_version": before.version,
            "pay_data": values["pay_data"],
            "channel_trade_no": values.get("channel_trade_no", before.channel_trade_no),
            "updated_at": now,
        }

        async def step(conn: AsyncConnection) -> tuple[bool, list[dict[str, Any]]]:
            changed = await _STORE_PAY_DATA.execute(conn, params) == 1
            return changed, log_rows if changed else []

        if _STORE_PAY_DATA.direct(self.engine.dialect):  # with others' (`batch.StepBatcher`)
            changed = await self._pay_data_stores().run(step)
        else:
            changed = (await self._run_core(lambda c: run_steps(c, [step], FAST_INSERT_LOG)))[0]
        if not changed:
            return None
        return Transition(
            _after(before, {**values, "updated_at": now, "version": before.version + 1}), True
        )
