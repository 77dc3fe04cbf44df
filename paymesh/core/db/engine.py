"""Async engines for MySQL/MariaDB/TiDB (aiomysql) and SQLite (aiosqlite, embedded dev)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 3
POOL_TIMEOUT_S = 10


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``mysql+aiomysql://`` or ``sqlite+aiosqlite://`` URLs.

    MySQL: READ COMMITTED (conditional UPDATEs re-check the latest committed row),
    pre-ping and recycle so a MySQL restart costs one failed checkout, not a crash.
    SQLite: WAL, busy timeout, foreign keys, and every transaction ``BEGIN IMMEDIATE`` so
    concurrent writers queue on the busy timeout instead of failing on lock upgrade.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        engine = _create_async_engine(url, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine)
        return engine
    if backend in ("mysql", "mariadb"):
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("pool_recycle", 3600)
        if "poolclass" not in kwargs:  # waiting for a pooled connection: an outage
            kwargs.setdefault("pool_timeout", POOL_TIMEOUT_S)
        kwargs.setdefault("isolation_level", "READ COMMITTED")
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("charset", "utf8mb4")
        # A database that does not answer is an outage (DATABASE_UNAVAILABLE) within seconds,
        # not a request hanging for aiomysql's default minute.
        connect_args.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        return _create_async_engine(url, connect_args=connect_args, **kwargs)
    raise ValueError(
        f"unsupported database backend {backend!r} (mysql+aiomysql or sqlite+aiosqlite)"
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit transactions are off).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (they are returned to callers)."""
    return async_sessionmaker(engine, expire_on_commit=False)


__all__ = ["create_engine", "is_sqlite", "session_factory"]
