"""Async engines for MySQL/MariaDB/TiDB (aiomysql) and SQLite (aiosqlite, embedded dev)."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 3
POOL_TIMEOUT_S = 10
PING_IDLE_S = 2.0
POOL_SIZE = 20
POOL_OVERFLOW = 20
_USED = "paymesh_last_used"
_CLEAN = "paymesh_committed"


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
        # Pre-ping only connections idle for a while, and no rollback on return after a
        # clean COMMIT (`_lean_checkout`): two round trips fewer per transaction.
        lean = not kwargs.get("pool_pre_ping") and "pool_reset_on_return" not in kwargs
        if lean:
            kwargs["pool_pre_ping"] = False
            kwargs["pool_reset_on_return"] = None
        kwargs.setdefault("pool_recycle", 3600)
        if "poolclass" not in kwargs:  # enough connections for a busy process's requests
            kwargs.setdefault("pool_size", POOL_SIZE)
            kwargs.setdefault("max_overflow", POOL_OVERFLOW)
        if "poolclass" not in kwargs:  # waiting for a pooled connection: an outage
            kwargs.setdefault("pool_timeout", POOL_TIMEOUT_S)
        kwargs.setdefault("isolation_level", "READ COMMITTED")
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("charset", "utf8mb4")
        # A database that does not answer is an outage (DATABASE_UNAVAILABLE) within seconds,
        # not a request hanging for aiomysql's default minute.
        connect_args.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        engine = _create_async_engine(url, connect_args=connect_args, **kwargs)
        if lean:
            _lean_checkout(engine)
        return engine
    raise ValueError(
        f"unsupported database backend {backend!r} (mysql+aiomysql or sqlite+aiosqlite)"
    )


def _lean_checkout(engine: AsyncEngine) -> None:
    """What `pool_pre_ping` and the pool's rollback-on-return do, without their round trips
    on a busy connection:

    - a connection idle for more than PING_IDLE_S is pinged at checkout; a dead one is
      replaced (DisconnectionError makes the pool reconnect), as pre-ping does. One used
      moments ago is not: if the server went away since, its first statement fails as a
      database outage (UNAVAILABLE, retryable) and the pool drops its older connections;
    - a connection goes back to the pool without a ROLLBACK only when its last transaction
      ended in a COMMIT that succeeded (nothing began or failed since); any other return
      (an error, a rollback, an unfinished transaction) is rolled back as before.
    """
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_USED, 0.0) > PING_IDLE_S:
            try:
                dbapi_connection.ping(False)
            except Exception as e:
                raise DisconnectionError("connection lost while idle") from e

    @event.listens_for(sync_engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_USED] = time.monotonic()

    @event.listens_for(sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.connection.info.pop(_CLEAN, None)

    @event.listens_for(sync_engine, "commit")
    def _commit(conn: Any) -> None:
        conn.connection.info[_CLEAN] = True  # cleared again if the COMMIT fails

    @event.listens_for(sync_engine, "handle_error")
    def _error(context: Any) -> None:
        conn = context.connection
        if conn is not None and not conn.invalidated:
            with contextlib.suppress(Exception):  # a closed connection has nothing to clear
                conn.connection.info.pop(_CLEAN, None)

    @event.listens_for(sync_engine, "reset")
    def _reset(dbapi_connection: Any, record: Any, state: Any) -> None:
        clean = record is not None and record.info.pop(_CLEAN, False)
        if state.terminate_only or not state.asyncio_safe or state.transaction_was_reset:
            return
        if not clean:
            dbapi_connection.rollback()


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
