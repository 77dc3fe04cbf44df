"""Migrations apply on both backends and match the ORM models exactly."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.pool import NullPool

from paymesh.gateway.db.engine import create_engine
from paymesh.gateway.db.migrate import migrate
from paymesh.gateway.db.models import Base

TABLES = {"pay_orders", "refunds", "transfers", "channel_requests", "outbox", "callbacks"}


def _diff(conn: sa.Connection) -> list[Any]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(ctx, Base.metadata))


async def test_migrate_twice_and_matches_models(db_url: str) -> None:
    await migrate(db_url)
    await migrate(db_url)  # idempotent
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            names = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
            assert names >= TABLES | {"alembic_version"}
            assert await conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0001"
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()
