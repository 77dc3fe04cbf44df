"""Alembic environment, async-aware.

Programmatic use (`paymesh.core.db.migrate.migrate`) hands over an open connection in
``config.attributes["connection"]``; the alembic CLI gets the URL from ``sqlalchemy.url``
or ``PAYMESH_DATABASE_URL`` and runs on its own async engine.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from paymesh.core.db.console_models import ConsoleBase
from paymesh.core.db.engine import create_engine
from paymesh.core.db.models import Base
from paymesh.core.db.notify_models import NotifyBase

config = context.config
# Every table the migrations create, so `alembic revision --autogenerate` sees them all.
target_metadata = [Base.metadata, NotifyBase.metadata, ConsoleBase.metadata]


def _url() -> str:
    return os.environ.get("PAYMESH_DATABASE_URL") or config.get_main_option("sqlalchemy.url") or ""


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_engine(_url(), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(run_async_migrations())
    else:
        do_run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
