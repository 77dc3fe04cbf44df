"""Database outages as a retryable UNAVAILABLE, never INTERNAL.

A lost connection, a failed connect, a pool checkout timeout, or a lock-wait/deadlock timeout
that outlived the store's own retries says nothing about the request: the merchant (or the
provider, for callbacks) should retry. Errors that do say something (a constraint, bad SQL,
data too long) stay INTERNAL: they are bugs.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc as sa_exc

from paymesh.errors import DatabaseUnavailable

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,  # connect refused, server gone away, lost connection, lock waits
    sa_exc.InterfaceError,  # the connection is closed / unusable
    sa_exc.TimeoutError,  # pool checkout timed out
    sa_exc.DisconnectionError,
    sqlite3.OperationalError,  # database is locked past the busy timeout, cannot open file
)


def database_unavailable(exc: BaseException) -> DatabaseUnavailable | None:
    """The error to answer for ``exc`` when it (or what caused it) is a database outage."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _UNAVAILABLE) or (
            isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated
        ):
            return DatabaseUnavailable("the database is unavailable; retry the request")
        current = current.__cause__ or current.__context__
    return None
