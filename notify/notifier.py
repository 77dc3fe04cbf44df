"""Merchant notifier: bus messages -> signed POSTs to the merchant's notify_url.

Per message:
1. the event's delivery row is opened (or found: a duplicate of a delivered round is acked);
2. the body is built from the event and signed with the app's scheme (HMAC-SHA256/MD5 with
   the app secret, RSA2 with paymesh's own private key);
3. the URL passes the SSRF guard (unless the app allows private URLs), then one POST with a
   per-attempt timeout; delivered only on 2xx with body ``SUCCESS`` (trimmed, any case);
4. every attempt is recorded (refusals and config problems too);
5. success: ack. Failure: nak with the next delay of the app's schedule; once the schedule
   is used up the event is marked FAILED and terminated (re-send brings it back).

Attempts are numbered per delivery round from the store, so a worker killed mid-attempt
(message redelivered after ack_wait) continues the same schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import aiohttp

from paymesh.config.apps import AppConfig, NotifyConfig
from paymesh.core.db.notify_models import EXCERPT_CHARS, DeliveryStatus
from paymesh.core.signing import SecretLike, SignType
from paymesh.events.v1.events_pb2 import OutboxEvent
from paymesh.notify.bus import ACK_WAIT_S, DURABLE, Bus, BusMessage, BusUnavailable, Subscription
from paymesh.notify.envelope import decode_event, signed_body
from paymesh.notify.ssrf import GuardedResolver, RefusedURL, allow_private_var, check_url
from paymesh.notify.store import AttemptRecord, DeliveryStore
from paymesh.runtime import metrics, tracing
from paymesh.runtime.clock import utcnow
from paymesh.runtime.logging import get_logger

log = get_logger(__name__)

USER_AGENT = "paymesh-notify/1"


class AppSource(Protocol):
    """Where the notifier reads app config (a ConfigRepository fits)."""

    async def get_app(self, app_id: str) -> AppConfig: ...


class NotifyConfigSource(Protocol):
    async def get_notify_config(self) -> NotifyConfig: ...


@dataclass(frozen=True)
class NotifierSettings:
    durable: str = DURABLE
    filter_subject: str | None = None  # default: every subject of the bus's stream
    ack_wait_s: float = ACK_WAIT_S
    concurrency: int = 16
    fetch_wait_s: float = 1.0
    bus_retry_s: float = 1.0


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    http_status: int | None = None
    body: str = ""
    error: str = ""


def is_success(status: int | None, body: str) -> bool:
    return status is not None and 200 <= status < 300 and body.strip().upper() == "SUCCESS"


def guarded_session(**kwargs: Any) -> aiohttp.ClientSession:
    """An HTTP client whose connections only reach addresses the SSRF guard allows."""
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(), use_dns_cache=False, limit=200)
    return aiohttp.ClientSession(connector=connector, headers={"User-Agent": USER_AGENT}, **kwargs)


class Notifier:
    """``await notifier.run()`` consumes the durable consumer until ``stop()``."""

    def __init__(
        self,
        bus: Bus,
        config: AppSource,
        store: DeliveryStore,
        http: aiohttp.ClientSession | None = None,
        *,
        notify_config: NotifyConfig | NotifyConfigSource | None = None,
        rsa_private_key: SecretLike | None = None,
        settings: NotifierSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.bus = bus
        self.config = config
        self.store = store
        self._http = http
        self._own_http = http is None
        self._notify_config = notify_config
        self.rsa_private_key = rsa_private_key
        self.settings = settings or NotifierSettings()
        self.clock = clock
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ lifecycle

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = guarded_session()
        return self._http

    async def _subscribe(self) -> Subscription:
        st = self.settings
        return await self.bus.subscribe(st.durable, st.filter_subject, ack_wait=st.ack_wait_s)

    async def run(self) -> None:
        st = self.settings
        self._stopping.clear()
        sub: Subscription | None = None
        slots = asyncio.Semaphore(st.concurrency)
        log.info("notifier_started", durable=st.durable)
        try:
            while not self._stopping.is_set():
                try:
                    if sub is None:
                        sub = await self._subscribe()
                    free = max(1, st.concurrency - len(self._tasks))
                    msgs = await sub.fetch(free, st.fetch_wait_s)
                except BusUnavailable as e:
                    log.warning("notifier_bus_unavailable", error=str(e))
                    sub = None
                    await self._sleep(st.bus_retry_s)
                    continue
                for msg in msgs:
                    await slots.acquire()
                    task = asyncio.create_task(self._guarded(msg, slots))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            if sub is not None:
                await sub.close()
            log.info("notifier_stopped", durable=st.durable)

    def stop(self) -> None:
        self._stopping.set()

    async def close(self) -> None:
        if self._own_http and self._http is not None:
            await self._http.close()
            self._http = None

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _guarded(self, msg: BusMessage, slots: asyncio.Semaphore) -> None:
        try:
            await self.handle(msg)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # leave the message unsettled: redelivered after ack_wait
            log.error("notifier_message_error", error=repr(e), msg_id=msg.msg_id)
        finally:
            slots.release()

    # ------------------------------------------------------------------ one message

    async def _notify_defaults(self) -> NotifyConfig:
        src = self._notify_config
        if src is None:
            getter = getattr(self.config, "get_notify_config", None)
            if getter is None:
                return NotifyConfig()
            result: NotifyConfig = await getter()
            return result
        if isinstance(src, NotifyConfig):
            return src
        return await src.get_notify_config()

    async def handle(self, msg: BusMessage) -> None:
        """Deliver one message and settle it (ack, nak with delay, or term)."""
        try:
            event = decode_event(msg.data)
        except ValueError as e:
            log.error("notifier_bad_message", error=str(e), subject=msg.subject)
            await msg.term()
            return
        # The trace of the transition that made the event (a callback, the monitor...).
        with tracing.span(
            f"notify {event.event_type}",
            parent=tracing.extract(msg.headers),
            attributes={"paymesh.event_type": event.event_type, "paymesh.event_id": event.event_id},
        ):
            await self._handle(msg, event)

    async def _handle(self, msg: BusMessage, event: OutboxEvent) -> None:
        round_id = msg.msg_id or event.event_id
        state = await self.store.begin_round(
            event.event_id, event.app_id, event.event_type, round_id
        )
        if state.status is DeliveryStatus.DELIVERED:
            await msg.ack()  # a duplicate of a delivered event
            return
        if state.round_id != round_id:  # pragma: no cover - begin_round adopts other rounds
            await msg.ack()
            return
        if state.status is DeliveryStatus.FAILED:
            await msg.term()
            return

        attempt = state.next_attempt
        defaults = await self._notify_defaults()
        app: AppConfig | None = None
        try:
            app = await self.config.get_app(event.app_id)
        except Exception as e:  # unknown app, config store down: a failed attempt
            record = self._record(event, round_id, attempt, "", None, error=f"app config: {e}")
            await self.store.record_attempt(record)
        if app is not None:
            record = await self._attempt(msg, event, app, defaults, round_id, attempt)
            await self.store.record_attempt(record)
        metrics.notify_attempt(record.http_status, record.delivered, record.latency_ms)
        if app is not None and record.delivered:  # marked DELIVERED with the attempt
            await msg.ack()
            log.info("notify_delivered", event_id=event.event_id, attempt=attempt)
            return

        delays = app.retry_delays(defaults) if app is not None else list(defaults.retry_delays)
        if attempt <= len(delays):
            delay = float(delays[attempt - 1])
            await msg.nak(delay)
            log.info(
                "notify_retry",
                event_id=event.event_id,
                attempt=attempt,
                retry_in=delay,
                http_status=record.http_status,
                error=record.error,
            )
            return
        await self.store.mark_failed(event.event_id, round_id, record.error or "not delivered")
        metrics.NOTIFY_FAILED_FOR_GOOD.inc()
        await msg.term()
        log.warning("notify_failed", event_id=event.event_id, attempts=attempt)

    def _record(
        self,
        event: OutboxEvent,
        round_id: str,
        attempt: int,
        url: str,
        started: datetime | None,
        *,
        outcome: Outcome | None = None,
        latency_ms: int | None = None,
        error: str = "",
    ) -> AttemptRecord:
        return AttemptRecord(
            event_id=event.event_id,
            round_id=round_id,
            attempt=attempt,
            url=url,
            attempted_at=started or self.clock(),
            http_status=outcome.http_status if outcome else None,
            latency_ms=latency_ms,
            body_excerpt=(outcome.body if outcome else "")[:EXCERPT_CHARS],
            error=(outcome.error if outcome else "") or error,
            delivered=bool(outcome and outcome.delivered),
        )

    def _key(self, app: AppConfig) -> SecretLike | None:
        if app.sign_type.value == SignType.RSA2.value:
            return self.rsa_private_key
        return app.secret

    async def _attempt(
        self,
        msg: BusMessage,
        event: OutboxEvent,
        app: AppConfig,
        defaults: NotifyConfig,
        round_id: str,
        attempt: int,
    ) -> AttemptRecord:
        started = self.clock()
        url = event.notify_url or app.notify_url or ""
        if not url:
            return self._record(event, round_id, attempt, "", started, error="no notify_url")
        key = self._key(app)
        if not key:
            return self._record(
                event, round_id, attempt, url, started, error=f"no signing key for {app.sign_type}"
            )
        try:
            await check_url(url, allow_private=app.allow_private_notify_urls)
        except RefusedURL as e:
            return self._record(event, round_id, attempt, url, started, error=f"refused: {e}")
        body = signed_body(
            event.notification,
            sign_type=app.sign_type.value,
            key=key,
            timestamp=int(time.time()),
        )
        with contextlib.suppress(Exception):
            await msg.in_progress()
        t0 = time.monotonic()
        outcome = await self.post(
            url, body, defaults.attempt_timeout_seconds, app.allow_private_notify_urls
        )
        latency = int((time.monotonic() - t0) * 1000)
        return self._record(
            event, round_id, attempt, url, started, outcome=outcome, latency_ms=latency
        )

    async def post(
        self, url: str, body: dict[str, Any], timeout_s: float, allow_private: bool
    ) -> Outcome:
        """One POST; never raises for network trouble (it becomes the outcome's error)."""
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        token = allow_private_var.set(allow_private)
        try:
            async with asyncio.timeout(timeout_s):
                async with self.http.post(
                    url,
                    data=data,
                    headers={"Content-Type": "application/json"},
                    allow_redirects=False,
                ) as resp:
                    raw = await resp.content.read(EXCERPT_CHARS * 4)
                    text = raw.decode(resp.charset or "utf-8", errors="replace")
                    return Outcome(
                        delivered=is_success(resp.status, text),
                        http_status=resp.status,
                        body=text[:EXCERPT_CHARS],
                        error="" if is_success(resp.status, text) else "merchant did not ack",
                    )
        except TimeoutError:
            return Outcome(False, error=f"timeout after {timeout_s:g} s")
        except (aiohttp.ClientError, OSError) as e:
            return Outcome(False, error=f"{type(e).__name__}: {e}")
        finally:
            allow_private_var.reset(token)


__all__ = [
    "AppSource",
    "Notifier",
    "NotifierSettings",
    "NotifyConfigSource",
    "Outcome",
    "guarded_session",
    "is_success",
]
