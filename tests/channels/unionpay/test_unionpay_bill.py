"""UnionPay reconciliation file: the ZM fixed-width layout, and DownloadBill against the
sandbox's file transfer (payments, refunds, fees, no-file days, injected discrepancies)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import AsyncIterator

import aiohttp
import pytest

from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.sandbox import SandboxServer, SandboxState, start_sandbox
from paymesh.channels.transport import Transport
from paymesh.channels.unionpay import bill
from paymesh.channels.unionpay.channel import UnionpayChannel
from paymesh.channels.unionpay.config import UnionpayAccount
from paymesh.channels.unionpay.transformers import CHINA_TZ
from paymesh.core.ids import IdGenerator
from paymesh.errors import BillInvalid

REF = pb.AccountRef(channel="unionpay", account_id="up-bill")
IDS = IdGenerator(4, 9)
# acpsdk DemoBase.parseZMFile: int lengthArray[] = {...}
SDK_WIDTHS = (3, 11, 11, 6, 10, 19, 12, 4, 2, 21, 2, 32, 2, 6, 10, 13, 13, 4, 15, 2, 2, 6, 2, 4,
              32, 1, 21, 15, 1, 15, 32, 13, 13, 8, 32, 13, 13, 12, 2, 1, 32, 98)  # fmt: skip


def _values(**over: str) -> list[str]:
    v = dict.fromkeys((n for n, _ in bill.ZM_FIELDS), "")
    v.update({"交易传输时间": "1202103000", "交易金额": "000000001999", "查询流水号": "1" * 21,
              "商户订单号": "P012345678901234567890", "商户手续费": "D000000000012",
              "结算金额": "C000000001987", "交易类型": "01", "交易子类": "01",
              "二级商户简称": "测试商户"})  # fmt: skip
    v.update(over)
    return [v[n] for n, _ in bill.ZM_FIELDS]


def test_widths_are_the_sdk_table() -> None:
    assert bill.ZM_WIDTHS == SDK_WIDTHS
    assert sum(SDK_WIDTHS) + 41 == bill.ZM_LINE_BYTES


def test_line_round_trip_counts_gbk_bytes() -> None:
    raw = bill.format_zm_line(_values())
    assert len(raw) == bill.ZM_LINE_BYTES  # 测试商户 is 8 GBK bytes, padded to 32
    fields = bill.split_line(raw, "t")
    assert fields["二级商户简称"] == "测试商户"
    line = bill.bill_line(fields, dt.date(2026, 12, 2), "t")
    assert line is not None
    assert line.kind == pb.BILL_LINE_KIND_PAYMENT
    assert (line.order_id, line.amount, line.fee) == ("P012345678901234567890", 1999, 12)
    assert line.booked_at.ToDatetime(tzinfo=CHINA_TZ) == dt.datetime(
        2026, 12, 2, 10, 30, tzinfo=CHINA_TZ
    )


def test_refund_line_names_refund_and_original_order() -> None:
    raw = bill.format_zm_line(
        _values(交易类型="04", 交易子类="00", 商户订单号="R1234567890", 原始交易订单号="P99999999",
                原交易查询流水号="2" * 21, 商户手续费="C000000000003")
    )  # fmt: skip
    line = bill.bill_line(bill.split_line(raw, "t"), dt.date(2026, 12, 2), "t")
    assert line is not None
    assert line.kind == pb.BILL_LINE_KIND_REFUND
    assert (line.refund_id, line.order_id, line.channel_trade_no, line.fee) == (
        "R1234567890", "P99999999", "2" * 21, 3,
    )  # fmt: skip


def test_new_years_day_bill_books_december_lines_in_the_previous_year() -> None:
    raw = bill.format_zm_line(_values(交易传输时间="1231235959"))
    line = bill.bill_line(bill.split_line(raw, "t"), dt.date(2027, 1, 1), "t")
    assert line is not None
    assert line.booked_at.ToDatetime(tzinfo=CHINA_TZ).year == 2026


@pytest.mark.parametrize(
    "over",
    [{"交易金额": "00000000x999"}, {"商户手续费": "X000000000012"}, {"交易传输时间": "1399999999"},
     {"查询流水号": ""}],
)  # fmt: skip
def test_a_bad_line_spoils_the_whole_file(over: dict[str, str]) -> None:
    good = bill.format_zm_line(_values())
    bad = bill.format_zm_line(_values(**over))
    with pytest.raises(BillInvalid):
        bill.parse_zm(good + b"\r\n" + bad + b"\r\n", dt.date(2026, 12, 2))
    with pytest.raises(BillInvalid, match="bytes"):
        bill.parse_zm(good[:100], dt.date(2026, 12, 2))


# --- against the sandbox ----------------------------------------------------------------------


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = await start_sandbox(state=SandboxState(refund_delay=0))
    yield server
    await server.close()


@pytest.fixture
async def channel() -> AsyncIterator[UnionpayChannel]:
    ch = UnionpayChannel(Transport(timeout_seconds=5))
    yield ch
    await ch.aclose()


async def _account(http: aiohttp.ClientSession, sandbox: SandboxServer) -> UnionpayAccount:
    mer_id = "777" + "".join(secrets.choice("0123456789") for _ in range(12))
    body = {"channel": "unionpay", "merchant_id": mer_id}
    async with http.post(sandbox.url + "/_sandbox/merchants", json=body) as resp:
        reg = await resp.json()
    return UnionpayAccount(
        account_id=REF.account_id, base_url=sandbox.url, file_base_url=sandbox.url,
        mer_id=mer_id, sign_cert_p12=reg["sign_cert_p12"],
        sign_cert_password=reg["sign_cert_password"], root_cert_pem=reg["root_cert_pem"],
        middle_cert_pem=reg["middle_cert_pem"], notify_url="http://127.0.0.1:1/n",
    )  # fmt: skip


async def test_download_bill_lists_payments_and_refunds(
    sandbox: SandboxServer, channel: UnionpayChannel
) -> None:
    today = dt.datetime.now(CHINA_TZ).date()
    async with aiohttp.ClientSession() as http:
        account = await _account(http, sandbox)
        empty = await channel.download_bill(
            account, svc.DownloadBillRequest(account=REF, bill_date=today.isoformat())
        )
        assert not empty.available  # respCode 98: no file
        orders = [IDS.order_id(), IDS.order_id()]
        for oid, amount in zip(orders, (1999, 500), strict=True):
            await channel.pay(
                account, svc.PayRequest(account=REF, method="app", order_id=oid, amount=amount)
            )
            body = {"channel": "unionpay", "out_trade_no": oid, "merchant_id": account.mer_id}
            async with http.post(sandbox.url + "/_sandbox/pay", json=body) as resp:
                assert resp.status == 200
        refund_id = IDS.refund_id()
        await channel.refund(
            account,
            svc.RefundRequest(account=REF, order_id=orders[0], refund_id=refund_id, amount=999),
        )
        fault = {"channel": "unionpay", "fault": "bill_amount_off", "out_trade_no": orders[1],
                 "delta": 7}  # fmt: skip
        async with http.post(sandbox.url + "/_sandbox/faults", json=fault) as resp:
            assert resp.status == 200, await resp.text()
        try:
            got = await channel.download_bill(
                account, svc.DownloadBillRequest(account=REF, bill_date=today.isoformat())
            )
        finally:
            async with http.delete(sandbox.url + "/_sandbox/faults?channel=unionpay"):
                pass
    assert got.available
    payments = {ln.order_id: ln for ln in got.lines if ln.kind == pb.BILL_LINE_KIND_PAYMENT}
    (refund,) = [ln for ln in got.lines if ln.kind == pb.BILL_LINE_KIND_REFUND]
    assert set(payments) == set(orders)
    assert (payments[orders[0]].amount, payments[orders[0]].fee) == (1999, 12)  # 0.6 %
    assert payments[orders[1]].amount == 507  # the injected discrepancy
    assert (refund.refund_id, refund.order_id, refund.amount, refund.fee) == (
        refund_id, orders[0], 999, 6,
    )  # fmt: skip
    assert refund.channel_trade_no == payments[orders[0]].channel_trade_no
    assert got.summary.payment_count == 2
    assert got.summary.refund_count == 1
    assert "fileContent=%5BREDACTED%5D" in got.exchanges[0].response_body or (
        "fileContent=[REDACTED]" in got.exchanges[0].response_body
    )
