"""Audit logs: every channel request/response and every raw provider callback, redacted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paymesh.core.db.base import StoreBase
from paymesh.core.db.fastexec import Prepared
from paymesh.core.db.models import Callback, ChannelRequest
from paymesh.runtime.logging import redact, redact_body, redact_text


@dataclass(frozen=True)
class ChannelCall:
    object_kind: str  # order | refund | transfer
    object_id: str
    rpc: str
    channel: str = ""
    account_id: str = ""
    http_method: str = ""
    url: str = ""
    http_status: int | None = None
    request_body: str | bytes = ""
    response_body: str | bytes = ""
    latency_ms: int | None = None
    error: str = ""


@dataclass(frozen=True)
class RawCallback:
    channel: str
    account_id: str
    body: str | bytes
    content_type: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    verified: bool = False
    outcome: str = ""
    object_kind: str = ""
    object_id: str = ""
    error: str = ""


def channel_request_row(call: ChannelCall, row_id: str, now: datetime) -> dict[str, Any]:
    """The `channel_requests` row of one exchange (bodies and URL redacted here); its keys
    are LOG_COLUMNS."""
    return {
        "id": row_id,
        "object_kind": call.object_kind,
        "object_id": call.object_id,
        "channel": call.channel,
        "account_id": call.account_id,
        "rpc": call.rpc,
        "http_method": call.http_method,
        "url": redact_text(call.url),
        "http_status": call.http_status,
        "request_body": redact_body(call.request_body),
        "response_body": redact_body(call.response_body),
        "latency_ms": call.latency_ms,
        "error": redact_text(call.error),
        "created_at": now,
    }


CHANNEL_REQUESTS: sa.Table = ChannelRequest.__table__  # type: ignore[assignment]
INSERT_LOG = CHANNEL_REQUESTS.insert()
LOG_COLUMNS = (
    "id",
    "object_kind",
    "object_id",
    "channel",
    "account_id",
    "rpc",
    "http_method",
    "url",
    "http_status",
    "request_body",
    "response_body",
    "latency_ms",
    "error",
    "created_at",
)
FAST_INSERT_LOG = Prepared(INSERT_LOG, LOG_COLUMNS)  # the keys of `channel_request_row`
CALLBACKS: sa.Table = Callback.__table__  # type: ignore[assignment]
_INSERT_CALLBACK = CALLBACKS.insert()


class AuditStore(StoreBase):
    async def log_channel_request(self, call: ChannelCall) -> str:
        """Record one channel exchange (bodies and URL redacted here). Returns its id."""
        return (await self.log_channel_requests([call]))[0]

    async def log_channel_requests(self, calls: Sequence[ChannelCall]) -> list[str]:
        """Record channel exchanges in one transaction (one multi-row INSERT); their ids."""
        now = self.clock()
        rows = [channel_request_row(c, self.ids.next_id("CR"), now) for c in calls]

        async def tx(conn: AsyncConnection) -> None:
            await conn.execute(INSERT_LOG, rows)

        if rows:
            await self._run_core(tx)
        return [r["id"] for r in rows]

    async def record_callback(self, cb: RawCallback, log: Sequence[ChannelCall] = ()) -> str:
        """Record a provider callback as received (redacted), with the channel exchanges of
        its verification (``log``) in the same transaction. Returns its id."""
        row_id = self.ids.next_id("CB")
        headers: dict[str, Any] = {
            str(k).lower(): str(redact(v, str(k))) for k, v in cb.headers.items()
        }
        now = self.clock()
        row = {
            "id": row_id,
            "channel": cb.channel,
            "account_id": cb.account_id,
            "content_type": cb.content_type[:128],
            "headers": headers,
            "body": redact_body(cb.body, content_type=cb.content_type),
            "verified": cb.verified,
            "outcome": cb.outcome[:64],
            "object_kind": cb.object_kind,
            "object_id": cb.object_id,
            "error": redact_text(cb.error),
            "created_at": now,
        }
        log_rows = [channel_request_row(c, self.ids.next_id("CR"), now) for c in log]

        async def tx(conn: AsyncConnection) -> str:
            await conn.execute(_INSERT_CALLBACK, row)
            if log_rows:
                await conn.execute(INSERT_LOG, log_rows)
            return row_id

        return await self._run_core(tx)
