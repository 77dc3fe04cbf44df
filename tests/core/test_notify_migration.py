"""Migration 0002_notify creates exactly the tables `paymesh.core.db.notify_models` describes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.pool import NullPool

from paymesh.core.db.engine import create_engine
from paymesh.core.db.migrate import migrate
from paymesh.core.db.notify_models import NotifyBase


def _only_notify(name: str | None, type_: str, parent_names: Any) -> bool:
    return type_ != "table" or name in NotifyBase.metadata.tables


def _diff(conn: sa.Connection) -> list[Any]:
    opts = {"compare_type": True, "include_name": _only_notify}
    ctx = MigrationContext.configure(conn, opts=opts)
    return list(compare_metadata(ctx, NotifyBase.metadata))


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
async def test_notify_tables_match_models(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    else:
        url = request.getfixturevalue("mariadb_database")
    await migrate(url)
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            names = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
            assert {"notify_deliveries", "notify_attempts"} <= names
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()
