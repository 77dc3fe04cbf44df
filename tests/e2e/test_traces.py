"""Traces, exported to an OTLP receiver inside the test: one CreateOrder is one connected
trace from Envoy to the sandbox call; a payment's notification links to its callback; log
lines and error answers carry the trace id."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from paymesh.merchant.v1 import pay_service_pb2
from paymesh.runtime import logging as plog
from paymesh.runtime import tracing
from paymesh.testing.ports import free_port
from paymesh.testing.processes import EtcdServer, MariaDBServer, NatsServer
from tests.e2e.cashier_helpers import cashier_order
from tests.e2e.conftest import BACKENDS, Mesh, start_mesh
from tests.e2e.helpers import create_qr_order, eventually, out_no, sandbox

CREATE = "/paymesh.merchant.v1.PayService/CreateOrder"
CALLBACK = "/paymesh.merchant.v1.CallbackService/HandleCallback"
Span = trace_pb2.Span


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """A minimal OTLP/gRPC collector: keeps every span with its service name."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, Span]] = []

    async def Export(
        self,
        request: trace_service_pb2.ExportTraceServiceRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        for rs in request.resource_spans:
            service = next(
                (a.value.string_value for a in rs.resource.attributes if a.key == "service.name"),
                "",
            )
            for ss in rs.scope_spans:
                self.spans.extend((service, s) for s in ss.spans)
        return trace_service_pb2.ExportTraceServiceResponse()

    def named(self, name: str) -> list[Span]:
        return [s for _, s in self.spans if s.name == name]

    def trace(self, trace_id: bytes) -> list[tuple[str, Span]]:
        return [(svc, s) for svc, s in self.spans if s.trace_id == trace_id]


@pytest.fixture(params=BACKENDS)
async def traced_mesh(
    request: pytest.FixtureRequest,
    etcd_server: EtcdServer,
    mariadb_server: MariaDBServer,
    nats_server: NatsServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Mesh, Receiver]]:
    receiver = Receiver()
    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
        receiver, server
    )
    port = server.add_insecure_port(f"127.0.0.1:{free_port()}")
    await server.start()
    try:
        # mariadb+etcd: the event crosses a NATS JetStream of its own (traceparent header).
        async with start_mesh(
            request.param,
            etcd_server,
            mariadb_server,
            nats_server,
            tmp_path_factory,
            own_nats=True,
            otlp_endpoint=f"127.0.0.1:{port}",
        ) as mesh:
            yield mesh, receiver
    finally:
        await server.stop(0)
    assert not tracing.enabled()  # the drained server turned recording off again


def _attrs(span: Span) -> dict[str, str]:
    return {a.key: a.value.string_value or str(a.value.int_value) for a in span.attributes}


