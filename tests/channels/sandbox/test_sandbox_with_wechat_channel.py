"""paymesh's own WeChat channel (channels/wechat) against the sandbox, in its three
platform-key modes: pay, query, callback, refund, transfer, unknown order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.sandbox import SandboxServer
from paymesh.channels.transport import Transport
from paymesh.channels.wechat import sign
from paymesh.channels.wechat.channel import WechatChannel
from paymesh.channels.wechat.config import WechatAccount
from paymesh.errors import ChannelError
from tests.channels.sandbox.conftest import Receiver, register, unique

REF = pb.AccountRef(channel="wechat", account_id="wx-sandbox")


@pytest.fixture
async def channel() -> AsyncIterator[WechatChannel]:
    ch = WechatChannel(Transport(timeout_seconds=5))
    yield ch
    await ch.aclose()


@pytest.mark.parametrize("mode", ["public_key", "certificates", "download"])
async def test_wechat_channel_against_sandbox(
    mode: str,
    channel: WechatChannel,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
    receiver: Receiver,
) -> None:
    m = await register(http, sandbox)
    reg = m.registration
    fields: dict[str, Any] = {
        "account_id": REF.account_id,
        "base_url": sandbox.url,
        "mchid": m.mchid,
        "appid": m.appid,
        "merchant_serial_no": m.serial_no,
        "private_key_pem": sign.private_key_pem(m.key),
        "api_v3_key": m.api_v3_key,
        "notify_url": receiver.url,
    }
    if mode == "public_key":
        fields["platform_public_key_id"] = reg["platform_public_key_id"]
        fields["platform_public_key_pem"] = reg["platform_public_key_pem"]
    elif mode == "certificates":
        fields["platform_certificates"] = [reg["platform_certificate_pem"]]
    else:
        fields["download_certificates"] = True
    account = WechatAccount(**fields)
    order_id = unique("P")

    out = await channel.pay(
        account,
        svc.PayRequest(
            account=REF, method="qr", order_id=order_id, amount=100, subject="s",
            notify_url=receiver.url,
        ),
    )  # fmt: skip
    assert out.pay_data.code_url.startswith(sandbox.url)
    q = await channel.query(account, svc.QueryRequest(account=REF, order_id=order_id))
    assert q.trade.provider_state == "NOTPAY"

    async with http.post(
        sandbox.url + "/_sandbox/pay", json={"channel": "wechat", "out_trade_no": order_id}
    ) as resp:
        assert resp.status == 200
    [cb] = await receiver.wait_for(1)
    parsed = await channel.parse_notify(
        account,
        svc.ParseNotifyRequest(
            account=REF, http_method="POST", headers={k.lower(): v for k, v in cb.headers.items()},
            body=cb.body, content_type="application/json",
        ),
    )  # fmt: skip
    assert parsed.WhichOneof("event") == "trade", parsed
    assert parsed.trade.order_id == order_id
    assert parsed.trade.amount == 100

    q = await channel.query(account, svc.QueryRequest(account=REF, order_id=order_id))
    assert q.trade.provider_state == "SUCCESS"
    refund_id = unique("R")
    rf = await channel.refund(
        account,
        svc.RefundRequest(
            account=REF, order_id=order_id, refund_id=refund_id, amount=40, total_amount=100,
            notify_url=receiver.url,
        ),
    )  # fmt: skip
    assert rf.refund.provider_state in ("PROCESSING", "SUCCESS")
    transfer_id = unique("T")
    tr = await channel.transfer(
        account,
        svc.TransferRequest(
            account=REF, transfer_id=transfer_id, amount=50, payee_id="o-x", remark="r",
            notify_url=receiver.url,
        ),
    )  # fmt: skip
    assert tr.transfer.provider_state == "ACCEPTED"
    with pytest.raises(ChannelError):
        await channel.query(account, svc.QueryRequest(account=REF, order_id=unique("N")))
