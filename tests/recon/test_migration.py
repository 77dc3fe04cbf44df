"""Migrations 0007_recon and 0008_recon_fund_flow create exactly the tables `paymesh.recon.models` describes."""

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
from paymesh.recon.models import ReconBase


def _only_recon(name: str | None, type_: str, parent_names: Any) -> bool:
    return type_ != "table" or name in ReconBase.metadata.tables


def _diff(conn: sa.Connection) -> list[Any]:
    opts = {"compare_type": True, "include_name": _only_recon}
    ctx = MigrationContext.configure(conn, opts=opts)
    return list(compare_metadata(ctx, ReconBase.metadata))


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
async def test_recon_tables_match_models(
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
            assert {"recon_runs", "recon_mismatches", "recon_entries", "recon_actions"} <= names
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()
