"""Alipay fund transfers need certificate mode (issue 9.4): "由于单笔转账到账户产品涉及到资金转账
接口,为了保障资金安全,开放平台要求开发者使用“公钥证书”模式配置密钥并调用接口"
(https://docs.open.alipay.com/309/106236/). A transfer routed to a public-key-mode Alipay
account is refused with FAILED_PRECONDITION / CHANNEL_NOT_ENABLED naming the required mode,
before any provider call: nothing reaches Alipay, no money can move."""

from __future__ import annotations

import aiohttp
import sqlalchemy as sa

from paymesh.channels.alipay.config import AlipayAccount
from paymesh.config import factory as config_factory
from paymesh.config.apps import RouteTarget
from paymesh.core.db.models import ChannelRequest
from paymesh.dev.seed import ALIPAY_ACCOUNT, seed_app
from paymesh.errors import AppNotFound
from paymesh.merchant.v1 import query_service_pb2, transfer_service_pb2
from tests.e2e.client import reason
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import eventually, out_no

CreateTransfer = transfer_service_pb2.CreateTransferRequest


async def test_alipay_transfer_on_a_public_key_account_is_refused_before_any_call(
    mesh: Mesh, http: aiohttp.ClientSession
) -> None:
    app_id = "alipay-xfer"
    demo = await seed_app(
        mesh.repo, app_id=app_id, secret=f"{app_id}-0123456789abcdef0123456789abcdef",
        notify_url=mesh.notify_url,
    )  # fmt: skip
    config = await mesh.repo.get_app(app_id)
    account = await mesh.repo.get_channel_account("alipay", ALIPAY_ACCOUNT)
    assert isinstance(account, AlipayAccount)
    assert account.mode == "public_key"
    routes = {
        **config.routes,
        "alipay:transfer": RouteTarget(channel="alipay", account_id=ALIPAY_ACCOUNT),
    }
    await mesh.repo.put_app(config.model_copy(update={"routes": routes}))
    served = await config_factory.config_repository(mesh.server.context)

    async def seen() -> bool:
        try:
            return "alipay:transfer" in (await served.get_app(app_id)).routes
        except AppNotFound:
            return False

    await eventually(seen)
    merchant = mesh.merchant(http, demo)
    no = out_no("x")
    body = {"out_transfer_no": no, "amount": 100, "channel": "alipay",
            "payee_id": "2088102177846880", "payee_name": "Payee"}  # fmt: skip
    status, answer = await merchant.post("/v1/transfers", body, CreateTransfer)
    assert status == 400, answer
    assert answer["code"] == 9  # FAILED_PRECONDITION
    assert reason(answer) == "CHANNEL_NOT_ENABLED"
    (info,) = [d for d in answer["details"] if d["@type"].endswith("ErrorInfo")]
    assert info["metadata"]["required_mode"] == "certificate"

    status, found = await merchant.get(
        "/v1/transfers:lookup", {"out_transfer_no": no}, query_service_pb2.QueryTransferRequest
    )
    assert status == 200, found
    assert found["transfer"]["status"] == "FAILED"  # definitive: it never left paymesh
    async with (await mesh.store()).sessions() as s:
        calls = await s.execute(
            sa.select(ChannelRequest.http_method, ChannelRequest.url).where(
                ChannelRequest.object_id == found["transfer"]["transfer_id"]
            )
        )
        assert [tuple(r) for r in calls] == [("", "")]  # the RPC logged, no HTTP exchange
