"""The metrics interceptor and /metrics on real servers; label sets stay bounded."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.api import httpbody_pb2
from prometheus_client import REGISTRY

from paymesh import errors
from paymesh.catalog import CHANNELS
from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.service import observed
from paymesh.config.apps import LatePaymentPolicy
from paymesh.core.db.migrate import migrate
from paymesh.core.db.store import NewOrder, Store
from paymesh.core.ids import IdGenerator
from paymesh.merchant.v1 import info_service_pb2 as pb
from paymesh.merchant.v1 import info_service_pb2_grpc as pb_grpc
from paymesh.runtime import metrics
from paymesh.runtime.interceptor import ErrorInterceptor
from paymesh.runtime.metrics_server import MetricsInterceptor, listen_address, start_metrics

VERSION = "/paymesh.merchant.v1.InfoService/GetVersion"


class Raising(pb_grpc.InfoServiceServicer):
    def __init__(self) -> None:
        self.next: BaseException | None = None

    async def GetVersion(
        self, request: pb.GetVersionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetVersionResponse:
        if self.next is not None:
            raise self.next
        return pb.GetVersionResponse(version="ok")

    async def GetOpenApi(
        self, request: pb.GetOpenApiRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> httpbody_pb2.HttpBody:
        return httpbody_pb2.HttpBody()


@pytest.fixture
async def served() -> AsyncIterator[tuple[Raising, pb_grpc.InfoServiceAsyncStub, grpc.aio.Channel]]:
    server = grpc.aio.server(interceptors=[MetricsInterceptor(), ErrorInterceptor()])
    servicer = Raising()
    pb_grpc.add_InfoServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield servicer, pb_grpc.InfoServiceStub(channel), channel
    await server.stop(0)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_every_rpc_is_timed_and_counted_by_its_status_code(
    served: tuple[Raising, pb_grpc.InfoServiceAsyncStub, grpc.aio.Channel],
) -> None:
    servicer, stub, _ = served
    ok, count = (
        sample("paymesh_rpc_total", method=VERSION, code="OK"),
        sample("paymesh_rpc_duration_seconds_count", method=VERSION),
    )
    bad = sample("paymesh_rpc_total", method=VERSION, code="INVALID_ARGUMENT")
    internal = sample("paymesh_rpc_total", method=VERSION, code="INTERNAL")
    await stub.GetVersion(pb.GetVersionRequest())
    servicer.next = errors.InvalidArgument("no", field="x")
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.GetVersion(pb.GetVersionRequest())
    servicer.next = RuntimeError("boom")
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.GetVersion(pb.GetVersionRequest())
    assert sample("paymesh_rpc_total", method=VERSION, code="OK") == ok + 1
    assert sample("paymesh_rpc_total", method=VERSION, code="INVALID_ARGUMENT") == bad + 1
    assert sample("paymesh_rpc_total", method=VERSION, code="INTERNAL") == internal + 1
    assert sample("paymesh_rpc_duration_seconds_count", method=VERSION) == count + 3


async def test_unknown_methods_make_no_series(
    served: tuple[Raising, pb_grpc.InfoServiceAsyncStub, grpc.aio.Channel],
) -> None:
    _, _, channel = served
    before = series()
    call: Any = channel.unary_unary("/nope.Service/M" + "x" * 20)
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await call(b"")
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert series() == before


async def test_metrics_endpoint_serves_the_text_format() -> None:
    server = await start_metrics("127.0.0.1:0")
    try:
        async with aiohttp.ClientSession() as http, http.get(server.url) as r:
            assert r.status == 200
            text = await r.text()
        assert "# TYPE paymesh_rpc_duration_seconds histogram" in text
        assert "# TYPE paymesh_outbox_backlog gauge" in text
    finally:
        await server.close()


def test_workers_serve_metrics_on_consecutive_ports() -> None:
    assert listen_address("0.0.0.0:9464", {"PAYMESH_WORKER_INDEX": "2"}) == ("0.0.0.0", 9466)
    assert listen_address("127.0.0.1:0", {"PAYMESH_WORKER_INDEX": "2"}) == ("127.0.0.1", 0)
    assert listen_address(":9464", {}) == ("0.0.0.0", 9464)


def series() -> dict[str, int]:
    """Label sets per paymesh metric family in the process registry."""
    out: dict[str, int] = {}
    for family in REGISTRY.collect():
        if family.name.startswith("paymesh_"):
            out[family.name] = len({frozenset(s.labels.items()) for s in family.samples})
    return out


def label_values() -> set[str]:
    return {
        v
        for family in REGISTRY.collect()
        if family.name.startswith("paymesh_")
        for s in family.samples
        for v in s.labels.values()
    }


async def _answer(state: int) -> svc.PayResponse:
    return svc.PayResponse(trade=channel_pb2.TradeResult(state=state))  # type: ignore[arg-type]


async def _unavailable() -> svc.PayResponse:
    raise errors.ChannelUnavailable("timeout", metadata={"failure": "timeout"})


async def _drive(store: Store, i: int, channels: Any) -> str:
    """One order through creation, a transition, a callback and a channel call."""
    channel = next(channels)
    created = await store.insert_order(
        NewOrder(
            app_id=f"app{i}",
            out_trade_no=f"no{i}",
            amount=100 + i,
            currency="CNY",
            channel=channel,
            account_id=f"acct{i}",
            method="qr",
            subject="s",
        )
    )
    oid = created.row.order_id
    if i % 3 == 0:
        await store.mark_paid(oid, 100 + i, f"trade{i}", store.clock())
    elif i % 3 == 1:
        await store.mark_closed(oid)
    else:
        await store.mark_failed(oid, f"reason {i}")
    metrics.callback(channel, ("applied", "rejected", f"odd{i}")[i % 3])
    metrics.late_payment(f"policy{i}")
    metrics.notify_attempt(200 + i % 400, i % 2 == 0, i)
    call = _unavailable() if i % 5 == 0 else _answer(channel_pb2.TradeState.TRADE_STATE_PAID)
    with pytest.raises(errors.ChannelUnavailable) if i % 5 == 0 else _nothing():
        await observed(channel, "pay", call)
    return oid


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


async def test_label_sets_stay_bounded_over_a_thousand_distinct_orders(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await migrate(url)
    store = Store.from_url(url, IdGenerator(0, 1))
    # Channels as a caller may name them, including made-up ones (a callback URL's path).
    channels = itertools.cycle(["wechat", "alipay", "unionpay", *(f"evil{i}" for i in range(97))])
    try:
        # Every combination of the inputs' classes has occurred after 500 orders (the
        # channel cycle is 100 long, outcomes cycle by 3 and 5, HTTP statuses by 400) ...
        ids = [await _drive(store, i, channels) for i in range(500)]
        warm = series()
        # ... so 500 more distinct orders, apps, accounts and trade numbers add no series.
        ids += [await _drive(store, i, channels) for i in range(500, 1000)]
        assert series() == warm, "a label set grew with the number of orders"
    finally:
        await store.close()
    values = label_values()
    assert not values & set(ids), "an order id became a label value"
    assert not [v for v in values if re.match(r"(evil|app|acct|policy|odd)[0-9]", v)]
    providers = len(metrics.PROVIDERS) + 1  # and "other"
    assert warm["paymesh_orders"] <= providers * 4  # created, paid, closed, failed
    assert warm["paymesh_callbacks"] <= providers * 5  # four outcomes and "other"
    assert warm["paymesh_notify_attempts"] <= 6  # 1xx-5xx, none
    assert set(metrics.NAMES) >= {
        f"{f.name}_total" if f.type == "counter" else f.name
        for f in REGISTRY.collect()
        if f.name.startswith("paymesh_") and f.type in ("counter", "gauge")
    }


def test_bounded_label_sets_know_every_real_value() -> None:
    assert {p.value for p in LatePaymentPolicy} == metrics.LATE_POLICIES
    assert {c.name for c in CHANNELS} == metrics.PROVIDERS
