"""ChannelClient: a channel served by this process is called in-process with the same error
mapping as over gRPC (definitive errors pass, anything else is CHANNEL_UNAVAILABLE), the
same timeout, and every exchange logged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.core.channel_client import CHANNEL_SERVICE, ChannelClient
from paymesh.core.db.migrate import migrate
from paymesh.core.db.models import ChannelRequest
from paymesh.core.db.store import Store
from paymesh.core.ids import IdGenerator
from paymesh.errors import ChannelError, ChannelUnavailable, Internal, InvalidArgument
from paymesh.runtime.context import ServiceContext
from paymesh.runtime.settings import Settings


class Local:
    def __init__(self) -> None:
        self.raise_: Exception | None = None
        self.delay = 0.0

    async def Pay(self, request: svc.PayRequest, context: Any) -> svc.PayResponse:
        await asyncio.sleep(self.delay)
        if self.raise_ is not None:
            raise self.raise_
        return svc.PayResponse(
            exchanges=[channel_pb2.Exchange(http_method="POST", http_status=200)]
        )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
    await migrate(url)
    s = Store.from_url(url, IdGenerator(0, 1))
    yield s
    await s.close()


def _client(store: Store, local: Local, timeout: float = 5.0) -> ChannelClient:
    settings = Settings(
        channel_targets={"wechat": "127.0.0.1:1"},  # never dialled: served in-process
        channel_timeout_seconds=timeout,
    )
    ctx = ServiceContext(settings, ["pay", "wechat"])
    ctx.provide(f"{CHANNEL_SERVICE}/wechat", local)
    return ChannelClient(ctx, store)


def _pay(order_id: str) -> svc.PayRequest:
    return svc.PayRequest(
        account=channel_pb2.AccountRef(channel="wechat", account_id="wx1"), order_id=order_id
    )


async def _logged(store: Store, object_id: str) -> list[ChannelRequest]:
    async with store.sessions() as s:
        stmt = sa.select(ChannelRequest).where(ChannelRequest.object_id == object_id)
        return list((await s.execute(stmt)).scalars())


async def test_in_process_call_and_its_log(store: Store) -> None:
    local = Local()
    client = _client(store, local)
    resp = await client.call("Pay", _pay("P1"), kind="order", object_id="P1")
    assert resp.exchanges[0].http_status == 200
    rows = await _logged(store, "P1")
    assert [(r.rpc, r.http_status) for r in rows] == [("Pay", 200)]
    # Unlogged: the caller writes the exchanges in its own next transaction.
    _, calls = await client.call_unlogged("Pay", _pay("P2"), kind="order", object_id="P2")
    assert [c.http_status for c in calls] == [200]
    assert await _logged(store, "P2") == []


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (ChannelError("ORDERPAID", metadata={"provider_code": "ORDERPAID"}), ChannelError),
        (InvalidArgument("bad amount", field="amount"), InvalidArgument),
        (ChannelUnavailable("provider timed out"), ChannelUnavailable),
        (Internal("boom"), ChannelUnavailable),
        (RuntimeError("a bug"), ChannelUnavailable),
    ],
)
async def test_in_process_errors_map_as_over_grpc(
    store: Store, raised: Exception, expected: type[Exception]
) -> None:
    local = Local()
    local.raise_ = raised
    client = _client(store, local)
    with pytest.raises(expected) as info:
        await client.call("Pay", _pay("P3"), kind="order", object_id="P3")
    assert type(info.value) is expected
    if isinstance(raised, ChannelError):
        assert info.value.metadata == {"provider_code": "ORDERPAID"}  # type: ignore[attr-defined]
    rows = await _logged(store, "P3")
    assert len(rows) == 1
    assert rows[0].error.startswith(("CHANNEL_", "INVALID_ARGUMENT"))


async def test_in_process_call_times_out_as_unavailable(store: Store) -> None:
    local = Local()
    local.delay = 1.0
    client = _client(store, local, timeout=0.1)
    with pytest.raises(ChannelUnavailable):
        await client.call("Pay", _pay("P4"), kind="order", object_id="P4")
    assert len(await _logged(store, "P4")) == 1
