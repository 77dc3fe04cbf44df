"""Read side of the supervision pages (filled in by the supervision step)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from paymesh.runtime.settings import Settings


class Supervision:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
