"""paymesh's Alipay channel against the provider sandbox (channels/sandbox/alipay), in both
key modes: precreate, pay via the sandbox, notify, query, refund, refund query, transfer,
close, and client-side page pay URL accepted by the sandbox gateway."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.alipay import sign
from paymesh.channels.alipay.channel import AlipayChannel
from paymesh.channels.alipay.config import AlipayAccount
from paymesh.channels.sandbox import SandboxServer, SandboxState, start_sandbox
from paymesh.errors import ChannelError, ChannelNotEnabled
from tests.channels.alipay.conftest import Notifies
from tests.channels.alipay.fakes import new_rsa_key

REF = pb.AccountRef(channel="alipay", account_id="ali-sandbox")


def unique(prefix: str) -> str:
    return f"{prefix}{int(time.time() * 1000)}{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = await start_sandbox(
        state=SandboxState(refund_delay=0.2, transfer_delay=0.2, callback_retry_delays=(0.1,))
    )
    yield server
    await server.close()


async def account_for(
    http: aiohttp.ClientSession, sandbox: SandboxServer, mode: str, notify_url: str
) -> AlipayAccount:
    key = new_rsa_key()
    app_id = f"2021{uuid.uuid4().int % 10**12:012d}"
    body: dict[str, Any] = {
        "channel": "alipay",
        "merchant_id": app_id,
        "public_key_pem": sign.public_key_pem(key),
    }
    if mode == "certificate":
        body["key_mode"] = "certificate"
    async with http.post(sandbox.url + "/_sandbox/merchants", json=body) as resp:
        assert resp.status == 200, await resp.text()
        reg = await resp.json()
    fields: dict[str, Any] = {
        "account_id": REF.account_id,
        "base_url": sandbox.url + "/gateway.do",
        "app_id": app_id,
        "private_key_pem": sign.private_key_pem(key),
        "notify_url": notify_url,
        "mode": mode,
    }
    if mode == "certificate":
        fields["app_cert_pem"] = reg["app_cert_pem"]
        fields["alipay_public_cert_pem"] = reg["alipay_public_cert_pem"]
        fields["alipay_root_cert_pem"] = reg["alipay_root_cert_pem"]
    else:
        fields["alipay_public_key_pem"] = reg["alipay_public_key_pem"]
    return AlipayAccount(**fields)


@pytest.mark.parametrize("mode", ["public_key", "certificate"])
async def test_alipay_channel_against_sandbox(
    mode: str, sandbox: SandboxServer, notifies: Notifies, channel: AlipayChannel
) -> None:
    async with aiohttp.ClientSession() as http:
        account = await account_for(http, sandbox, mode, notifies.url)
        order_id = unique("P")
        pay = await channel.pay(
            account,
            svc.PayRequest(
                account=REF, method="qr", order_id=order_id, amount=1999, subject="测试 & co"
            ),
        )
        assert pay.pay_data.code_url
        assert pay.trade.state == pb.TRADE_STATE_PENDING

        query = svc.QueryRequest(account=REF, order_id=order_id)
        assert (await channel.query(account, query)).trade.state == pb.TRADE_STATE_PENDING

        async with http.post(
            sandbox.url + "/_sandbox/pay",
            json={"channel": "alipay", "out_trade_no": order_id, "merchant_id": account.app_id},
        ) as resp:
            assert resp.status == 200, await resp.text()

        body = (await notifies.wait_for(1))[0]
        parsed = await channel.parse_notify(
            account, svc.ParseNotifyRequest(account=REF, http_method="POST", body=body)
        )
        assert not parsed.reject_reason, parsed.reject_reason
        assert parsed.trade.state == pb.TRADE_STATE_PAID
        assert parsed.trade.order_id == order_id
        assert parsed.trade.amount == 1999
        assert parsed.ack.body == b"success"

        paid = (await channel.query(account, query)).trade
        assert paid.state == pb.TRADE_STATE_PAID
        assert paid.amount == 1999

        refund_id = unique("R")
        refund = await channel.refund(
            account,
            svc.RefundRequest(
                account=REF, order_id=order_id, refund_id=refund_id, amount=1, total_amount=1999
            ),
        )
        assert refund.refund.state in (pb.RESULT_STATE_SUCCEEDED, pb.RESULT_STATE_PENDING)
        await asyncio.sleep(0.3)
        queried = await channel.query_refund(
            account, svc.QueryRefundRequest(account=REF, order_id=order_id, refund_id=refund_id)
        )
        assert queried.refund.state == pb.RESULT_STATE_SUCCEEDED
        assert queried.refund.amount == 1

        transfer_id = unique("T")
        transfer_request = svc.TransferRequest(
            account=REF, transfer_id=transfer_id, amount=100, payee_id="2088102177846880"
        )
        if mode == "public_key":  # Alipay's fund transfers need certificate mode
            with pytest.raises(ChannelNotEnabled):
                await channel.transfer(account, transfer_request)
        else:
            transfer = await channel.transfer(account, transfer_request)
            assert transfer.transfer.state in (
                pb.RESULT_STATE_SUCCEEDED,
                pb.RESULT_STATE_PENDING,
            )
            await asyncio.sleep(0.3)
            tq = await channel.query_transfer(
                account, svc.QueryTransferRequest(account=REF, transfer_id=transfer_id)
            )
            assert tq.transfer.state == pb.RESULT_STATE_SUCCEEDED

        # an unpaid order closes; a paid one cannot be closed
        open_id = unique("P")
        await channel.pay(
            account,
            svc.PayRequest(account=REF, method="qr", order_id=open_id, amount=1, subject="s"),
        )
        await channel.close(account, svc.CloseRequest(account=REF, order_id=open_id))
        closed = await channel.query(account, svc.QueryRequest(account=REF, order_id=open_id))
        assert closed.trade.state == pb.TRADE_STATE_CLOSED
        with pytest.raises(ChannelError):
            await channel.close(account, svc.CloseRequest(account=REF, order_id=order_id))

        # client-side page pay: the signed URL is accepted by the gateway
        page = await channel.pay(
            account,
            svc.PayRequest(account=REF, method="page", order_id=unique("P"), amount=1, subject="s"),
        )
        async with http.get(page.pay_data.pay_url, allow_redirects=False) as resp:
            text = await resp.text()
            assert resp.status in (200, 302), text
            assert "error_response" not in text, text
            assert "isv." not in text, text
        tampered = page.pay_data.pay_url.replace("amount%22%3A%220.01", "amount%22%3A%220.02")
        assert tampered != page.pay_data.pay_url
        async with http.get(tampered, allow_redirects=False) as resp:
            assert "isv.invalid-signature" in await resp.text()


async def test_unknown_app_is_a_channel_error(
    sandbox: SandboxServer, channel: AlipayChannel
) -> None:
    async with aiohttp.ClientSession() as http:
        account = await account_for(http, sandbox, "public_key", "http://127.0.0.1:9/x")
    account = account.model_copy(update={"app_id": "2021000000000999"})
    with pytest.raises(ChannelError):
        await channel.query(account, svc.QueryRequest(account=REF, order_id="P1"))


@pytest.mark.parametrize(
    ("auth_code", "state"),
    [
        ("28763443825664394", pb.TRADE_STATE_PAID),
        ("10003443825664394", pb.TRADE_STATE_PENDING),
        ("20000443825664394", pb.TRADE_STATE_PENDING),  # unknown -> query: buyer still paying
    ],
)
async def test_barcode_against_sandbox(
    auth_code: str, state: int, sandbox: SandboxServer, channel: AlipayChannel
) -> None:
    async with aiohttp.ClientSession() as http:
        account = await account_for(http, sandbox, "public_key", "http://127.0.0.1:9/x")
    req = svc.PayRequest(
        account=REF,
        method="barcode",
        order_id=unique("B"),
        amount=1,
        subject="s",
        auth_code=auth_code,
    )
    out = await channel.pay(account, req)
    assert out.trade.state == state
    if auth_code.startswith("20000"):
        assert len(out.exchanges) == 2  # pay, then one query


async def test_barcode_refused_against_sandbox(
    sandbox: SandboxServer, channel: AlipayChannel
) -> None:
    async with aiohttp.ClientSession() as http:
        account = await account_for(http, sandbox, "public_key", "http://127.0.0.1:9/x")
    req = svc.PayRequest(
        account=REF, method="barcode", order_id=unique("B"), amount=1, subject="s",
        auth_code="40004443825664394",
    )  # fmt: skip
    with pytest.raises(ChannelError) as info:
        await channel.pay(account, req)
    assert info.value.metadata["provider_code"] == "ACQ.PAYMENT_AUTH_CODE_INVALID"
