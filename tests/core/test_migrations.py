"""Migrations apply on both backends and match the ORM models exactly."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.pool import NullPool

from paymesh.core.db.engine import create_engine
from paymesh.core.db.migrate import alembic_config, migrate
from paymesh.core.db.models import Base

TABLES = {
    "pay_orders",
    "refunds",
    "transfers",
    "channel_requests",
    "outbox",
    "callbacks",
    "late_payments",
}


def _only_ours(name: str | None, type_: str, parent_names: Any) -> bool:
    return type_ != "table" or name in Base.metadata.tables


def _diff(conn: sa.Connection) -> list[Any]:
    opts = {"compare_type": True, "include_name": _only_ours}
    ctx = MigrationContext.configure(conn, opts=opts)
    return list(compare_metadata(ctx, Base.metadata))


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def test_migrate_twice_and_matches_models(db_url: str) -> None:
    await migrate(db_url)
    await migrate(db_url)  # idempotent
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            names = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
            assert names >= TABLES | {"alembic_version"}
            assert await conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == _head()
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_concurrent_migrate_calls(db_url: str) -> None:
    """Several replicas starting at once all succeed and the schema is applied once."""
    await asyncio.gather(*(migrate(db_url) for _ in range(4)))
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(sa.text("SELECT COUNT(*) FROM alembic_version")) == 1
    finally:
        await engine.dispose()
