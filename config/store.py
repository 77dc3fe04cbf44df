"""The ConfigStore interface: a small versioned key-value store with watch.

Two implementations: `EtcdConfigStore` (production, CI) and `FileConfigStore` (`paymesh dev`).
Both keep a global revision counter; an entry's `revision` is the revision of its last write
(etcd's `mod_revision`), and compare-and-swap writes name the revision they expect.
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import grpc

from paymesh.errors import PaymeshError, Reason


class ConfigStoreUnavailable(PaymeshError):
    """The config backend did not answer (after the client's own retries). Retry later."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = Reason.INTERNAL
    retryable = True


@dataclass(frozen=True, slots=True)
class Entry:
    """One key as stored: raw value bytes and the revision of its last write."""

    key: str
    value: bytes
    revision: int


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """A change under a watched prefix. `value` is None for deletes."""

    kind: Literal["put", "delete"]
    key: str
    value: bytes | None
    revision: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every entry under a prefix as of one store revision (`revision`)."""

    entries: builtins.list[Entry]
    revision: int


class ConfigStore(abc.ABC):
    """Versioned key-value store with compare-and-swap and prefix watch.

    `expected_revision` on writes: None = unconditional, 0 = only if the key is absent,
    N = only if the key's current revision is N. A lost comparison raises `ConfigConflict`.
    """

    @abc.abstractmethod
    async def get(self, key: str) -> Entry | None:
        """The entry at `key`, or None."""

    @abc.abstractmethod
    async def list(self, prefix: str) -> builtins.list[Entry]:
        """Every entry whose key starts with `prefix`, sorted by key."""

    @abc.abstractmethod
    async def snapshot(self, prefix: str) -> Snapshot:
        """Like `list`, plus the store revision the listing is consistent with.

        `watch(prefix, start_revision=snapshot.revision + 1)` then misses nothing.
        """

    @abc.abstractmethod
    async def put(self, key: str, value: bytes, *, expected_revision: int | None = None) -> int:
        """Write `value` at `key`; returns the new revision. Raises ConfigConflict."""

    @abc.abstractmethod
    async def delete(self, key: str, *, expected_revision: int | None = None) -> bool:
        """Delete `key`; False when it was absent. Raises ConfigConflict on a lost CAS."""

    @abc.abstractmethod
    def watch(self, prefix: str, *, start_revision: int = 0) -> AsyncIterator[WatchEvent]:
        """Changes under `prefix`, in revision order, until the consumer stops iterating.

        `start_revision` 0 means changes from now on; N > 0 also replays changes with
        revision >= N that the store still remembers. Survives backend restarts.
        Cancel the consuming task (or `aclose()` the iterator) to stop it.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and files. Idempotent."""

    async def __aenter__(self) -> ConfigStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


__all__ = ["ConfigStore", "ConfigStoreUnavailable", "Entry", "Snapshot", "WatchEvent"]
