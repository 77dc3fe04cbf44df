"""Database fixtures: every storage test runs on SQLite (tmp file) and real MariaDB."""

from __future__ import annotations

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


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    await migrate(db_url)
    s = Store.from_url(db_url, IdGenerator(0, 1))
    try:
        yield s
    finally:
        await s.close()
