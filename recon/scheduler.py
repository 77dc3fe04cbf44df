"""The daily reconciliation: the previous China-time day of every channel account, at the
account's `reconcile_at` time (config, default 10:00), in the order monitor's style (a
background loop with a stop event). Runs are idempotent per (account, day), so replicas
may overlap harmlessly; a day already DONE (or NO_BILL) is not run again, a FAILED one is
retried every `retry_after`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import time, timedelta

from paymesh.channels.billfile import CHINA
from paymesh.config.repository import ConfigRepository
from paymesh.recon.models import ReconRun, RunStatus
from paymesh.recon.runner import Reconciler
from paymesh.recon.store import RunKey
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.recon.scheduler")

DEFAULT_INTERVAL = 60.0
DEFAULT_RETRY_AFTER = timedelta(minutes=30)


def due_time(reconcile_at: str) -> time | None:
    if not reconcile_at:
        return None
    hours, _, minutes = reconcile_at.partition(":")
    return time(int(hours), int(minutes), tzinfo=CHINA)


class ReconScheduler:
    def __init__(
        self,
        reconciler: Reconciler,
        config: ConfigRepository,
        channels: Sequence[str],
        *,
        interval: float = DEFAULT_INTERVAL,
        retry_after: timedelta = DEFAULT_RETRY_AFTER,
    ) -> None:
        self.reconciler = reconciler
        self.config = config
        self.channels = list(channels)
        self.interval = interval
        self.retry_after = retry_after
        self._stop = asyncio.Event()

    async def tick(self) -> list[ReconRun]:
        """Run every account whose time has come and whose yesterday is not done yet."""
        now = self.reconciler.clock()
        local = now.astimezone(CHINA)
        day = local.date() - timedelta(days=1)
        done: list[ReconRun] = []
        for channel in self.channels:
            for account in await self.config.list_channel_accounts(channel):
                at = due_time(account.reconcile_at)
                if at is None or local.timetz() < at:
                    continue
                key = RunKey(channel, account.account_id, day.isoformat())
                last = await self.reconciler.recon.get_run(key)
                if last is not None and (
                    last.status != RunStatus.FAILED or now - last.finished_at < self.retry_after
                ):
                    continue
                done.append(await self.reconciler.run(channel, account.account_id, day))
        return done

    async def run(self) -> None:
        log.info("recon_scheduler_started", channels=self.channels, interval=self.interval)
        while not self._stop.is_set():
            try:
                await self.tick()
            except Exception:  # one bad tick must not end the daily cycle
                log.exception("recon_tick_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval)

    def stop(self) -> None:
        self._stop.set()


__all__ = ["ReconScheduler", "due_time"]
