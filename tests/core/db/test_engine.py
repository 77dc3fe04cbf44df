"""Engine settings per backend."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

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


async def _rollbacks(conn: AsyncConnection) -> int:
    row = (await conn.execute(sa.text("SHOW SESSION STATUS LIKE 'Com_rollback'"))).one()
    return int(row[1])


async def test_mariadb_no_rollback_after_a_commit_but_after_anything_else(
    mariadb_database: str,
) -> None:
    engine = create_engine(mariadb_database, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE t (n INT PRIMARY KEY)"))
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        async with engine.connect() as conn:
            before = await _rollbacks(conn)
            await conn.commit()
        async with engine.begin() as conn:  # committed: returned without a ROLLBACK
            await conn.execute(sa.text("INSERT INTO t VALUES (2)"))
        async with engine.connect() as conn:
            assert await _rollbacks(conn) == before
            # Work left uncommitted is rolled back on return, never seen by the next user.
            await conn.execute(sa.text("INSERT INTO t VALUES (3)"))
        async with engine.connect() as conn:
            assert await _rollbacks(conn) == before + 1
            rows = (await conn.execute(sa.text("SELECT n FROM t ORDER BY n"))).scalars().all()
            assert rows == [1, 2]
            await conn.commit()

        async def failing() -> None:
            async with engine.begin() as conn:
                await conn.execute(sa.text("INSERT INTO t VALUES (4)"))
                await conn.execute(sa.text("INSERT INTO t VALUES (1)"))

        with pytest.raises(sa.exc.IntegrityError):  # a failed statement: rolled back too
            await failing()
        async with engine.connect() as conn:
            assert (await conn.execute(sa.text("SELECT COUNT(*) FROM t"))).scalar() == 2
    finally:
        await engine.dispose()


async def test_mariadb_an_idle_dead_connection_is_replaced_at_checkout(
    mariadb_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paymesh.core.db import engine as engine_mod

    monkeypatch.setattr(engine_mod, "PING_IDLE_S", 0.05)
    engine = create_engine(mariadb_database, pool_size=1, max_overflow=0)
    killer = create_engine(mariadb_database)
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(sa.text("SELECT CONNECTION_ID()"))
        async with killer.connect() as k:
            await k.execute(sa.text(f"KILL {int(first)}"))
        await asyncio.sleep(0.2)  # idle: pinged at checkout, found dead, replaced
        async with engine.connect() as conn:
            second = await conn.scalar(sa.text("SELECT CONNECTION_ID()"))
        assert second != first
    finally:
        await engine.dispose()
        await killer.dispose()