async def test_one_create_order_is_one_connected_trace_and_the_notification_links_its_callback(
    traced_mesh: tuple[Mesh, Receiver], http: aiohttp.ClientSession
) -> None:
    mesh, receiver = traced_mesh
    merchant = mesh.merchant(http)
    logs = io.StringIO()
    plog.configure("INFO", stream=logs)
    try:
        order = await create_qr_order(merchant, 555, notify_url=mesh.notify_url)
    finally:
        plog.configure("INFO")
    oid = str(order["order_id"])
    sandbox_port = mesh.sandbox_url.rsplit(":", 1)[1]

    def sandbox_call(spans: list[tuple[str, Span]]) -> list[Span]:
        return [
            s
            for _, s in spans
            if s.kind == Span.SPAN_KIND_CLIENT
            and any(sandbox_port in v for v in _attrs(s).values())
        ]

    async def whole_trace() -> bool:
        await asyncio.to_thread(tracing.flush)  # the receiver runs on this loop
        creates = receiver.named(CREATE)
        if not creates:
            return False
        spans = receiver.trace(creates[-1].trace_id)
        return bool(sandbox_call(spans)) and any(svc == "paymesh-edge" for svc, _ in spans)

    await eventually(whole_trace, within=20)
    (create,) = [s for s in receiver.named(CREATE) if s.kind == Span.SPAN_KIND_SERVER]
    spans = receiver.trace(create.trace_id)
    ids = {s.span_id for _, s in spans}
    (root,) = [s for _, s in spans if not s.parent_span_id]
    (edge,) = [s for svc, s in spans if svc == "paymesh-edge"]
    # Connected: one root, Envoy's span (or the test's own instrumented HTTP client call,
    # whose traceparent Envoy continued); every other span's parent is in the same trace.
    assert root is edge or edge.parent_span_id == root.span_id
    assert all(s.parent_span_id in ids for _, s in spans if s.parent_span_id)
    (http_call,) = sandbox_call(spans)
    chain = {s.span_id: s for _, s in spans}
    hop, seen = http_call, []
    while hop.parent_span_id:
        hop = chain[hop.parent_span_id]
        seen.append(hop.name)
    # sandbox call <- the channel operation (<- Pay over gRPC, when not in-process)
    # <- CreateOrder <- the edge
    assert seen[0] == "channel wechat pay", seen
    assert CREATE in seen, seen
    assert edge.name in seen, seen

    # Log lines carry the trace id.
    trace_hex = create.trace_id.hex()
    lines = [json.loads(x) for x in logs.getvalue().splitlines() if x.startswith("{")]
    traced = [x for x in lines if x.get("trace_id") == trace_hex]
    assert traced
    assert all(len(x["span_id"]) == 16 for x in traced)

    # A payment: the callback's trace goes through the outbox to the merchant notification.
    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay", {"channel": "wechat", "out_trade_no": oid}
    )

    def delivery() -> list[Span]:
        """The notify span of this order's event (other meshes' notifiers may be tracing)."""
        events = {
            r.body["event_id"] for r in mesh.demo_merchant.received if r.body.get("order_id") == oid
        }
        return [
            s
            for s in receiver.named("notify order.paid")
            if _attrs(s).get("paymesh.event_id") in events
        ]

    async def notified() -> bool:
        await asyncio.to_thread(tracing.flush)  # the receiver runs on this loop
        return bool(delivery())

    await eventually(notified, within=20)
    callbacks = {s.span_id: s for s in receiver.named(CALLBACK) if s.kind == Span.SPAN_KIND_SERVER}
    (notify,) = delivery()
    assert [link.span_id for link in notify.links] == [notify.parent_span_id]
    assert notify.parent_span_id in callbacks
    assert notify.trace_id == callbacks[notify.parent_span_id].trace_id
    posts = [s for _, s in receiver.trace(notify.trace_id) if s.parent_span_id == notify.span_id]
    assert posts
    assert posts[0].kind == Span.SPAN_KIND_CLIENT  # the POST to the merchant

    # An error answer carries the trace id a merchant can quote.
    status, body = await merchant.post(
        "/v1/orders",
        {"out_trade_no": out_no(), "amount": 0, "subject": "x", "method": "qr"},
        pay_service_pb2.CreateOrderRequest,
    )
    assert status == 400, body
    (info,) = [d for d in body["details"] if d["@type"].endswith("ErrorInfo")]
    quoted = info["metadata"]["trace_id"]

    async def found() -> bool:
        await asyncio.to_thread(tracing.flush)  # the receiver runs on this loop
        return any(s.trace_id.hex() == quoted for _, s in receiver.spans)

    await eventually(found, within=20)


async def test_a_cashier_page_through_envoy_continues_the_edge_trace(
    traced_mesh: tuple[Mesh, Receiver], http: aiohttp.ClientSession
) -> None:
    """The cashier's aiohttp server takes Envoy's traceparent: its span is a child of the
    edge's, named by route pattern (the token stays out of span names)."""
    mesh, receiver = traced_mesh
    order = await cashier_order(mesh, mesh.merchant(http), 990)
    url = str(order["pay_data"]["code_url"])
    assert url.startswith(mesh.edge_url + "/cashier/o/")
    async with http.get(url) as r:
        assert r.status == 200  # a browser no wallet claims: the chooser page
    name = "GET /cashier/o/{token}"

    async def seen() -> bool:  # Envoy exports its spans on its own schedule
        await asyncio.to_thread(tracing.flush)  # the receiver runs on this loop
        pages = receiver.named(name)
        return bool(pages) and any(
            svc == "paymesh-edge" for svc, _ in receiver.trace(pages[0].trace_id)
        )

    await eventually(seen, within=20)
    (page,) = receiver.named(name)
    assert page.kind == Span.SPAN_KIND_SERVER
    assert _attrs(page)["http.route"] == "/cashier/o/{token}"
    edges = [s for svc, s in receiver.trace(page.trace_id) if svc == "paymesh-edge"]
    assert page.parent_span_id in {s.span_id for s in edges}
    token = url.rsplit("/", 1)[1]
    assert not [s for _, s in receiver.spans if token in s.name]
