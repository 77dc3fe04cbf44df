"""The order monitor: settles what callbacks missed.

A sweep asks the channel about PENDING orders, refunds and transfers older than
``pending_after`` and applies each answer through the shared ``apply_*`` transitions, the
same code callbacks and sync queries use, so a record gets the same outbox event whoever
settles it first; a lost race is a no-op. Orders past their ``expire_time`` that the
provider still reports unpaid are closed at the channel first, and only a close the channel
confirmed becomes CLOSED here. Anything unclear leaves the record PENDING for a later
sweep, with a per-record exponential backoff so a stuck record neither hammers the channel
nor blocks the others.

Late payments: CLOSED and FAILED orders whose expiry (plus ``late_margin``) has not passed are
asked about too, since the provider may still take a payment for them; a payment found is
handled by ``paymesh.core.late`` (recorded, the app's policy applied, ``order.late_paid``).

A refund or transfer the provider says it never received is resubmitted with the same
merchant number, within a budget (``resubmit.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as ch
from paymesh.core.apply import apply_refund, apply_transfer
from paymesh.core.db.models import (
    OrderStatus,
    PayOrder,
    Refund,
    RefundStatus,
    Transfer,
    TransferStatus,
)
from paymesh.core.deps import CoreDeps
from paymesh.core.late import settle_trade
from paymesh.core.submit import cancel_at_channel
from paymesh.errors import ChannelError, PaymeshError
from paymesh.order_monitor.backoff import Backoff
from paymesh.order_monitor.resubmit import (
    DEFAULT_RESUBMIT_BUDGET,
    resubmit_refund,
    resubmit_transfer,
)
from paymesh.runtime import metrics
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.order_monitor")
TS = channel_pb2.TradeState

DEFAULT_PENDING_AFTER = timedelta(seconds=60)
DEFAULT_INTERVAL = 10.0
DEFAULT_BATCH = 100
DEFAULT_CONCURRENCY = 4
DEFAULT_BACKOFF_CAP = 300.0
# A WeChat transfer waiting for its payee (WAIT_USER_CONFIRM) this long is cancelled.
DEFAULT_CONFIRM_TTL = timedelta(hours=24)
WAIT_USER_CONFIRM = "WAIT_USER_CONFIRM"
# A provider may still take a payment up to the trade's expiry there (an Alipay page/h5/app
# URL stays payable until its time_expire even when paymesh closed the order first), and its
# report may come a little later: CLOSED/FAILED orders are watched until expiry + this margin.
DEFAULT_LATE_MARGIN = timedelta(minutes=10)
# Barcode payments still unconfirmed (Alipay 10003 / unknown): poll ~30 s, then cancel
# (Alipay 当面付: alipay.trade.query, then alipay.trade.cancel; the channel's barcode Close).
DEFAULT_BARCODE_WAIT, BARCODE = timedelta(seconds=30), "barcode"
# A refund or transfer PENDING longer than this is overdue (paymesh_monitor_overdue_records).
OVERDUE_AFTER = timedelta(hours=1)
# Records in backoff are fetched but skipped; fetch at most this many batches' worth extra
# so that records waiting out their backoff never crowd the due ones out of a sweep.
_MAX_EXTRA_BATCHES = 10

Check = Callable[[], Awaitable["CheckOutcome"]]


@dataclass(frozen=True)
class CheckOutcome:
    """The record's status after a check; ``changed`` when this check made the transition."""

    status: str
    changed: bool
    open: bool


@dataclass
class SweepReport:
    checked: list[str] = field(default_factory=list)
    """Ids asked at the channel in this sweep (orders, refunds, transfers)."""
    settled: dict[str, str] = field(default_factory=dict)
    """Id -> new status, for records whose transition this sweep made."""
    deferred: list[str] = field(default_factory=list)
    """Ids skipped: their backoff has not elapsed, or the sweep's batch was full."""
    failed: list[str] = field(default_factory=list)
    """Ids whose check ended in an error (channel unavailable or refused, anything else)."""


