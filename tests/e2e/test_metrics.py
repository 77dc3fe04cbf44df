"""/metrics of a running mesh moves with one payment: RPC, channel, money and notify series."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import create_qr_order, eventually, sandbox

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
CREATE = "/paymesh.merchant.v1.PayService/CreateOrder"
CALLBACK = "/paymesh.merchant.v1.CallbackService/HandleCallback"


async def scrape(http: aiohttp.ClientSession, url: str) -> Samples:
    async with http.get(url) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = await r.text()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


async def test_one_payment_moves_counters_and_histograms(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    assert mesh.server.metrics is not None
    url = mesh.server.metrics.url
    before = await scrape(http, url)

    order = await create_qr_order(merchant, 321, notify_url=mesh.notify_url)
    oid = str(order["order_id"])
    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay", {"channel": "wechat", "out_trade_no": oid}
    )

    async def notified() -> bool:
        return any(r.body.get("order_id") == oid for r in mesh.demo_merchant.received)

    await eventually(notified, within=20)

    async def delivered_counted() -> bool:
        now = await scrape(http, url)
        return value(now, "paymesh_notify_attempts_total", http_class="2xx") > value(
            before, "paymesh_notify_attempts_total", http_class="2xx"
        )

    await eventually(delivered_counted, within=5)
    after = await scrape(http, url)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # One interceptor: every RPC is timed and counted by code.
    assert moved("paymesh_rpc_total", method=CREATE, code="OK") >= 1
    assert moved("paymesh_rpc_duration_seconds_count", method=CREATE) >= 1
    assert moved("paymesh_rpc_duration_seconds_sum", method=CREATE) > 0
    assert moved("paymesh_rpc_duration_seconds_bucket", method=CREATE, le="+Inf") >= 1
    assert moved("paymesh_rpc_total", method=CALLBACK, code="OK") >= 1
    # The channel's provider call.
    assert (
        moved("paymesh_channel_calls_total", provider="wechat", operation="pay", outcome="ok") >= 1
    )
    assert moved("paymesh_channel_call_duration_seconds_count", provider="wechat") >= 1
    # The money path.
    assert moved("paymesh_orders_total", channel="wechat", status="created") >= 1
    assert moved("paymesh_orders_total", channel="wechat", status="paid") >= 1
    assert moved("paymesh_callbacks_total", channel="wechat", outcome="applied") >= 1
    # Outbox -> bus -> merchant.
    assert moved("paymesh_outbox_published_total") >= 1
    assert moved("paymesh_notify_delivery_duration_seconds_count") >= 1
    assert ("paymesh_outbox_backlog", frozenset()) in after
    # Nothing carries an order id.
    assert not any(oid in v for (_, labels) in after for _, v in labels)
