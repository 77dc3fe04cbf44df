"""Open what the console and `paymesh config` need from the settings: the config store and
repository, the database (migrated; audit log, operators), and the write service."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from paymesh.channels.registry import CHANNEL_ENTRIES, load_channel_class
from paymesh.config.crypto import SecretCipher
from paymesh.config.factory import open_store as config_store
from paymesh.config.repository import ConfigRepository
from paymesh.console.audit import AuditLog
from paymesh.console.service import ConfigService
from paymesh.console.users import Users
from paymesh.core.db.engine import create_engine
from paymesh.core.db.migrate import migrate
from paymesh.runtime.settings import Settings, require


def load_channel_models() -> None:
    """Import every installed channel so its account model is in the schema registry."""
    for name in list(CHANNEL_ENTRIES):
        load_channel_class(name)


@dataclass
class Backends:
    repo: ConfigRepository
    service: ConfigService
    users: Users
    audit: AuditLog
    engine: AsyncEngine


@contextlib.asynccontextmanager
async def open_backends(
    settings: Settings, *, source: str, live: bool = False
) -> AsyncIterator[Backends]:
    """Everything for one console process or CLI command; closed on exit.

    `live`: keep the repository's cache current with a watch (the console); the CLI reads
    the store directly.
    """
    require(settings, {f"paymesh {source}": ("database_url", "config_backend")})
    assert settings.database_url is not None
    load_channel_models()
    await migrate(settings.database_url)
    engine = create_engine(settings.database_url)
    store = config_store(settings)
    repo = ConfigRepository(store, settings.config_prefix, SecretCipher.from_env())
    try:
        if live:
            await repo.start()
        audit = AuditLog(engine)
        yield Backends(
            repo, ConfigService(repo, audit, source=source), Users(engine, audit), audit, engine
        )
    finally:
        await repo.close()
        await store.close()
        await engine.dispose()


async def start_console(
    backends: Backends, settings: Settings, host: str, port: int
) -> tuple[web.AppRunner, int]:
    """Serve the console on host:port (0: any free port); returns the runner and the port."""
    from paymesh.console.app import build_app
    from paymesh.console.connection import ConnectionTester
    from paymesh.console.recon_client import ReconClient
    from paymesh.console.supervision import Supervision
    from paymesh.console.web import Console, is_loopback

    console = Console(
        repo=backends.repo,
        service=backends.service,
        users=backends.users,
        audit=backends.audit,
        tester=ConnectionTester(),
        secure_cookies=not is_loopback(host),
        supervision=Supervision(backends.engine, settings),
        recon=ReconClient(settings),
    )
    runner = web.AppRunner(build_app(console), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = int(runner.addresses[0][1])
    return runner, bound


__all__ = ["Backends", "load_channel_models", "open_backends", "start_console"]
