"""The one wall clock: aware UTC now. Code that decides on time takes a clock argument
defaulting to this, so tests pass their own."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


__all__ = ["utcnow"]
