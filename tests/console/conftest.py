"""A console on a free port over a throwaway SQLite database and a file config store (the
embedded column); browser and etcd tests build on the same helpers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from paymesh.console.runtime import Backends, open_backends, start_console
from paymesh.runtime.settings import Settings

ADMIN = ("alice", "alice-password-123")
ADMIN2 = ("bob", "bob-password-12345")
VIEWER = ("victor", "victor-password-1")


@dataclass
class RunningConsole:
    url: str
    backends: Backends
    settings: Settings
    runner: web.AppRunner


@pytest.fixture
def console_settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'console.db'}",
        config_backend="file",
        config_file=str(tmp_path / "config.json"),
    )


@pytest.fixture
async def console(console_settings: Settings) -> AsyncIterator[RunningConsole]:
    async with open_backends(console_settings, source="console", live=True) as b:
        for (name, password), role in ((ADMIN, "admin"), (ADMIN2, "admin"), (VIEWER, "viewer")):
            await b.users.add(name, password, role)
        runner, port = await start_console(b, console_settings, "127.0.0.1", 0)
        try:
            yield RunningConsole(f"http://127.0.0.1:{port}", b, console_settings, runner)
        finally:
            await runner.cleanup()


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


async def login(
    http: aiohttp.ClientSession, url: str, user: tuple[str, str]
) -> aiohttp.ClientResponse:
    async with http.get(url + "/") as r:
        page = await r.text()
    token = re.search(r'name="login_token" value="([^"]+)"', page)
    assert token
    resp = await http.post(
        url + "/login",
        data={"login_token": token.group(1), "username": user[0], "password": user[1]},
        allow_redirects=False,
    )
    resp.release()
    return resp
