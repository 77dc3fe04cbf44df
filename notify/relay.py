"""Outbox relay: committed outbox rows -> the bus, at least once, deduped by event id.

Each pass claims a batch (a lease, see `paymesh.core.db.outbox`), publishes every row on
``paymesh.events.<event_type>`` with ``Nats-Msg-Id = event_id`` and marks the published
rows. When the bus is down the rows stay PENDING and the relay backs off (exponential,
capped) and tries again; nothing is lost, and a row published twice (a relay crashed after
publishing, before marking) is dropped by the bus's dedupe window. Any number of replicas
may run side by side.

A row that can never be published as it is (larger than the bus's max payload, or not
serialisable) is not the bus being down: it is QUARANTINED with its reason, logged as an
error (``outbox_event_quarantined``), and the rows behind it keep flowing. An operator
fixes it and re-sends it (NotifyAdminService ResendEvent requeues it).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from paymesh.core.db.engine import session_factory
from paymesh.core.db.outbox import ClaimedEvent, OutboxClaims
from paymesh.notify.bus import SUBJECT_PREFIX, Bus, BusUnavailable, PublishRefused
from paymesh.notify.envelope import encode_event, subject_for
from paymesh.runtime import metrics, tracing
from paymesh.runtime.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class RelaySettings:
    batch: int = 100
    lease_s: float = 30.0
    # A pass that found rows looks again after idle_poll_min_s; each empty pass doubles the
    # wait up to idle_poll_s. Notifications flowing then wait little (bench, 120 payments/s:
    # p50 570 -> ~180 ms against a flat 0.5 s) and a quiet relay still asks twice a second.
    idle_poll_s: float = 0.5
    idle_poll_min_s: float = 0.05
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 10.0
    subject_prefix: str = SUBJECT_PREFIX
    backlog_every_s: float = 5.0


class OutboxRelay:
    """``await relay.run()`` until ``relay.stop()``; ``run_once()`` does a single pass."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession] | AsyncEngine,
        bus: Bus,
        settings: RelaySettings | None = None,
    ) -> None:
        if isinstance(sessions, AsyncEngine):
            sessions = session_factory(sessions)
        self.claims = OutboxClaims(sessions)
        self.bus = bus
        self.settings = settings or RelaySettings()
        self._stopping = asyncio.Event()
        self._backoff = self.settings.backoff_initial_s
        self._idle = self.settings.idle_poll_min_s  # the next pause of an idle relay
        self.published = 0
        self.quarantined = 0
        self._backlog_due = 0.0

    async def run_once(self) -> int:
        """Claim one batch and publish it; returns how many rows were published.

        Raises BusUnavailable when the bus refused a publish (the unpublished rows of the
        batch are released with a retry delay).
        """
        st = self.settings
        token, rows = await self.claims.claim(st.batch, st.lease_s)
        done: list[str] = []
        try:
            for i, row in enumerate(rows):
                try:
                    await self._publish(row)
                except BusUnavailable:
                    metrics.OUTBOX_PUBLISH_FAILURES.inc()
                    await self.claims.release(
                        token, [r.event_id for r in rows[i:]], retry_in=self._backoff
                    )
                    raise
                except (PublishRefused, TypeError, ValueError) as e:
                    reason = f"{type(e).__name__}: {e}"
                    await self.claims.quarantine(token, row.event_id, reason)
                    self.quarantined += 1
                    metrics.OUTBOX_QUARANTINED_TOTAL.inc()
                    log.error(
                        "outbox_event_quarantined",
                        event_id=row.event_id,
                        event_type=row.event_type,
                        app_id=row.app_id,
                        reason=reason[:256],
                    )
                    continue
                done.append(row.event_id)
        finally:
            if done:
                await self.claims.mark_published(token, done)
        self.published += len(done)
        metrics.OUTBOX_PUBLISHED.inc(len(done))
        return len(done)

    async def _publish(self, row: ClaimedEvent) -> None:
        data = encode_event(
            event_id=row.event_id,
            event_type=row.event_type,
            app_id=row.app_id,
            notify_url=row.notify_url,
            payload=row.payload,
            created_at=row.created_at,
        )
        trace = row.payload.get(tracing.TRACEPARENT)
        fresh = await self.bus.publish(
            subject_for(row.event_type, self.settings.subject_prefix),
            data,
            row.event_id,
            {tracing.TRACEPARENT: trace} if isinstance(trace, str) and trace else None,
        )
        if not fresh:
            log.info("outbox_duplicate_publish", event_id=row.event_id)

    async def run(self) -> None:
        st = self.settings
        self._stopping.clear()
        log.info("outbox_relay_started")
        while not self._stopping.is_set():
            await self._observe_backlog()
            try:
                n = await self.run_once()
            except asyncio.CancelledError:
                raise
            except BusUnavailable as e:
                log.warning("outbox_relay_bus_unavailable", error=str(e), retry_in=self._backoff)
                await self._sleep(self._next_backoff())
                continue
            except Exception as e:  # the DB restarting, a lost connection: retry later
                log.warning("outbox_relay_error", error=repr(e), retry_in=self._backoff)
                await self._sleep(self._next_backoff())
                continue
            self._backoff = st.backoff_initial_s
            if n >= st.batch:
                continue  # more may be waiting: no pause
            self._idle = st.idle_poll_min_s if n else min(self._idle * 2, st.idle_poll_s)
            await self._sleep(self._idle)
        log.info("outbox_relay_stopped")

    async def _observe_backlog(self) -> None:
        """Refresh the backlog gauges (unpublished rows, oldest age, quarantined rows) at
        most every ``backlog_every_s``; a failed count is retried on the next pass."""
        now = time.monotonic()
        if now < self._backlog_due:
            return
        self._backlog_due = now + self.settings.backlog_every_s
        try:
            backlog = await self.claims.backlog()
        except Exception as e:
            log.warning("outbox_backlog_unknown", error=repr(e))
            return
        metrics.OUTBOX_BACKLOG.set(backlog.pending)
        metrics.OUTBOX_OLDEST_AGE.set(backlog.oldest_age_s)
        metrics.OUTBOX_QUARANTINED.set(backlog.quarantined)

    def _next_backoff(self) -> float:
        current = self._backoff
        self._backoff = min(self._backoff * 2, self.settings.backoff_max_s)
        return current * random.uniform(0.8, 1.2)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def stop(self) -> None:
        self._stopping.set()


__all__ = ["OutboxRelay", "RelaySettings"]
