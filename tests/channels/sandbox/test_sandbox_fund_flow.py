"""WeChat's fund flow bill (资金账单) end to end against the sandbox: the channel's
fundflowbill request, signed download, gzip and SHA1 check; the parser on the sandbox's own
file (plain and gzip) and on malformed copies of it; the totals against the trade bill; the
`bill_fund_flow_off` discrepancy."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.sandbox import SandboxServer
from paymesh.channels.transport import HttpResponse, Transport
from paymesh.channels.wechat import bill, fundflow
from paymesh.channels.wechat.channel import WechatChannel, new_nonce
from paymesh.channels.wechat.config import WechatAccount
from paymesh.channels.wechat.protocol import sign_request
from paymesh.errors import BillInvalid
from paymesh.recon import fundflow as recon_fundflow
from paymesh.runtime.clock import utcnow
from tests.channels.sandbox.conftest import unique
from tests.channels.sandbox.test_sandbox_bills import (
    WX,
    arm,
    fee,
    pay,
    today,
    wechat_account,
)


@pytest.fixture
async def wechat() -> AsyncIterator[WechatChannel]:
    ch = WechatChannel(Transport(timeout_seconds=5))
    yield ch
    await ch.aclose()


async def _day(
    http: aiohttp.ClientSession, sandbox: SandboxServer, wechat: WechatChannel
) -> tuple[WechatAccount, str, str, str]:
    """Two paid orders (1000, 2551 fen), a refund of 300 of the first."""
    account = await wechat_account(http, sandbox)
    first, second = unique("P"), unique("P")
    for order_id, amount in ((first, 1000), (second, 2551)):
        await wechat.pay(
            account, svc.PayRequest(account=WX, method="qr", order_id=order_id, amount=amount,
                                    subject="茶", notify_url="http://127.0.0.1:9/n"),
        )  # fmt: skip
        await pay(http, sandbox, "wechat", order_id)
    refund_id = unique("R")
    await wechat.refund(
        account, svc.RefundRequest(account=WX, order_id=first, refund_id=refund_id, amount=300,
                                   total_amount=1000, currency="CNY"),
    )  # fmt: skip
    await sandbox.state.idle()
    return account, first, second, refund_id


async def _raw(
    wechat: WechatChannel, account: WechatAccount, *, tar: str = "GZIP"
) -> tuple[bytes, str]:
    """The fund flow file as the sandbox serves it (the body, and its hash_value)."""
    query = f"bill_date={today()}&account_type=BASIC" + (f"&tar_type={tar}" if tar else "")
    http = sign_request(
        account, "GET", f"{fundflow.FUNDFLOWBILL_PATH}?{query}", b"", utcnow(), new_nonce()
    )
    transport = Transport(timeout_seconds=5)
    try:
        resp = await transport.send(http)
        keys = await wechat.platform_keys(account, [])
        found = bill.parse_tradebill_response(resp, keys, utcnow())
        assert found is not None
        url, sha1 = found
        download = bill.build_download_request(account, url, utcnow(), new_nonce())
        return (await transport.send(download)).body, sha1
    finally:
        await transport.close()


async def test_the_channel_downloads_the_fund_flow_bill_of_the_sandbox_day(
    http: aiohttp.ClientSession, sandbox: SandboxServer, wechat: WechatChannel
) -> None:
    account, first, second, refund_id = await _day(http, sandbox, wechat)
    got = await wechat.download_bill(
        account, svc.DownloadBillRequest(account=WX, bill_date=today())
    )
    flow = got.fund_flow
    assert got.HasField("fund_flow")
    assert flow.available
    charged, returned = fee(1000) + fee(2551), fee(300)
    assert (flow.entry_count, flow.income_count, flow.expense_count) == (6, 3, 3)
    assert flow.income_amount == 1000 + 2551 + returned
    assert flow.expense_amount == 300 + charged
    assert (flow.payment_amount, flow.refund_amount, flow.fee_amount, flow.other_amount) == (
        3551, 300, charged - returned, 0,
    )  # fmt: skip
    # the provider's two files agree: no FUND_FLOW_DIFFERS
    totals = recon_fundflow.bill_totals(got.lines)
    assert recon_fundflow.fund_totals(flow) == totals
    assert recon_fundflow.check(flow, totals, totals) == []

    # the file itself: gzip as asked, hash_value the SHA1 of the uncompressed file
    body, sha1 = await _raw(wechat, account)
    assert body[:2] == b"\x1f\x8b"
    raw = bill.bill_bytes(HttpResponse(status=200, headers={}, body=body), sha1)
    entries = fundflow.parse_fund_flow_bill(raw)
    assert [(e.kind, e.income, e.amount, e.voucher_no) for e in entries] == [
        ("交易", True, 1000, first),
        ("扣除交易手续费", False, fee(1000), first),
        ("交易", True, 2551, second),
        ("扣除交易手续费", False, fee(2551), second),
        ("退款", False, 300, refund_id),
        ("退回交易手续费", True, fee(300), refund_id),
    ]
    assert entries[-1].balance - entries[0].balance == (
        -1000 + (1000 + 2551 + fee(300)) - (fee(1000) + fee(2551) + 300)
    )
    text = raw.decode()
    assert text.startswith("记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,")
    assert "\r\n资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额\r\n`6,`3," in text
    # plain (no tar_type): the same file; a file that is not its hash_value is refused
    plain, plain_sha1 = await _raw(wechat, account, tar="")
    assert plain == raw
    assert plain_sha1 == sha1
    with pytest.raises(BillInvalid, match="hash_value"):
        bill.bill_bytes(HttpResponse(status=200, headers={}, body=gzip.compress(raw + b" ")), sha1)

    # no movement that day: no fund flow bill (and no trade bill)
    empty = await wechat.download_bill(
        account, svc.DownloadBillRequest(account=WX, bill_date="2001-01-01")
    )
    assert empty.HasField("fund_flow")
    assert not empty.fund_flow.available


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.replace("`退款,`退款,`支出,`3.00", "`退款,`退款,`支出,`3.01", 1), "支出金额"),
        (lambda t: t.replace("`支出,", "`出,", 1), "neither"),
        (lambda t: t.rsplit("资金流水总笔数", 1)[0], "summary"),  # truncated
        (lambda t: t.replace("`收入,`10.00,", "`收入,`10.001,", 1), "whole number of fen"),
        (lambda t: t.replace(",`交易,`交易,", ",`交易,", 1), "fields"),
        (lambda t: t.replace("记账时间", "时间", 1), "记账时间"),
    ],
)
async def test_a_malformed_sandbox_fund_flow_file_is_refused_whole(
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
    wechat: WechatChannel,
    mutate: Callable[[str], str],
    message: str,
) -> None:
    account, *_ = await _day(http, sandbox, wechat)
    body, _sha1 = await _raw(wechat, account, tar="")
    text = body.decode()
    broken = mutate(text)
    assert broken != text
    with pytest.raises(BillInvalid, match=message):
        fundflow.parse_fund_flow_bill(broken.encode())
    # a bill that does not parse yields nothing: the channel answer is an error, not lines
    with pytest.raises(BillInvalid):
        fundflow.parse_fund_flow_bill(broken.encode("gbk", errors="replace") + b"\xff")


async def test_an_injected_fund_flow_difference_reaches_the_totals(
    http: aiohttp.ClientSession, sandbox: SandboxServer, wechat: WechatChannel
) -> None:
    account, *_ = await _day(http, sandbox, wechat)
    request = svc.DownloadBillRequest(account=WX, bill_date=today())
    before = await wechat.download_bill(account, request)
    assert await arm(http, sandbox, channel="wechat", fault="bill_fund_flow_off", delta=2) == 200
    assert await arm(http, sandbox, channel="alipay", fault="bill_fund_flow_off") == 400
    after = await wechat.download_bill(account, request)
    assert list(after.lines) == list(before.lines)  # the trade bill is untouched
    assert after.fund_flow.fee_amount == before.fund_flow.fee_amount + 2
    assert after.fund_flow.expense_amount == before.fund_flow.expense_amount + 2
    bill_side = recon_fundflow.bill_totals(after.lines)
    (finding,) = recon_fundflow.check(after.fund_flow, bill_side, bill_side)
    assert (finding.kind, finding.object_kind, finding.object_id) == (
        "FUND_FLOW_DIFFERS", "fund_flow", "expense",
    )  # fmt: skip
    assert finding.provider_amount == bill_side.expense + 2
    assert "trade bill refunds + fees" in finding.detail
