"""Apply the Alembic migrations programmatically (services at startup, `make dev`, tests)."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from paymesh.core.db.engine import create_engine, is_sqlite

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
LOCK_NAME = "paymesh_migrate"
LOCK_TIMEOUT_S = 120


# Alembic keeps its running context in module globals: one migration per process at a time.
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _process_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _LOCKS.get(loop)
    if lock is None:
        lock = _LOCKS[loop] = asyncio.Lock()
    return lock


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _upgrade(connection: Connection, cfg: Config, revision: str) -> None:
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


async def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision``; safe to call from many replicas.

    MySQL-family: a named lock (GET_LOCK) serialises concurrent callers; SQLite: the
    migration runs in one BEGIN IMMEDIATE transaction, which does the same. Within one
    process calls are serialised too (Alembic's context is process-global).
    """
    async with _process_lock():
        await _migrate(url, revision)


async def _migrate(url: str, revision: str) -> None:
    cfg = alembic_config(url)
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with contextlib.AsyncExitStack() as stack:
            if not is_sqlite(url):
                lock_conn = await stack.enter_async_context(engine.connect())
                got = await lock_conn.scalar(
                    text("SELECT GET_LOCK(:n, :t)"), {"n": LOCK_NAME, "t": LOCK_TIMEOUT_S}
                )
                if got != 1:
                    raise TimeoutError("another process holds the migration lock")
            async with engine.connect() as connection:
                await connection.run_sync(_upgrade, cfg, revision)
                await connection.commit()
            if not is_sqlite(url):
                await lock_conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": LOCK_NAME})
    finally:
        await engine.dispose()


__all__ = ["alembic_config", "migrate"]
