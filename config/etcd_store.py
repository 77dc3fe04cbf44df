"""EtcdConfigStore: the ConfigStore over etcd v3 (etcd3aio, asyncio).

- Compare-and-swap is one etcd transaction: compare the key's `mod_revision` (or `version == 0`
  for "only if absent"), put/delete on success, read the key back on failure.
- `watch()` keeps its own position (the mod revision of the last event delivered) and, when the
  stream breaks (etcd restarted, network cut, watch cancelled), opens a new one from that
  position + 1, so nothing is lost or repeated. If etcd compacted past the position, it re-lists
  the prefix and emits the difference.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

import grpc
from etcd3aio import Etcd3Client, EtcdError, SortOrder, SortTarget, prefix_range_end
from etcd3aio._protobuf import Compare  # the txn predicate message (no public alias)

from paymesh.config.store import ConfigStore, ConfigStoreUnavailable, Entry, Snapshot, WatchEvent
from paymesh.errors import ConfigConflict, ConfigInvalid
from paymesh.runtime.logging import get_logger

log = get_logger(__name__)

_EVENT_DELETE = 1  # mvccpb.Event.EventType.DELETE (PUT is 0)


def _conflict(key: str, expected: int, actual: int) -> ConfigConflict:
    return ConfigConflict(
        f"{key} changed: expected revision {expected}, found {actual}",
        metadata={"key": key, "expected_revision": str(expected), "revision": str(actual)},
    )


class EtcdConfigStore(ConfigStore):
    """ConfigStore on etcd 3.4+.

    `endpoints` are `host:port` strings (or one comma-separated string); `ca_cert` (and
    `cert_key` + `cert_chain` for mutual TLS) are PEM bytes that turn TLS on; `user` and
    `password` authenticate to an etcd with auth enabled (the token is refreshed in the
    background for as long as the store is open).
    """

    def __init__(
        self,
        endpoints: Sequence[str] | str,
        *,
        timeout: float = 5.0,
        reconnect_backoff: float = 0.2,
        max_reconnect_backoff: float = 2.0,
        ca_cert: bytes | None = None,
        cert_key: bytes | None = None,
        cert_chain: bytes | None = None,
        user: str | None = None,
        password: str | None = None,
        tls_server_name: str | None = None,
    ) -> None:
        if bool(user) != bool(password):
            raise ConfigInvalid("etcd user and password go together")
        if isinstance(endpoints, str):
            endpoints = [e.strip() for e in endpoints.split(",") if e.strip()]
        self._endpoints = [e.removeprefix("http://").removeprefix("https://") for e in endpoints]
        self._timeout = timeout
        self._backoff = reconnect_backoff
        self._max_backoff = max_reconnect_backoff
        self._client = Etcd3Client(
            self._endpoints,
            watch_reconnect_backoff_seconds=reconnect_backoff,
            watch_max_reconnect_backoff_seconds=max_reconnect_backoff,
            ca_cert=ca_cert,
            cert_key=cert_key,
            cert_chain=cert_chain,
            tls_server_name=tls_server_name,
        )
        self._user = user
        self._password = password
        self._refresher: Any = None
        # etcd3aio builds the channel from these options; cap gRPC's own reconnect backoff
        # (default up to 120 s) so a restarted etcd is found again within seconds.
        self._client._manager.grpc_options.extend(
            [
                ("grpc.initial_reconnect_backoff_ms", int(reconnect_backoff * 1000)),
                ("grpc.min_reconnect_backoff_ms", int(reconnect_backoff * 1000)),
                ("grpc.max_reconnect_backoff_ms", int(max_reconnect_backoff * 1000)),
            ]
        )
        self._connected = False
        self._closed = False

    def __repr__(self) -> str:
        return f"EtcdConfigStore({self._endpoints!r})"

    async def connect(self) -> None:
        """Open the gRPC channel (done lazily by every call)."""
        if self._closed:
            raise RuntimeError("EtcdConfigStore is closed")
        if not self._connected:
            await self._client.connect()
            if self._user and self._password:
                refresher = self._client.token_refresher(self._user, self._password)
                try:
                    await refresher.__aenter__()
                except (EtcdError, grpc.aio.AioRpcError, TimeoutError) as e:
                    raise self._unavailable("authenticate", e) from e
                self._refresher = refresher
            self._connected = True

    async def _kv(self) -> Any:
        await self.connect()
        return self._client.kv

    def _unavailable(self, op: str, err: Exception) -> ConfigStoreUnavailable:
        return ConfigStoreUnavailable(
            f"etcd {op} failed: {type(err).__name__}: {err}",
            metadata={"endpoints": ",".join(self._endpoints)},
        )

    # ---- reads ----

    async def get(self, key: str) -> Entry | None:
        kv = await self._kv()
        try:
            resp = await kv.get(key, timeout=self._timeout)
        except (EtcdError, grpc.aio.AioRpcError, TimeoutError) as e:
            raise self._unavailable("get", e) from e
        if not resp.kvs:
            return None
        item = resp.kvs[0]
        return Entry(item.key.decode("utf-8"), bytes(item.value), int(item.mod_revision))

    async def list(self, prefix: str) -> builtins.list[Entry]:
        return (await self.snapshot(prefix)).entries

    async def snapshot(self, prefix: str) -> Snapshot:
        if not prefix:
            raise ConfigInvalid("empty prefix")
        kv = await self._kv()
        try:
            resp = await kv.get(
                prefix,
                range_end=prefix_range_end(prefix),
                sort_order=SortOrder.ASCEND,
                sort_target=SortTarget.KEY,
                timeout=self._timeout,
            )
        except (EtcdError, grpc.aio.AioRpcError, TimeoutError) as e:
            raise self._unavailable("list", e) from e
        entries = [
            Entry(i.key.decode("utf-8"), bytes(i.value), int(i.mod_revision)) for i in resp.kvs
        ]
        return Snapshot(entries, int(resp.header.revision))

    # ---- writes ----

    @staticmethod
    def _compare(key: str, expected: int) -> Any:
        if expected == 0:
            return Compare(
                result=Compare.EQUAL, target=Compare.VERSION, key=key.encode(), version=0
            )
        return Compare(
            result=Compare.EQUAL, target=Compare.MOD, key=key.encode(), mod_revision=expected
        )

    async def _txn(self, key: str, expected: int, op: Any, what: str) -> Any:
        kv = await self._kv()
        try:
            resp = await kv.txn(
                [self._compare(key, expected)],
                [op],
                [kv.txn_op_get(key)],
                timeout=self._timeout,
            )
        except (EtcdError, grpc.aio.AioRpcError, TimeoutError) as e:
            raise self._unavailable(what, e) from e
        if not resp.succeeded:
            kvs = resp.responses[0].response_range.kvs
            actual = int(kvs[0].mod_revision) if kvs else 0
            raise _conflict(key, expected, actual)
        return resp

    async def put(self, key: str, value: bytes, *, expected_revision: int | None = None) -> int:
        if not key:
            raise ConfigInvalid("empty key")
        if expected_revision is None:
            kv = await self._kv()
            try:
                resp = await kv.put(key, bytes(value), timeout=self._timeout)
            except (EtcdError, grpc.aio.AioRpcError, TimeoutError) as e:
                raise self._unavailable("put", e) from e
            return int(resp.header.revision)
        kv = await self._kv()
        txn = await self._txn(key, expected_revision, kv.txn_op_put(key, bytes(value)), "put")
        return int(txn.header.revision)

    async def delete(self, key: str, *, expected_revision: int | None = None) -> bool:
        kv = await self._kv()
        if expected_revision is None:
            try:
                resp = await kv.delete(key, timeout=self._timeout)
            except (EtcdError, grpc.aio.AioRpcError, TimeoutError) as e:
                raise self._unavailable("delete", e) from e
            return int(resp.deleted) > 0
        txn = await self._txn(key, expected_revision, kv.txn_op_delete(key), "delete")
        return int(txn.responses[0].response_delete_range.deleted) > 0

    # ---- watch ----

    async def watch(self, prefix: str, *, start_revision: int = 0) -> AsyncIterator[WatchEvent]:
        if not prefix:
            raise ConfigInvalid("empty prefix")
        # next_rev: first revision not yet delivered (0 until the first stream tells us "now").
        next_rev = start_revision
        known: dict[str, int] = {}  # keys under the prefix -> revision, for compaction diffs
        if start_revision <= 0:
            snap = await self._snapshot_retrying(prefix)
            known = {e.key: e.revision for e in snap.entries}
            next_rev = snap.revision + 1
        backoff = self._backoff
        while not self._closed:
            try:
                await self.connect()
                assert self._client.watch is not None
                stream: AsyncGenerator[Any, None] = self._client.watch.watch(  # type: ignore[assignment]
                    prefix,
                    range_end=prefix_range_end(prefix),
                    start_revision=next_rev,
                    progress_notify=True,
                )
                try:
                    async for resp in stream:
                        backoff = self._backoff
                        if resp.compact_revision > 0:
                            log.warning(
                                "config_watch_compacted",
                                prefix=prefix,
                                wanted=next_rev,
                                compact_revision=int(resp.compact_revision),
                            )
                            snap = await self.snapshot(prefix)
                            for ev in self._diff(snap, known, next_rev):
                                yield ev
                            next_rev = snap.revision + 1
                            break
                        if resp.canceled:
                            log.warning(
                                "config_watch_canceled", prefix=prefix, reason=resp.cancel_reason
                            )
                            break
                        for ev in resp.events:
                            rev = int(ev.kv.mod_revision)
                            if rev < next_rev:
                                continue  # replayed after a reconnect: already delivered
                            key = ev.kv.key.decode("utf-8")
                            if ev.type == _EVENT_DELETE:
                                known.pop(key, None)
                                yield WatchEvent("delete", key, None, rev)
                            else:
                                known[key] = rev
                                yield WatchEvent("put", key, bytes(ev.kv.value), rev)
                            next_rev = rev + 1
                finally:
                    await stream.aclose()
            except (EtcdError, grpc.aio.AioRpcError, ConfigStoreUnavailable) as e:
                log.warning(
                    "config_watch_reconnect",
                    prefix=prefix,
                    next_revision=next_rev,
                    error=f"{type(e).__name__}: {e}",
                    backoff=backoff,
                )
            if self._closed:
                break
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    async def _snapshot_retrying(self, prefix: str) -> Snapshot:
        backoff = self._backoff
        while True:
            try:
                return await self.snapshot(prefix)
            except ConfigStoreUnavailable as e:
                if self._closed:
                    raise
                log.warning("config_watch_list_failed", prefix=prefix, error=str(e))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)

    @staticmethod
    def _diff(snap: Snapshot, known: dict[str, int], since: int) -> builtins.list[WatchEvent]:
        """Events that bring a watcher at revision `since - 1` to `snap` (after compaction)."""
        events: builtins.list[WatchEvent] = []
        present = {e.key for e in snap.entries}
        for key in sorted(set(known) - present):
            events.append(WatchEvent("delete", key, None, snap.revision))
            del known[key]
        for e in snap.entries:
            if e.revision >= since or known.get(e.key) != e.revision:
                events.append(WatchEvent("put", e.key, e.value, e.revision))
                known[e.key] = e.revision
        events.sort(key=lambda ev: ev.revision)
        return events

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._refresher is not None:
            with contextlib.suppress(Exception):
                await self._refresher.__aexit__(None, None, None)
        await self._client.close()


__all__ = ["EtcdConfigStore"]
