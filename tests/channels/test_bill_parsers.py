"""Bill parsers on files in the providers' real layouts (fixtures/), and on broken ones."""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from paymesh.channel.v1 import channel_pb2
from paymesh.channels import billfile
from paymesh.channels.alipay import bill as alipay_bill
from paymesh.channels.transport import HttpResponse
from paymesh.channels.wechat import bill as wechat_bill
from paymesh.channels.wechat import fundflow as wechat_fundflow
from paymesh.errors import BillInvalid

FIXTURES = Path(__file__).parent / "fixtures"
WECHAT = (FIXTURES / "wechat_tradebill_all.csv").read_bytes()
ALIPAY_DETAIL = (FIXTURES / "alipay_trade_detail.csv").read_bytes().decode()
ALIPAY_SUMMARY = (FIXTURES / "alipay_trade_summary.csv").read_bytes().decode()
PID = "20880211096256330156"


class _GbkName(zipfile.ZipInfo):
    """A zip entry whose name is stored in GBK without the UTF-8 flag, as Alipay does."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:
        return self.filename.encode("gbk"), self.flag_bits


def gbk_zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            info = _GbkName(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text.encode("gbk"))
    return buf.getvalue()


def alipay_zip(detail: str = ALIPAY_DETAIL, summary: str = ALIPAY_SUMMARY) -> bytes:
    return gbk_zip(
        {
            f"{PID}_20261130_业务明细.csv": detail,
            f"{PID}_20261130_业务明细(汇总).csv": summary,
        }
    )


# --- WeChat -------------------------------------------------------------------------------


def test_wechat_all_bill_lines() -> None:
    lines = wechat_bill.parse_trade_bill(WECHAT)
    assert [(ln.kind, ln.order_id, ln.refund_id, ln.amount, ln.fee) for ln in lines] == [
        (billfile.PAYMENT, "P0ABC123DEF456000001", "", 10000, 60),
        # 订单金额 20.00 (the order's amount), of which a 2.00 coupon: 应结 18.00
        (billfile.PAYMENT, "P0ABC123DEF456000002", "", 2000, 11),
        (billfile.REFUND, "P0ABC123DEF456000001", "R0ABC123DEF456000001", 3000, 18),
    ]
    first, _, refund = lines
    assert first.trade_state == channel_pb2.TRADE_STATE_PAID
    assert first.channel_trade_no == "4200002001202611300000000001"
    assert first.booked_at.ToJsonString() == "2026-11-30T01:15:02Z"  # China time -> UTC
    assert refund.result_state == channel_pb2.RESULT_STATE_SUCCEEDED
    assert refund.channel_refund_no == "50300905432026113000000001"
    assert refund.provider_state == "REFUND/SUCCESS"


def test_wechat_download_gzip_and_plain_checked_against_hash() -> None:
    sha1 = hashlib.sha1(WECHAT, usedforsecurity=False).hexdigest()
    for body in (WECHAT, gzip.compress(WECHAT)):
        assert wechat_bill.bill_bytes(HttpResponse(200, {}, body), sha1) == WECHAT
    with pytest.raises(BillInvalid, match="hash_value"):
        wechat_bill.bill_bytes(HttpResponse(200, {}, WECHAT.replace(b"100.00", b"100.01")), sha1)
    with pytest.raises(BillInvalid, match="gzip"):
        wechat_bill.bill_bytes(HttpResponse(200, {}, gzip.compress(WECHAT)[:-9]), sha1)


def _broken(old: str, new: str) -> bytes:
    text = WECHAT.decode()
    assert old in text
    return text.replace(old, new, 1).encode()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty"),
        (WECHAT.rsplit(b"\n", 3)[0], "no summary"),  # truncated before the summary
        (_broken("`3,`118.00", "`4,`118.00"), "总交易单数 is 4"),
        (_broken("`18.00,`2.00", "`18.01,`2.00"), "应结订单总金额"),
        (_broken("`0.10800", "`0.10900"), "手续费总金额"),
        (_broken("`100.00,`0.00,`0,`0", "`1OO.00,`0.00,`0,`0"), "not an amount"),
        (_broken("`2026-11-30 11:02:47", "`30/11/2026"), "not a time"),
        (_broken(",`蛋糕,", ",`蛋,糕,"), "fields"),
        (_broken("微信订单号,商户订单号", "微信订单号,订单号"), "header lacks 商户订单号"),
        ("交易时间".encode("gbk") + WECHAT[12:], "not UTF-8"),
    ],
)
def test_wechat_malformed_bills_are_refused_whole(raw: bytes, message: str) -> None:
    with pytest.raises(BillInvalid, match=message):
        wechat_bill.parse_trade_bill(raw)


def test_wechat_sub_fen_amount_is_refused() -> None:
    raw = _broken("`20.00,`0.00,`", "`20.005,`0.00,`").replace(b"`220.00", b"`220.005")
    with pytest.raises(BillInvalid, match="whole number of fen"):
        wechat_bill.parse_trade_bill(raw)


# --- Alipay -------------------------------------------------------------------------------


def test_alipay_zip_of_gbk_files() -> None:
    detail, summary = alipay_bill.unzip_bill(alipay_zip())
    lines = alipay_bill.parse_trade_bill(detail, summary)
    assert [(ln.kind, ln.order_id, ln.refund_id, ln.amount, ln.fee) for ln in lines] == [
        (billfile.PAYMENT, "P0ALI000000000000001", "", 10000, 60),
        (billfile.PAYMENT, "P0ALI000000000000002", "", 2000, 11),
        (billfile.REFUND, "P0ALI000000000000001", "R0ALI000000000000001", 3000, 18),
    ]
    assert lines[0].channel_trade_no == "2026113022001458860515315453"  # tab suffix gone
    assert lines[2].booked_at.ToJsonString() == "2026-11-30T08:20:48Z"


def test_alipay_zip_with_utf8_names_is_read_too() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{PID}_20261130_业务明细.csv", ALIPAY_DETAIL.encode("gbk"))
        z.writestr(f"{PID}_20261130_业务明细(汇总).csv", ALIPAY_SUMMARY.encode("gbk"))
    detail, summary = alipay_bill.unzip_bill(buf.getvalue())
    assert len(alipay_bill.parse_trade_bill(detail, summary)) == 3


def _detail(old: str, new: str) -> str:
    assert old in ALIPAY_DETAIL
    return ALIPAY_DETAIL.replace(old, new, 1)


@pytest.mark.parametrize(
    ("detail", "summary", "message"),
    [
        (ALIPAY_DETAIL.split("#-----------------------------------------业务明细列表结束")[0],
         ALIPAY_SUMMARY, "markers"),
        (_detail("#交易合计：2笔", "#交易合计：3笔"), ALIPAY_SUMMARY, "交易合计笔数"),
        (_detail("商家实收共118.00元", "商家实收共118.01元"), ALIPAY_SUMMARY, "交易合计商家实收"),
        (_detail("#退款合计：1笔，商家实收退款共-30.00元，商家优惠退款共0.00元\r\n", ""),
         ALIPAY_SUMMARY, "退款合计"),
        (_detail(",100.00,100.00,", ",100.00,100.00,0.00,"), ALIPAY_SUMMARY, "fields"),
        (_detail(",交易\t,蛋糕", ",冻结\t,蛋糕"), ALIPAY_SUMMARY, "交易合计笔数"),
        (ALIPAY_DETAIL, ALIPAY_SUMMARY.replace(",-0.53,", ",-0.54,"), "服务费"),
        (ALIPAY_DETAIL, ALIPAY_SUMMARY.replace("合计,,2,1", "合计,,2,2"), "退款订单总笔数"),
        (ALIPAY_DETAIL, ALIPAY_SUMMARY.replace("合计,", "小计,"), "合计 row"),
    ],
)  # fmt: skip
def test_alipay_malformed_bills_are_refused_whole(detail: str, summary: str, message: str) -> None:
    with pytest.raises(BillInvalid, match=message):
        alipay_bill.parse_trade_bill(detail, summary)


def test_alipay_broken_zips() -> None:
    with pytest.raises(BillInvalid, match="readable zip"):
        alipay_bill.unzip_bill(b"PK\x03\x04 not really")
    with pytest.raises(BillInvalid, match="one 业务明细"):
        alipay_bill.unzip_bill(gbk_zip({f"{PID}_20261130_业务明细.csv": ALIPAY_DETAIL}))
    utf8 = io.BytesIO()
    with zipfile.ZipFile(utf8, "w") as z:
        z.writestr(f"{PID}_20261130_业务明细.csv", "交易".encode() + b"\xff\xfe")
        z.writestr(f"{PID}_20261130_业务明细(汇总).csv", b"")
    with pytest.raises(BillInvalid, match="GBK"):
        alipay_bill.unzip_bill(utf8.getvalue())


# --- WeChat fund flow ---------------------------------------------------------------------

FUND = (FIXTURES / "wechat_fundflowbill.csv").read_bytes()


def test_wechat_fund_flow_bill() -> None:
    entries = wechat_fundflow.parse_fund_flow_bill(FUND)
    assert [(e.kind, e.income, e.amount, e.balance, e.voucher_no) for e in entries] == [
        ("交易", True, 10000, 10000, "P0ABC123DEF456000001"),
        ("扣除交易手续费", False, 60, 9940, "P0ABC123DEF456000001"),
        ("退款", False, 3000, 6940, "R0ABC123DEF456000001"),
    ]
    # the ASCII-parenthesis header of older files reads the same
    ascii_header = FUND.replace("（元）".encode(), b"(yuan)").replace(b"(yuan)", "(元)".encode())
    assert len(wechat_fundflow.parse_fund_flow_bill(ascii_header)) == 3


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("`3,`1,`100.00,`2,`30.60", "`3,`1,`100.00,`2,`30.61", "支出金额"),
        ("`3,`1,`100.00,`2,`30.60", "`4,`1,`100.00,`2,`30.60", "资金流水总笔数"),
        ("`支出,`0.60", "`出,`0.60", "neither"),
        (
            "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额\n`3,`1,`100.00,`2,`30.60\n",
            "",
            "summary",
        ),
    ],
)
def test_wechat_fund_flow_bill_malformed(old: str, new: str, message: str) -> None:
    text = FUND.decode()
    assert old in text
    with pytest.raises(BillInvalid, match=message):
        wechat_fundflow.parse_fund_flow_bill(text.replace(old, new, 1).encode())
