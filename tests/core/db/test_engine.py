"""Engine settings per backend."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from paymesh.core.db.engine import create_engine, is_sqlite


async def test_engine_settings(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            if is_sqlite(db_url):
                assert await conn.scalar(sa.text("PRAGMA journal_mode")) == "wal"
                assert await conn.scalar(sa.text("PRAGMA foreign_keys")) == 1
                assert await conn.scalar(sa.text("PRAGMA busy_timeout")) == 30000
            else:
                iso = await conn.scalar(sa.text("SELECT @@session.tx_isolation"))
                assert iso == "READ-COMMITTED"
                assert await conn.scalar(sa.text("SELECT @@character_set_client")) == "utf8mb4"
    finally:
        await engine.dispose()


def test_unsupported_backend() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        create_engine("postgresql+asyncpg://x/y")
