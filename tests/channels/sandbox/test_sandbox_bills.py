"""The sandbox's daily bills against its own state, fetched and parsed by paymesh's own
channels (WeChat: tradebill + signed download, gzip, SHA1; Alipay: downloadurl + GBK zip),
and the discrepancies it injects on request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import aiohttp
import pytest

from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels import billfile
from paymesh.channels.alipay import sign as alipay_sign
from paymesh.channels.alipay.channel import AlipayChannel
from paymesh.channels.alipay.config import AlipayAccount
from paymesh.channels.sandbox import SandboxServer
from paymesh.channels.transport import Transport
from paymesh.channels.wechat import sign
from paymesh.channels.wechat.channel import WechatChannel
from paymesh.channels.wechat.config import WechatAccount
from paymesh.errors import InvalidArgument
from tests.channels.alipay.fakes import new_rsa_key
from tests.channels.sandbox.conftest import register, unique

WX = pb.AccountRef(channel="wechat", account_id="wx-bills")
ALI = pb.AccountRef(channel="alipay", account_id="ali-bills")


def today() -> str:
    return datetime.now(billfile.CHINA).date().isoformat()


def fee(amount: int) -> int:
    return int((Decimal(amount) * Decimal("0.006")).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@pytest.fixture
async def wechat() -> AsyncIterator[WechatChannel]:
    ch = WechatChannel(Transport(timeout_seconds=5))
    yield ch
    await ch.aclose()


@pytest.fixture
async def alipay() -> AsyncIterator[AlipayChannel]:
    ch = AlipayChannel(Transport(timeout_seconds=5))
    yield ch
    await ch.aclose()


async def wechat_account(http: aiohttp.ClientSession, sandbox: SandboxServer) -> WechatAccount:
    m = await register(http, sandbox)
    return WechatAccount(
        account_id=WX.account_id,
        base_url=sandbox.url,
        mchid=m.mchid,
        appid=m.appid,
        merchant_serial_no=m.serial_no,
        private_key_pem=sign.private_key_pem(m.key),
        api_v3_key=m.api_v3_key,
        platform_public_key_id=m.registration["platform_public_key_id"],
        platform_public_key_pem=m.registration["platform_public_key_pem"],
        notify_url="http://127.0.0.1:9/notify",
    )


async def alipay_account(http: aiohttp.ClientSession, sandbox: SandboxServer) -> AlipayAccount:
    key = new_rsa_key()
    app_id = f"2021{uuid.uuid4().int % 10**12:012d}"
    body = {
        "channel": "alipay",
        "merchant_id": app_id,
        "public_key_pem": alipay_sign.public_key_pem(key),
    }
    async with http.post(sandbox.url + "/_sandbox/merchants", json=body) as resp:
        assert resp.status == 200, await resp.text()
        reg = await resp.json()
    return AlipayAccount(
        account_id=ALI.account_id,
        base_url=sandbox.url + "/gateway.do",
        app_id=app_id,
        private_key_pem=alipay_sign.private_key_pem(key),
        alipay_public_key_pem=reg["alipay_public_key_pem"],
        notify_url="http://127.0.0.1:9/notify",
    )


async def arm(http: aiohttp.ClientSession, sandbox: SandboxServer, **fault: Any) -> int:
    async with http.post(sandbox.url + "/_sandbox/faults", json=fault) as resp:
        return resp.status


async def pay(http: aiohttp.ClientSession, sandbox: SandboxServer, channel: str, no: str) -> None:
    async with http.post(
        sandbox.url + "/_sandbox/pay", json={"channel": channel, "out_trade_no": no}
    ) as resp:
        assert resp.status == 200, await resp.text()


def summary(lines: list[pb.BillLine]) -> list[tuple[int, str, str, int, int]]:
    return sorted((ln.kind, ln.order_id, ln.refund_id, ln.amount, ln.fee) for ln in lines)


async def test_wechat_bill_is_the_sandbox_day_and_its_injected_discrepancies(
    http: aiohttp.ClientSession, sandbox: SandboxServer, wechat: WechatChannel
) -> None:
    account = await wechat_account(http, sandbox)
    orders = {unique("P"): amount for amount in (100, 2550, 999)}
    for order_id, amount in orders.items():
        await wechat.pay(
            account, svc.PayRequest(account=WX, method="qr", order_id=order_id, amount=amount,
                                    subject="咖啡, 大杯", notify_url="http://127.0.0.1:9/n"),
        )  # fmt: skip
    first, second, _unpaid = orders
    await pay(http, sandbox, "wechat", first)
    await pay(http, sandbox, "wechat", second)
    refund_id = unique("R")
    await wechat.refund(
        account, svc.RefundRequest(account=WX, order_id=first, refund_id=refund_id, amount=40,
                                   total_amount=100, currency="CNY"),
    )  # fmt: skip
    await sandbox.state.idle()

    request = svc.DownloadBillRequest(account=WX, bill_date=today())
    bill = await wechat.download_bill(account, request)
    assert bill.available
    assert summary(list(bill.lines)) == sorted(
        [
            (billfile.PAYMENT, first, "", 100, fee(100)),
            (billfile.PAYMENT, second, "", 2550, fee(2550)),
            (billfile.REFUND, first, refund_id, 40, fee(40)),
        ]
    )
    trade = sandbox.state.trade("wechat", account.mchid, first)
    assert trade is not None
    by_order = {ln.order_id: ln for ln in bill.lines if ln.kind == billfile.PAYMENT}
    assert by_order[first].channel_trade_no == trade.channel_trade_no
    assert bill.summary.payment_amount == 2650
    assert bill.summary.refund_amount == 40
    # The tradebill and fundflowbill answers are logged; the files themselves are not.
    assert [ex.http_method for ex in bill.exchanges] == ["GET"] * 4
    assert "hash_value" in bill.exchanges[0].response_body
    assert "oSandbox" not in bill.exchanges[1].response_body
    assert "hash_value" in bill.exchanges[2].response_body
    assert "交易" not in bill.exchanges[3].response_body

    assert await arm(http, sandbox, channel="wechat", fault="bill_unknown_trade",
                     out_trade_no="PNEVERHEARD0001", amount=777) == 200  # fmt: skip
    assert await arm(http, sandbox, channel="wechat", fault="bill_amount_off",
                     out_trade_no=second) == 200  # fmt: skip
    assert await arm(http, sandbox, channel="wechat", fault="bill_refund_missing",
                     out_refund_no=refund_id) == 200  # fmt: skip
    assert await arm(http, sandbox, channel="wechat", fault="bill_status_differs",
                     out_trade_no=first) == 200  # fmt: skip
    for _ in range(2):  # the same bill on every download
        bill = await wechat.download_bill(account, request)
        assert summary(list(bill.lines)) == sorted(
            [
                (billfile.PAYMENT, first, "", 100, fee(100)),
                (billfile.PAYMENT, second, "", 2551, fee(2551)),
                (billfile.PAYMENT, "PNEVERHEARD0001", "", 777, fee(777)),
            ]
        )
        revoked = next(ln for ln in bill.lines if ln.order_id == first)
        assert revoked.provider_state == "REVOKED"
        assert revoked.trade_state != pb.TRADE_STATE_PAID

    empty = await wechat.download_bill(
        account, svc.DownloadBillRequest(account=WX, bill_date="2001-01-01")
    )
    assert not empty.available
    assert not empty.lines
    with pytest.raises(InvalidArgument):
        await wechat.download_bill(account, svc.DownloadBillRequest(account=WX, bill_date="1.1."))


async def test_alipay_bill_is_the_sandbox_day_and_its_injected_discrepancies(
    http: aiohttp.ClientSession, sandbox: SandboxServer, alipay: AlipayChannel
) -> None:
    account = await alipay_account(http, sandbox)
    first, second = unique("P"), unique("P")
    for order_id, amount in ((first, 1999), (second, 500)):
        await alipay.pay(
            account, svc.PayRequest(account=ALI, method="qr", order_id=order_id, amount=amount,
                                    subject="蛋糕"),
        )  # fmt: skip
        await pay(http, sandbox, "alipay", order_id)
    refund_id = unique("R")
    await alipay.refund(
        account, svc.RefundRequest(account=ALI, order_id=first, refund_id=refund_id, amount=999,
                                   total_amount=1999, currency="CNY"),
    )  # fmt: skip
    await sandbox.state.idle()

    request = svc.DownloadBillRequest(account=ALI, bill_date=today())
    bill = await alipay.download_bill(account, request)
    assert summary(list(bill.lines)) == sorted(
        [
            (billfile.PAYMENT, first, "", 1999, fee(1999)),
            (billfile.PAYMENT, second, "", 500, fee(500)),
            (billfile.REFUND, first, refund_id, 999, fee(999)),
        ]
    )
    # fees net of the share the refund gave back (the bill prints it negative), as the
    # settlement summary counts them: a run's net is the money that actually settled
    assert bill.summary.fee_amount == fee(1999) + fee(500) - fee(999)
    assert await arm(http, sandbox, channel="alipay", fault="bill_amount_off",
                     out_trade_no=second, delta=-1) == 200  # fmt: skip
    assert await arm(http, sandbox, channel="alipay", fault="bill_refund_missing",
                     out_refund_no=refund_id) == 200  # fmt: skip
    assert (
        await arm(http, sandbox, channel="alipay", fault="bill_status_differs", out_trade_no=first)
        == 400
    )  # Alipay's bill has no state column
    bill = await alipay.download_bill(account, request)
    assert summary(list(bill.lines)) == sorted(
        [
            (billfile.PAYMENT, first, "", 1999, fee(1999)),
            (billfile.PAYMENT, second, "", 499, fee(499)),
        ]
    )
    empty = await alipay.download_bill(
        account, svc.DownloadBillRequest(account=ALI, bill_date="2001-01-01")
    )
    assert not empty.available
