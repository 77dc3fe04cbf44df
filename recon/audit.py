"""Operators' reconciliation actions in the shared audit log (`console_audit`, the table the
ops console shows and `paymesh config audit` exports), beside each mismatch's own history
(`recon_actions`). Entry ids follow the console's format (`A` + ns time + random) so the log
stays time-ordered by id."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from paymesh.core.db.console_models import AuditEntry

SOURCE = "recon"


async def record(
    engine: AsyncEngine, *, actor: str, action: str, key: str, outcome: str, detail: str
) -> str:
    entry_id = f"A{time.time_ns():016x}{secrets.token_hex(7)}"
    values = {
        "id": entry_id,
        "at": datetime.now(UTC),
        "actor": actor[:64],
        "source": SOURCE,
        "action": action[:32],
        "key": key[:255],
        "fields": "",
        "revision": None,
        "outcome": outcome[:16],
        "detail": detail[:512],
        "remote": "",
    }
    async with engine.begin() as conn:
        await conn.execute(sa.insert(AuditEntry).values(**values))
    return entry_id


__all__ = ["SOURCE", "record"]
