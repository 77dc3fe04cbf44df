"""The order path's hot statements, compiled once and sent on the driver's own connection.

A py-spy profile of CreateOrder (issue 18) found SQLAlchemy's per-statement execute path (a
greenlet hop, cache key and compiled-cache lookup, the execution context) costing about as
much CPU as the driver's work itself. For the few statements every order runs, on
MySQL/MariaDB/TiDB (aiomysql), `Prepared` compiles the statement once per dialect, applies
its bind processors (JSON, UTC datetimes) itself and sends the SQL with aiomysql on the
connection of the transaction the caller is in. The transaction (BEGIN, COMMIT, ROLLBACK, the
pool, `_lean_checkout`'s bookkeeping) stays SQLAlchemy's, and driver errors are wrapped in
SQLAlchemy's exception classes (a lost connection invalidates it, as SQLAlchemy would), so
the store's retries and the outage mapping see exactly what they saw before. Any other
database (SQLite) runs the statement through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

Params = Mapping[str, Any]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the positional parameters, in order
    fixed: dict[str, Any]  # values the statement carries itself (e.g. the 1 of version + 1)
    processors: dict[str, Callable[[Any], Any]]


def _compile(
    stmt: sa.ClauseElement, dialect: Dialect, keys: Sequence[str] | None
) -> _Compiled | None:
    if dialect.name not in ("mysql", "mariadb") or dialect.driver != "aiomysql":
        return None
    compiled: Any = stmt.compile(dialect=dialect, column_keys=list(keys) if keys else None)
    if not compiled.positional or compiled.post_compile_params or compiled.literal_execute_params:
        return None  # expanding parameters are rendered per call: SQLAlchemy's path
    fixed = dict(compiled.construct_params(_check=False))
    return _Compiled(
        sql=compiled.string,
        names=tuple(compiled.positiontup),
        fixed=fixed,
        processors=dict(compiled._bind_processors),
    )


class Prepared:
    """One Core statement; `execute` runs it in the caller's transaction, returning the
    matched row count (the MySQL dialect connects with FOUND_ROWS, as SQLAlchemy does)."""

    __slots__ = ("_compiled", "keys", "stmt")

    def __init__(self, stmt: sa.ClauseElement, keys: Sequence[str] | None = None) -> None:
        self.stmt = stmt
        self.keys = tuple(keys) if keys else None  # an INSERT's columns, when it names them
        self._compiled: dict[str, _Compiled | None] = {}

    def _for(self, dialect: Dialect) -> _Compiled | None:
        key = f"{dialect.name}+{dialect.driver}"
        if key not in self._compiled:
            self._compiled[key] = _compile(self.stmt, dialect, self.keys)
        return self._compiled[key]

    def direct(self, dialect: Dialect) -> bool:
        """Whether this statement goes to the driver directly on ``dialect``."""
        return self._for(dialect) is not None

    def _row(self, c: _Compiled, params: Params) -> tuple[Any, ...]:
        out = []
        for name in c.names:
            value = params[name] if name in params else c.fixed[name]
            proc = c.processors.get(name)
            out.append(value if proc is None or value is None else proc(value))
        return tuple(out)

    async def execute(self, conn: AsyncConnection, params: Params | Sequence[Params]) -> int:
        c = self._for(conn.dialect)
        if c is None:
            result: Any = await conn.execute(self.stmt, params)  # type: ignore[call-overload]
            return int(result.rowcount)
        many = not isinstance(params, Mapping)
        args: Any
        if isinstance(params, Mapping):
            args = self._row(c, params)
        elif not params:
            return 0
        else:
            args = [self._row(c, p) for p in params]
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        cursor = await driver.cursor()
        try:
            if many:
                await cursor.executemany(c.sql, args)
            else:
                await cursor.execute(c.sql, args)
            return int(cursor.rowcount)
        except Exception as e:
            raise await _wrapped(conn, c.sql, args, e) from e
        finally:
            await cursor.close()


async def _wrapped(conn: AsyncConnection, sql: str, args: Any, err: Exception) -> BaseException:
    """The SQLAlchemy exception the same driver error raises on SQLAlchemy's path."""
    dialect = conn.dialect
    dbapi: Any = dialect.loaded_dbapi
    if not isinstance(err, dbapi.Error):
        return err
    lost = bool(dialect.is_disconnect(err, None, None))
    if lost:  # as SQLAlchemy does: the pool drops this connection instead of reusing it
        await conn.invalidate(err)
    wrapped: BaseException = DBAPIError.instance(
        sql, args, err, dbapi.Error, connection_invalidated=lost, dialect=dialect
    )
    return wrapped


__all__ = ["Prepared"]
