"""A genuine callback of one channel account never settles another account's order (issue 9.1).

Tenant B has its own WeChat / Alipay merchant configured in paymesh. It opens a trade at the
provider under the victim's order id (with its own merchant key, as any merchant can), points
the notify URL at `/v1/callbacks/{channel}/{B's account}` and pays it. The provider's callback
is genuine and signed for B's account, the amount matches: before issue 9 the victim's order
became PAID. Now the callback is refused with the provider's failure answer and nothing changes.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import grpc
import pytest

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channel.v1 import channel_service_pb2_grpc as svc_grpc
from paymesh.dev.seed import (
    ALIPAY_APP_ID,
    WECHAT_MCHID,
    private_key_pem,
    seed_alipay,
    seed_wechat,
)
from paymesh.merchant.v1 import pay_service_pb2, refund_service_pb2
from tests.e2e.client import Merchant
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import eventually, out_no, query_order, sandbox

TENANT_B = {"wechat": "wechat-tenant-b", "alipay": "alipay-tenant-b"}
VICTIM = {"wechat": WECHAT_MCHID, "alipay": ALIPAY_APP_ID}
B_MCHID, B_APPID, B_ALIPAY_APP = "1900000222", "wxb0b0b0b0b0b0b0b0", "2021000000000222"


async def seed_tenant_b(mesh: Mesh, channel: str) -> str:
    """B's own account at the provider and in paymesh; returns B's provider merchant id."""
    key = private_key_pem()
    if channel == "wechat":
        await seed_wechat(
            mesh.repo, mesh.sandbox_url, key, TENANT_B[channel], mchid=B_MCHID, appid=B_APPID
        )
        return B_MCHID
    await seed_alipay(mesh.repo, mesh.sandbox_url, key, TENANT_B[channel], app_id=B_ALIPAY_APP)
    return B_ALIPAY_APP


async def open_trade_as_b(mesh: Mesh, channel: str, order_id: str, amount: int) -> None:
    """B's trade at the provider under the victim's order id, notify URL on B's account."""
    request = svc.PayRequest(
        account=channel_pb2.AccountRef(channel=channel, account_id=TENANT_B[channel]),
        method="qr",
        order_id=order_id,
        amount=amount,
        currency="CNY",
        subject="not yours",
        notify_url=f"{mesh.edge_url}/v1/callbacks/{channel}/{TENANT_B[channel]}",
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.server.port}") as ch:
        stub = svc_grpc.ChannelServiceStub(ch)

        async def opened() -> bool:  # the channel service picks B's account up from config
            try:
                await stub.Pay(request, timeout=5)
            except grpc.aio.AioRpcError:
                return False
            return True

        await eventually(opened)


@pytest.mark.parametrize("channel", ["wechat", "alipay"])
async def test_genuine_callback_of_another_account_does_not_settle_the_order(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession, channel: str
) -> None:
    status, body = await merchant.post(
        "/v1/orders",
        {
            "out_trade_no": out_no(),
            "amount": 4321,
            "subject": "victim",
            "method": "qr",
            "channel": channel,
        },
        pay_service_pb2.CreateOrderRequest,
    )
    assert status == 200, body
    victim = body["order"]["order_id"]
    b_merchant = await seed_tenant_b(mesh, channel)
    await open_trade_as_b(mesh, channel, victim, 4321)
    await sandbox(
        http,
        mesh.sandbox_url,
        "/_sandbox/pay",
        {"channel": channel, "out_trade_no": victim, "merchant_id": b_merchant},
    )

    async def answered() -> list[dict[str, Any]]:
        ds = (await sandbox(http, mesh.sandbox_url, "/_sandbox/callbacks"))["callbacks"]
        return [d for d in ds if d["subject"] == victim and d["merchant_id"] == b_merchant]

    async def has_attempt() -> bool:
        return any(d["attempts"] for d in await answered())

    await eventually(has_attempt)
    (delivery, *_) = await answered()
    assert not delivery["delivered"]  # the provider got its failure answer and will retry
    assert delivery["url"].endswith(f"/v1/callbacks/{channel}/{TENANT_B[channel]}")
    order = await query_order(merchant, victim)
    assert order["status"] == "PENDING"
    store = await mesh.store()
    assert await store.list_events(victim) == []
    # The victim's own payment still settles it.
    await sandbox(
        http,
        mesh.sandbox_url,
        "/_sandbox/pay",
        {"channel": channel, "out_trade_no": victim, "merchant_id": VICTIM[channel]},
    )

    async def paid() -> bool:
        return bool((await query_order(merchant, victim))["status"] == "PAID")

    await eventually(paid)
    assert [e.event_type for e in await store.list_events(victim)] == ["order.paid"]


