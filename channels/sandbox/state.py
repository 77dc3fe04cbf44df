"""In-memory state of the sandbox: merchants, trades, refunds, transfers, callbacks.

Records are provider-neutral; each provider keeps its own wire details in `extra` and maps
the neutral statuses (`PENDING` `PAID` `CLOSED` `FAILED`; refunds and transfers `PENDING`
`SUCCEEDED` `FAILED`) to its own state names.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import string
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from paymesh.channels.sandbox.callbacks import CallbackSender, Delivery
from paymesh.channels.sandbox.faults import FaultBook
from paymesh.channels.sandbox.pki import SandboxCA
from paymesh.runtime.logging import get_logger

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from paymesh.channels.sandbox.provider import Provider

log = get_logger("paymesh.sandbox")

CHINA_TZ = dt.timezone(dt.timedelta(hours=8))


def now() -> dt.datetime:
    return dt.datetime.now(CHINA_TZ)


def rfc3339(value: dt.datetime | None) -> str | None:
    """WeChat-style time: `2026-01-02T03:04:05+08:00`."""
    return value.astimezone(CHINA_TZ).isoformat(timespec="seconds") if value else None


def random_token(length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def random_digits(length: int) -> str:
    return random_token(length, string.digits)


class TradeStatus:
    PENDING = "PENDING"
    PAID = "PAID"
    CLOSED = "CLOSED"
    FAILED = "FAILED"


class ItemStatus:
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass
class Merchant:
    channel: str
    merchant_id: str
    app_id: str
    public_key_pem: str
    public_key: rsa.RSAPublicKey
    serial_no: str | None = None
    """Expected serial of the merchant's certificate (None: any serial is accepted)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Provider-specific secrets and settings (e.g. WeChat's `api_v3_key`)."""


@dataclass
class Trade:
    channel: str
    merchant_id: str
    out_trade_no: str
    amount: int
    currency: str
    subject: str
    method: str
    notify_url: str
    channel_trade_no: str
    fingerprint: str
    """Canonical form of the creating request, to tell a replay from a conflict."""
    status: str = TradeStatus.PENDING
    created_at: dt.datetime = field(default_factory=now)
    paid_at: dt.datetime | None = None
    expire_at: dt.datetime | None = None
    refunded: int = 0
    """Sum of pending and successful refunds."""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Refund:
    channel: str
    merchant_id: str
    out_refund_no: str
    out_trade_no: str
    amount: int
    total: int
    currency: str
    notify_url: str
    channel_refund_no: str
    fingerprint: str
    status: str = ItemStatus.PENDING
    created_at: dt.datetime = field(default_factory=now)
    success_at: dt.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Transfer:
    channel: str
    merchant_id: str
    out_transfer_no: str
    amount: int
    payee: str
    remark: str
    notify_url: str
    channel_transfer_no: str
    fingerprint: str
    status: str = ItemStatus.PENDING
    created_at: dt.datetime = field(default_factory=now)
    updated_at: dt.datetime = field(default_factory=now)
    fail_reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


Key = tuple[str, str, str]
"""(channel, merchant_id, merchant's number for the object)."""


class SandboxState:
    """Everything the sandbox remembers, plus its settings.

    refund_delay: seconds before a refund goes PENDING -> SUCCEEDED (0: at once, in the answer).
    transfer_delay: the same for transfers.
    callback_retry_delays: waits between callback attempts when the receiver fails.
    callback_timeout: seconds a callback receiver has to answer.
    public_url: base URL put in pay links (default: taken from the request's Host).
    """

    def __init__(
        self,
        *,
        refund_delay: float = 1.0,
        transfer_delay: float = 1.0,
        callback_retry_delays: tuple[float, ...] = (1.0, 3.0, 10.0),
        callback_timeout: float = 5.0,
        public_url: str | None = None,
    ) -> None:
        self.refund_delay = refund_delay
        self.transfer_delay = transfer_delay
        self.callback_retry_delays = callback_retry_delays
        self.callback_timeout = callback_timeout
        self.public_url = public_url
        self.providers: dict[str, Provider] = {}
        self.merchants: dict[tuple[str, str], Merchant] = {}
        self.trades: dict[Key, Trade] = {}
        self.refunds: dict[Key, Refund] = {}
        self.transfers: dict[Key, Transfer] = {}
        self.deliveries: list[Delivery] = []
        self.bill_files: dict[str, tuple[str, bytes]] = {}
        """Generated bill files behind their download tokens: token -> (owner, bytes)."""
        self.faults = FaultBook()
        self.sender = CallbackSender(self)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ca: SandboxCA | None = None

    @property
    def ca(self) -> SandboxCA:
        """The sandbox CA (created on first use: key generation takes a moment)."""
        if self._ca is None:
            self._ca = SandboxCA()
        return self._ca

    # --- lookups ------------------------------------------------------------------------

    def merchant(self, channel: str, merchant_id: str) -> Merchant | None:
        return self.merchants.get((channel, merchant_id))

    def trade(self, channel: str, merchant_id: str, out_trade_no: str) -> Trade | None:
        return self.trades.get((channel, merchant_id, out_trade_no))

    def find_trades(
        self, channel: str, out_trade_no: str, merchant_id: str | None = None
    ) -> list[Trade]:
        return [
            t
            for (c, m, n), t in self.trades.items()
            if c == channel and n == out_trade_no and merchant_id in (None, m)
        ]

    def refunds_of(self, trade: Trade) -> list[Refund]:
        return [
            r
            for r in self.refunds.values()
            if (r.channel, r.merchant_id, r.out_trade_no)
            == (trade.channel, trade.merchant_id, trade.out_trade_no)
        ]

    # --- the payer's actions -------------------------------------------------------------

    def settle(self, trade: Trade, outcome: str) -> None:
        """Apply a payer's outcome (`paid`, `fail`, `cancel`) to an open trade.

        Raises ValueError when the trade is no longer open or has expired.
        """
        if trade.status != TradeStatus.PENDING:
            raise ValueError(f"trade is {trade.status}, not PENDING")
        if outcome == "paid":
            if trade.expire_at is not None and now() > trade.expire_at:
                raise ValueError("trade has expired")
            trade.status = TradeStatus.PAID
            trade.paid_at = now()
            trade.extra.setdefault("payer_openid", "oSandbox" + random_token(20))
            self.providers[trade.channel].on_trade_paid(trade)
        elif outcome == "fail":
            trade.status = TradeStatus.FAILED
        elif outcome == "cancel":
            trade.status = TradeStatus.CLOSED
        else:
            raise ValueError("outcome must be paid, fail or cancel")

    def schedule_refund(self, refund: Refund, trade: Trade) -> None:
        """PENDING -> SUCCEEDED (or FAILED, by fault) now or after refund_delay; notify."""

        def succeed() -> None:
            refund.status = ItemStatus.SUCCEEDED
            refund.success_at = now()
            self.providers[refund.channel].on_refund_done(refund, trade)

        def recover() -> None:
            # WeChat ABNORMAL handled by the merchant: the refund goes through after all.
            if refund.status != ItemStatus.FAILED:
                return
            refund.extra.pop("abnormal", None)
            trade.refunded += refund.amount
            succeed()

        def finish() -> None:
            if refund.status != ItemStatus.PENDING:
                return
            fault = self.faults.take(refund.channel, "fail_refunds", trade.out_trade_no)
            if fault is None:
                succeed()
                return
            refund.status = ItemStatus.FAILED
            trade.refunded -= refund.amount
            self.providers[refund.channel].on_refund_done(refund, trade)
            if "succeed_after" in fault.extra:
                refund.extra["abnormal"] = True
                self._later(float(fault.extra["succeed_after"]), recover)

        self._later(self.refund_delay, finish)

    def schedule_transfer(self, transfer: Transfer) -> None:
        """PENDING -> SUCCEEDED (or FAILED, by fault) now or after transfer_delay; notify."""

        def finish() -> None:
            if transfer.status != ItemStatus.PENDING:
                return
            fault = self.faults.take(transfer.channel, "fail_transfers", transfer.out_transfer_no)
            if fault is not None:
                transfer.status = ItemStatus.FAILED
                transfer.fail_reason = str(fault.extra.get("reason", ""))
            else:
                transfer.status = ItemStatus.SUCCEEDED
            transfer.updated_at = now()
            self.providers[transfer.channel].on_transfer_done(transfer)

        self._later(self.transfer_delay, finish)

    def _later(self, delay: float, fn: Callable[[], None]) -> None:
        if delay <= 0:
            fn()
            return

        async def run() -> None:
            await asyncio.sleep(delay)
            fn()

        self.spawn(run())

    # --- background work ----------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `coro` in the background; it is cancelled when the sandbox stops."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sandbox background task failed", error=repr(task.exception()))

    async def idle(self) -> None:
        """Wait until no background work (timers, callbacks) is left (for tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        self.faults.release_hangs()
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.sender.close()
