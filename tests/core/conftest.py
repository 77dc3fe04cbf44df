"""Database fixtures: every storage test runs on SQLite (tmp file) and real MariaDB."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from paymesh.core.db.migrate import migrate
from paymesh.core.db.store import Store
from paymesh.core.ids import IdGenerator


@pytest.fixture(params=["sqlite", "mariadb"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'paymesh.db'}"
    url: str = request.getfixturevalue("mariadb_database")
    return url


@contextlib.asynccontextmanager
async def open_store(url: str) -> AsyncIterator[Store]:
    """A migrated store on ``url``, closed afterwards."""
    await migrate(url)
    s = Store.from_url(url, IdGenerator(0, 1))
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    async with open_store(db_url) as s:
        yield s