@pytest.mark.parametrize("channel", ["wechat", "alipay"])
async def test_paid_callback_without_an_amount_is_refused(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession, channel: str
) -> None:
    """A genuine notify of the right account that states no amount (WeChat `total` 0, Alipay
    `total_amount` 0.00) is a refusal, not "the order's amount"."""
    status, body = await merchant.post(
        "/v1/orders",
        {"out_trade_no": out_no(), "amount": 1234, "subject": "s", "method": "qr",
         "channel": channel},
        pay_service_pb2.CreateOrderRequest,
    )  # fmt: skip
    assert status == 200, body
    oid = body["order"]["order_id"]
    await sandbox(
        http,
        mesh.sandbox_url,
        "/_sandbox/faults",
        {"channel": channel, "fault": "amount_mismatch", "amount": 0, "out_trade_no": oid},
    )
    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay", {"channel": channel, "out_trade_no": oid}
    )

    async def answered() -> bool:
        ds = (await sandbox(http, mesh.sandbox_url, "/_sandbox/callbacks"))["callbacks"]
        return any(d["subject"] == oid and d["attempts"] for d in ds)

    await eventually(answered)
    ds = (await sandbox(http, mesh.sandbox_url, "/_sandbox/callbacks"))["callbacks"]
    (delivery, *_) = [d for d in ds if d["subject"] == oid]
    assert not delivery["delivered"]
    assert (await query_order(merchant, oid))["status"] == "PENDING"
    assert await (await mesh.store()).list_events(oid) == []


async def test_refund_callback_of_another_account_does_not_settle_the_refund(
    mesh: Mesh, merchant: Merchant, http: aiohttp.ClientSession
) -> None:
    """The same attack on a refund: the victim's refund is PENDING (its request never got an
    answer); tenant B refunds its own trade at WeChat under the victim's refund id. B's genuine
    REFUND.SUCCESS must not mark the victim's refund SUCCEEDED (no money moved for it)."""
    status, body = await merchant.post(
        "/v1/orders",
        {"out_trade_no": out_no(), "amount": 2000, "subject": "victim", "method": "qr",
         "channel": "wechat"},
        pay_service_pb2.CreateOrderRequest,
    )  # fmt: skip
    assert status == 200, body
    victim = body["order"]["order_id"]
    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay",
        {"channel": "wechat", "out_trade_no": victim, "merchant_id": WECHAT_MCHID},
    )  # fmt: skip

    async def paid() -> bool:
        return bool((await query_order(merchant, victim))["status"] == "PAID")

    await eventually(paid)
    await sandbox(
        http,
        mesh.sandbox_url,
        "/_sandbox/faults",
        {"channel": "wechat", "fault": "http_500", "path": "/v3/refund/domestic/refunds",
         "process": False, "count": 1},
    )  # fmt: skip
    status, body = await merchant.post(
        "/v1/refunds",
        {"order_id": victim, "out_refund_no": out_no("r"), "amount": 700},
        refund_service_pb2.CreateRefundRequest,
    )
    assert status == 200, body
    refund_id = body["refund"]["refund_id"]
    assert body["refund"]["status"] == "PENDING"

    b = await seed_tenant_b(mesh, "wechat")
    await open_trade_as_b(mesh, "wechat", victim, 2000)
    await sandbox(
        http, mesh.sandbox_url, "/_sandbox/pay",
        {"channel": "wechat", "out_trade_no": victim, "merchant_id": b},
    )  # fmt: skip
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.server.port}") as ch:
        await svc_grpc.ChannelServiceStub(ch).Refund(
            svc.RefundRequest(
                account=channel_pb2.AccountRef(channel="wechat", account_id=TENANT_B["wechat"]),
                order_id=victim,
                refund_id=refund_id,
                amount=700,
                total_amount=2000,
                currency="CNY",
                notify_url=f"{mesh.edge_url}/v1/callbacks/wechat/{TENANT_B['wechat']}",
            ),
            timeout=5,
        )

    async def refund_notified() -> list[dict[str, Any]]:
        ds = (await sandbox(http, mesh.sandbox_url, "/_sandbox/callbacks"))["callbacks"]
        return [d for d in ds if d["subject"] == refund_id and d["merchant_id"] == b]

    async def answered() -> bool:
        return any(d["attempts"] for d in await refund_notified())

    await eventually(answered)
    (delivery, *_) = await refund_notified()
    assert not delivery["delivered"]
    refund = await (await mesh.store()).get_refund(refund_id)
    assert refund is not None
    assert refund.status == "PENDING"
    events = await (await mesh.store()).list_events(refund_id)
    assert [e.event_type for e in events] == []