def _account(channel: str, account_id: str) -> channel_pb2.AccountRef:
    return channel_pb2.AccountRef(channel=channel, account_id=account_id)


class OrderMonitor:
    def __init__(
        self,
        deps: CoreDeps,
        *,
        pending_after: timedelta = DEFAULT_PENDING_AFTER,
        interval: float = DEFAULT_INTERVAL,
        batch: int = DEFAULT_BATCH,
        clock: Callable[[], datetime] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        backoff_base: float | None = None,
        backoff_cap: float = DEFAULT_BACKOFF_CAP,
        late_margin: timedelta = DEFAULT_LATE_MARGIN,
        resubmit_budget: int = DEFAULT_RESUBMIT_BUDGET,
        confirm_ttl: timedelta = DEFAULT_CONFIRM_TTL,
        barcode_wait: timedelta = DEFAULT_BARCODE_WAIT,
    ) -> None:
        if batch <= 0 or concurrency <= 0 or interval <= 0:
            raise ValueError("batch, concurrency and interval must be positive")
        self.deps = deps
        self.pending_after = pending_after
        self.interval = interval
        self.batch = batch
        self.clock = clock or deps.clock
        self.concurrency = concurrency
        self.late_margin = late_margin
        self.resubmit_budget = resubmit_budget
        self.confirm_ttl = confirm_ttl
        self.barcode_wait = barcode_wait
        base = interval if backoff_base is None else backoff_base
        self.backoff = Backoff(base, max(base, backoff_cap))
        self._stop = asyncio.Event()

    # --- loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Sweep every ``interval`` seconds until ``stop()``; a failed sweep is logged."""
        log.info("monitor_started", interval=self.interval, pending_after=str(self.pending_after))
        while not self._stop.is_set():
            try:
                report = await self.sweep_once()
            except Exception:
                metrics.MONITOR_SWEEPS.labels("failed").inc()
                log.exception("monitor_sweep_failed")
            else:
                if report.checked or report.failed:
                    log.info(
                        "monitor_sweep",
                        checked=len(report.checked),
                        settled=len(report.settled),
                        deferred=len(report.deferred),
                        failed=len(report.failed),
                    )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval)
        log.info("monitor_stopped")

    def stop(self) -> None:
        self._stop.set()

    # --- one sweep ------------------------------------------------------------------------

    async def sweep_once(self) -> SweepReport:
        now = self.clock()
        self.backoff.prune(now)
        report = SweepReport()
        stale_before = now - self.pending_after
        limit = self.batch + min(len(self.backoff), self.batch * _MAX_EXTRA_BATCHES)
        store = self.deps.store
        jobs: list[tuple[str, str, Check]] = []

        # Expired orders first (they are due a close), then the merely stale ones.
        orders: dict[str, PayOrder] = {}
        for o in await store.list_orders(OrderStatus.PENDING, expire_before=now, limit=limit):
            orders[o.order_id] = o
        overdue = {"order": len(orders), "refund": 0, "transfer": 0}
        overdue_before = now - OVERDUE_AFTER
        for o in await store.list_orders(
            OrderStatus.PENDING, created_before=stale_before, limit=limit
        ):
            orders.setdefault(o.order_id, o)
        early = now - self.barcode_wait  # barcode orders are due earlier
        for o in await store.list_orders(OrderStatus.PENDING, created_before=early, limit=limit):
            orders.update({o.order_id: o} if o.method == BARCODE else {})
        for order in orders.values():
            jobs.append(("order", order.order_id, self._order_check(order, now)))
        for r in await store.list_refunds(
            status=RefundStatus.PENDING, created_before=stale_before, limit=limit
        ):
            jobs.append(("refund", r.refund_id, self._refund_check(r, now)))
            overdue["refund"] += r.created_at < overdue_before
        for t in await store.list_transfers(
            TransferStatus.PENDING, created_before=stale_before, limit=limit
        ):
            jobs.append(("transfer", t.transfer_id, self._transfer_check(t, now)))
            overdue["transfer"] += t.created_at < overdue_before
        for kind, count in overdue.items():
            metrics.MONITOR_OVERDUE.labels(kind).set(count)

        # Closed or failed orders the provider may still take a payment for (late payments).
        for o in await store.list_late_candidates(now - self.late_margin, limit):
            jobs.append(("late", o.order_id, self._late_check(o, now)))

        due: list[tuple[str, str, Check]] = []
        per_kind: dict[str, int] = {}
        for kind, record_id, check in jobs:
            if self.backoff.due(f"{kind}:{record_id}", now) and per_kind.get(kind, 0) < self.batch:
                per_kind[kind] = per_kind.get(kind, 0) + 1
                due.append((kind, record_id, check))
            else:
                report.deferred.append(record_id)
        limiter = asyncio.Semaphore(self.concurrency)
        await asyncio.gather(*(self._run(limiter, report, now, *job) for job in due))
        metrics.MONITOR_SWEEPS.labels("ok").inc()
        return report

    async def _run(
        self,
        limiter: asyncio.Semaphore,
        report: SweepReport,
        now: datetime,
        kind: str,
        record_id: str,
        check: Check,
    ) -> None:
        key = f"{kind}:{record_id}"
        async with limiter:
            report.checked.append(record_id)
            try:
                outcome = await check()
            except PaymeshError as e:
                at = self.backoff.retry_later(key, now)
                report.failed.append(record_id)
                log.info(
                    "monitor_check_inconclusive",
                    kind=kind,
                    id=record_id,
                    reason=e.reason.value,
                    error=e.message,
                    next_check_at=at.isoformat(),
                )
                return
            except Exception:
                at = self.backoff.retry_later(key, now)
                report.failed.append(record_id)
                log.exception(
                    "monitor_check_failed", kind=kind, id=record_id, next_check_at=at.isoformat()
                )
                return
        if outcome.changed:
            metrics.MONITOR_SETTLED.labels(kind).inc()
            report.settled[record_id] = outcome.status
            log.info("monitor_settled", kind=kind, id=record_id, status=outcome.status)
        if outcome.open:
            self.backoff.retry_later(key, now)
        else:
            self.backoff.forget(key)

    # --- orders ---------------------------------------------------------------------------

    def _order_check(self, order: PayOrder, now: datetime) -> Check:
        return lambda: self._check_order(order, now)

    async def _check_order(self, order: PayOrder, now: datetime) -> CheckOutcome:
        deps = self.deps
        account = _account(order.channel, order.account_id)
        expired = order.expire_time <= now or (
            order.method == BARCODE and order.created_at + self.barcode_wait <= now
        )
        if not order.channel:
            # A cashier order no wallet has committed to: no trade exists at any provider,
            # so there is nothing to ask; past its expiry it closes without a channel call.
            if not expired:
                return CheckOutcome(order.status, False, True)
            closed = await deps.store.close_unbound_cashier(order.order_id, now)
            status = closed.row.status
            return CheckOutcome(status, closed.changed, status == OrderStatus.PENDING.value)
        try:
            resp = await deps.channels.call(
                "Query",
                ch.QueryRequest(account=account, order_id=order.order_id),
                kind="order",
                object_id=order.order_id,
            )
        except ChannelError as e:
            if not expired:
                raise
            # The provider answered (e.g. it never saw the order): closing is still its call.
            log.info("monitor_query_refused", order_id=order.order_id, error=e.message)
        else:
            moved, _late = await settle_trade(deps, order, resp.trade, now)
            order = moved.row
            if moved.changed or order.status != OrderStatus.PENDING.value:
                return CheckOutcome(order.status, moved.changed, False)
            if resp.trade.state == TS.TRADE_STATE_PAID:
                # Paid at the provider but not applicable here (amount mismatch, logged by
                # apply_trade): never close it; it stays PENDING for a person to look at.
                return CheckOutcome(order.status, False, True)
        if not expired:
            return CheckOutcome(order.status, False, True)
        # Past expiry (a barcode: past its wait) and not paid: the channel closes (a barcode:
        # cancels) first; if it cannot confirm (it says
        # the order was paid meanwhile, or it is unreachable) the order stays PENDING and
        # the next sweep queries again. Never close blindly.
        await deps.channels.call(
            "Close",
            ch.CloseRequest(account=account, order_id=order.order_id, method=order.method),
            kind="order",
            object_id=order.order_id,
        )
        closed = await deps.store.mark_closed(order.order_id, now)
        status = closed.row.status
        return CheckOutcome(status, closed.changed, status == OrderStatus.PENDING.value)

    def _late_check(self, order: PayOrder, now: datetime) -> Check:
        return lambda: self._check_late(order, now)

    async def _check_late(self, order: PayOrder, now: datetime) -> CheckOutcome:
        """Ask whether a CLOSED/FAILED order was paid at the provider after all."""
        resp = await self.deps.channels.call(
            "Query",
            ch.QueryRequest(
                account=_account(order.channel, order.account_id), order_id=order.order_id
            ),
            kind="order",
            object_id=order.order_id,
        )
        moved, late = await settle_trade(self.deps, order, resp.trade, now)
        if late is not None:
            log.warning("monitor_found_late_payment", order_id=order.order_id, policy=late.policy)
            return CheckOutcome(moved.row.status, True, False)
        return CheckOutcome(moved.row.status, False, True)

    # --- refunds and transfers ------------------------------------------------------------

    def _refund_check(self, refund: Refund, now: datetime) -> Check:
        return lambda: self._check_refund(refund, now)

    async def _check_refund(self, refund: Refund, now: datetime) -> CheckOutcome:
        resp = await self.deps.channels.call(
            "QueryRefund",
            ch.QueryRefundRequest(
                account=_account(refund.channel, refund.account_id),
                order_id=refund.order_id,
                refund_id=refund.refund_id,
            ),
            kind="refund",
            object_id=refund.refund_id,
        )
        if resp.refund.not_found:
            done = await resubmit_refund(
                self.deps, refund, resp.refund.provider_state, self.resubmit_budget
            )
            return CheckOutcome(
                done.status, done.changed, done.status == RefundStatus.PENDING.value
            )
        moved = await apply_refund(self.deps.store, refund, resp.refund, now)
        status = moved.row.status
        changed = moved.changed and status != RefundStatus.PENDING.value
        return CheckOutcome(status, changed, status == RefundStatus.PENDING.value)

    def _transfer_check(self, transfer: Transfer, now: datetime) -> Check:
        return lambda: self._check_transfer(transfer, now)

    async def _check_transfer(self, transfer: Transfer, now: datetime) -> CheckOutcome:
        resp = await self.deps.channels.call(
            "QueryTransfer",
            ch.QueryTransferRequest(
                account=_account(transfer.channel, transfer.account_id),
                transfer_id=transfer.transfer_id,
            ),
            kind="transfer",
            object_id=transfer.transfer_id,
        )
        if resp.transfer.not_found:
            done = await resubmit_transfer(
                self.deps, transfer, resp.transfer.provider_state, self.resubmit_budget
            )
            open_ = done.status == TransferStatus.PENDING.value
            return CheckOutcome(done.status, done.changed, open_)
        moved = await apply_transfer(self.deps.store, transfer, resp.transfer, now)
        row = moved.row
        if (
            row.status == TransferStatus.PENDING.value
            and resp.transfer.provider_state == WAIT_USER_CONFIRM
            and row.created_at + self.confirm_ttl <= now
        ):
            # The payee never confirmed: cancel, so the outcome is definitive at a known time.
            row = await cancel_at_channel(self.deps, row)
        status = row.status
        changed = status != transfer.status
        return CheckOutcome(status, changed, status == TransferStatus.PENDING.value)


__all__ = ["CheckOutcome", "OrderMonitor", "SweepReport"]
