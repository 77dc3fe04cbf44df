"""A config change is audited before it is made: when the audit log cannot take the entry,
the change is refused and the stored document stays as it was; every entry is settled."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from paymesh.config.repository import Versioned
from paymesh.console.audit import PENDING
from paymesh.console.service import Ref
from paymesh.errors import AppNotFound

from .conftest import RunningConsole

SECRET = "audit-first-0123456789abcdef0123456789abcdef"
APP = {"app_id": "audited", "name": "Audited", "sign_type": "HMAC-SHA256", "secret": SECRET}


async def test_no_change_without_its_audit_entry(console: RunningConsole) -> None:
    b = console.backends
    ref = Ref("app", "audited")
    first = await b.service.save(ref, APP, expected_revision=0, actor="ops-alice")
    await _seen(console, first)  # the console reads through its watched cache
    second = await b.service.set_enabled(ref, False, expected_revision=first, actor="ops-alice")
    entries = await b.audit.entries(key="apps/audited")
    assert [(e.action, e.outcome) for e in reversed(entries)] == [
        ("create", "ok"),
        ("disable", "ok"),
    ]
    assert all(e.revision for e in entries)
    before = await _seen(console, second)

    async with b.engine.begin() as conn:  # the audit log is gone (a broken database)
        await conn.execute(sa.text("ALTER TABLE console_audit RENAME TO console_audit_away"))
    try:
        with pytest.raises(DBAPIError):
            await b.service.save(
                ref, {**APP, "name": "Unaudited"}, expected_revision=None, actor="ops-mallory"
            )
        with pytest.raises(DBAPIError):
            await b.service.set_enabled(
                ref, True, expected_revision=before.revision, actor="ops-mallory"
            )
        with pytest.raises(DBAPIError):
            await b.service.delete(ref, expected_revision=None, actor="ops-mallory")
    finally:
        async with b.engine.begin() as conn:
            await conn.execute(sa.text("ALTER TABLE console_audit_away RENAME TO console_audit"))
    after = await b.repo.get_app_versioned("audited")
    assert (after.revision, after.model.name, after.model.enabled) == (
        before.revision,
        "Audited",
        False,
    )
    assert not [e for e in await b.audit.entries() if e.outcome == PENDING]


async def _seen(console: RunningConsole, revision: int) -> Versioned[Any]:
    for _ in range(100):
        with contextlib.suppress(AppNotFound):
            current = await console.backends.repo.get_app_versioned("audited")
            if current.revision >= revision:
                return current
        await asyncio.sleep(0.05)
    raise AssertionError(f"the console never saw revision {revision}")
