"""Sends provider callbacks to notify URLs, with retries, and records every attempt.

Providers build and sign the body; this module applies the callback faults
(`drop_callbacks`, `duplicate_callbacks`, `delay_callbacks`), posts, retries until the receiver
accepts (any 2xx by default; a provider may ask more, e.g. Alipay's body `success`), and keeps a
`Delivery` per copy sent, listed by `GET /_sandbox/callbacks`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from paymesh.runtime.logging import get_logger

if TYPE_CHECKING:
    from paymesh.channels.sandbox.state import SandboxState

log = get_logger("paymesh.sandbox.callbacks")

MAX_RECORDED_BODY = 2000
MAX_DELIVERIES = 10_000

SignFn = Callable[[bytes], dict[str, str]]
"""Given the body, the headers to send with it (signed afresh for each attempt)."""

AcceptFn = Callable[[int, str], bool]
"""Given the receiver's HTTP status and body, whether it took the callback."""


def accept_2xx(status: int, _body: str) -> bool:
    return 200 <= status < 300


@dataclass
class Attempt:
    at: str
    status: int | None
    body: str
    error: str = ""


@dataclass
class Delivery:
    """One callback the sandbox sent (or was told to drop), with every attempt."""

    id: str
    channel: str
    merchant_id: str
    event_type: str
    event_id: str
    url: str
    subject: str
    """The object it is about: out_trade_no, out_refund_no or out_transfer_no."""
    request_body: str
    probe: bool = False
    dropped: bool = False
    delivered: bool = False
    attempts: list[Attempt] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "channel": self.channel,
            "merchant_id": self.merchant_id,
            "event_type": self.event_type,
            "event_id": self.event_id,
            "url": self.url,
            "subject": self.subject,
            "request_body": self.request_body,
            "probe": self.probe,
            "dropped": self.dropped,
            "delivered": self.delivered,
            "attempts": [a.__dict__ for a in self.attempts],
        }


class CallbackSender:
    def __init__(self, state: SandboxState) -> None:
        self._state = state
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._state.callback_timeout)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self,
        *,
        channel: str,
        merchant_id: str,
        event_type: str,
        event_id: str,
        url: str,
        subject: str,
        body: bytes,
        sign: SignFn,
        out_trade_no: str = "",
        probe: bool = False,
        accept: AcceptFn = accept_2xx,
    ) -> list[Delivery]:
        """Deliver one callback (honouring callback faults); returns the deliveries made.

        `out_trade_no` is what callback faults filtered by order are matched against.
        """
        faults = self._state.faults

        def record(**kw: Any) -> Delivery:
            d = Delivery(
                id=f"D{next(self._ids)}",
                channel=channel,
                merchant_id=merchant_id,
                event_type=event_type,
                event_id=event_id,
                url=url,
                subject=subject,
                request_body=body.decode("utf-8", "replace"),
                probe=probe,
                **kw,
            )
            deliveries = self._state.deliveries
            deliveries.append(d)
            if len(deliveries) > MAX_DELIVERIES:
                del deliveries[: len(deliveries) - MAX_DELIVERIES]
            return d

        if not probe and faults.take(channel, "drop_callbacks", out_trade_no):
            log.info("callback dropped by fault", channel=channel, event_type=event_type)
            return [record(dropped=True)]
        copies = 1
        if not probe:
            dup = faults.take(channel, "duplicate_callbacks", out_trade_no)
            copies = dup.times if dup else 1
        delay = None if probe else faults.take(channel, "delay_callbacks", out_trade_no)
        if delay is not None:
            await faults.hang(delay.seconds)
        deliveries = [record() for _ in range(copies)]
        delays = () if probe else self._state.callback_retry_delays
        await asyncio.gather(*(self._deliver(d, body, sign, delays, accept) for d in deliveries))
        return deliveries

    async def _deliver(
        self,
        d: Delivery,
        body: bytes,
        sign: SignFn,
        delays: tuple[float, ...],
        accept: AcceptFn = accept_2xx,
    ) -> None:
        for attempt in range(len(delays) + 1):
            if attempt:
                await asyncio.sleep(delays[attempt - 1])
            headers = {"Content-Type": "application/json", **sign(body)}
            at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
            try:
                async with self._client().post(d.url, data=body, headers=headers) as resp:
                    text = (await resp.text(errors="replace"))[:MAX_RECORDED_BODY]
                    d.attempts.append(Attempt(at=at, status=resp.status, body=text))
                    if accept(resp.status, text):
                        d.delivered = True
                        return
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                d.attempts.append(Attempt(at=at, status=None, body="", error=repr(e)))
            log.info("callback attempt failed", delivery=d.id, attempt=attempt + 1)
