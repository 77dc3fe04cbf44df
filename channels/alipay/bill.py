"""Alipay trade bill (业务账单): pure request building and file parsing.

1. `alipay.data.dataservice.bill.downloadurl.query` with biz_content
   `{"bill_type": "trade", "bill_date": "yyyy-MM-dd"}` -> `bill_download_url`, valid for 30
   seconds (https://opendocs.alipay.com/apis/api_15/alipay.data.dataservice.bill.downloadurl.query;
   https://developer.aliyun.com/article/707638). `isp.bill_not_exist` = no bill that day.
2. A plain GET of that URL returns a zip (`fileType=csv.zip`) holding two CSV files encoded
   in GBK ("ANSI" in Alipay's words), named `<pid>0156_<yyyyMMdd>_业务明细.csv` and
   `..._业务明细(汇总).csv` (the zip names are GBK too).

Detail file layout (as served by Alipay and parsed by every integration we checked, e.g.
the Java parsers that cut between the two marker lines): `#支付宝业务明细查询`, `#账号：[..]`,
`#起始日期：[..]   终止日期：[..]`, the marker `#----...业务明细列表----...`, the header
`支付宝交易号,商户订单号,业务类型,...,订单金额（元）,商家实收（元）,...,退款批次号/请求号,
服务费（元）,分润（元）,备注`, the rows (id fields end in a tab so Excel keeps them as text;
refund rows have 业务类型 `退款` and negative amounts), the marker `#----...业务明细列表结束
----...`, then `#交易合计：N笔，商家实收共X元，...`, `#退款合计：M笔，商家实收退款共-Y元，...`
and `#导出时间：[..]`. The summary file has one row per store and a `合计` row:
`门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,...,服务费（元）,...`.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Final

from paymesh.channel.v1 import channel_pb2
from paymesh.channels import billfile
from paymesh.channels.alipay.config import AlipayAccount
from paymesh.channels.alipay.protocol import (
    CertKeys,
    post,
    raise_for_code,
    signed_params,
    verified_content,
)
from paymesh.channels.alipay.transformers import get_str
from paymesh.channels.base import RESULT_SUCCEEDED, TRADE_PAID, to_timestamp
from paymesh.channels.transport import HttpRequest, HttpResponse
from paymesh.errors import BillInvalid, ChannelUnavailable

M_BILL_URL: Final = "alipay.data.dataservice.bill.downloadurl.query"
NO_BILL_SUB_CODE: Final = "isp.bill_not_exist"
ENCODING: Final = "gbk"

DETAIL_SUFFIX: Final = "_业务明细.csv"
SUMMARY_SUFFIX: Final = "_业务明细(汇总).csv"
DETAIL_START: Final = "#" + "-" * 41 + "业务明细列表" + "-" * 40
DETAIL_END: Final = "#" + "-" * 41 + "业务明细列表结束" + "-" * 36
SUMMARY_START: Final = "#" + "-" * 41 + "业务汇总列表" + "-" * 40
SUMMARY_END: Final = "#" + "-" * 40 + "业务汇总列表结束" + "-" * 37

TRADE_NO = "支付宝交易号"
ORDER_NO = "商户订单号"
BIZ_TYPE = "业务类型"
CREATED = "创建时间"
FINISHED = "完成时间"
ORDER_AMOUNT = "订单金额（元）"
RECEIVED = "商家实收（元）"
REFUND_NO = "退款批次号/请求号"
FEE = "服务费（元）"
REQUIRED: Final = (TRADE_NO, ORDER_NO, BIZ_TYPE, FINISHED, ORDER_AMOUNT, RECEIVED, REFUND_NO, FEE)
TRADE = "交易"
REFUND = "退款"

_TRADE_TOTAL = re.compile(r"^#交易合计：(\d+)笔，商家实收共(-?[0-9.]+)元")
_REFUND_TOTAL = re.compile(r"^#退款合计：(\d+)笔，商家实收退款共(-?[0-9.]+)元")


# --- step 1: the download URL -----------------------------------------------------------------


def build_bill_url_request(account: AlipayAccount, bill_date: date, now: datetime) -> HttpRequest:
    biz = {"bill_type": "trade", "bill_date": bill_date.isoformat()}
    return post(account, signed_params(account, M_BILL_URL, biz, now))


def parse_bill_url_response(
    resp: HttpResponse, account: AlipayAccount, keys: CertKeys | None = None
) -> str | None:
    """The bill's download URL, or None when Alipay has no bill for that day."""
    content = verified_content(resp, account, M_BILL_URL, keys=keys)
    if get_str(content, "sub_code") == NO_BILL_SUB_CODE:
        return None
    raise_for_code(content)
    url = get_str(content, "bill_download_url")
    if not url.startswith(("https://", "http://")):
        raise ChannelUnavailable("malformed Alipay answer: no bill_download_url")
    return url


def build_download_request(url: str) -> HttpRequest:
    """The download is a plain GET (the URL carries its own short-lived token)."""
    return HttpRequest(method="GET", url=url, headers={"Accept": "*/*"})


# --- the zip ---------------------------------------------------------------------------------


def _member_name(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & 0x800:  # the name is UTF-8
        return info.filename
    try:  # zipfile decoded the raw bytes as cp437; Alipay wrote GBK
        return info.filename.encode("cp437").decode(ENCODING)
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def bill_files(resp: HttpResponse) -> tuple[str, str]:
    """`(detail, summary)` texts out of a download answer (the zip)."""
    if resp.status != 200:
        raise ChannelUnavailable(
            f"Alipay bill download answered HTTP {resp.status}",
            metadata={"http_status": str(resp.status)},
        )
    return unzip_bill(resp.body)


def unzip_bill(data: bytes) -> tuple[str, str]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = {_member_name(i): i for i in archive.infolist()}
        detail = [i for n, i in members.items() if n.endswith(DETAIL_SUFFIX)]
        summary = [i for n, i in members.items() if n.endswith(SUMMARY_SUFFIX)]
        if len(detail) != 1 or len(summary) != 1:
            raise BillInvalid(
                "Alipay bill zip must hold one 业务明细 and one 业务明细(汇总) file, "
                f"found {sorted(members)}"
            )
        raw_detail, raw_summary = archive.read(detail[0]), archive.read(summary[0])
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as e:
        raise BillInvalid(f"Alipay bill is not a readable zip ({e})") from None
    try:
        return raw_detail.decode(ENCODING), raw_summary.decode(ENCODING)
    except UnicodeDecodeError:
        raise BillInvalid("Alipay bill is not GBK text") from None


# --- the files -------------------------------------------------------------------------------


def _csv(lines: Sequence[str], what: str) -> list[list[str]]:
    try:
        return [[c.strip() for c in row] for row in csv.reader(lines)]
    except csv.Error as e:
        raise BillInvalid(f"Alipay {what} is not CSV: {e}") from None


def _section(text: str, title: str, what: str) -> tuple[list[str], list[str]]:
    """The lines between `#---<title>---` and `#---<title>结束---`, and the comment lines
    after the end marker (the dash counts are not significant)."""
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    stripped = [ln.strip() for ln in lines]
    start = re.compile(rf"^#-+{title}-+$")
    end = re.compile(rf"^#-+{title}结束-+$")
    starts = [n for n, ln in enumerate(stripped) if start.match(ln)]
    ends = [n for n, ln in enumerate(stripped) if end.match(ln)]
    if len(starts) != 1 or len(ends) != 1:
        raise BillInvalid(f"Alipay {what} lacks its list markers (truncated?)")
    i, j = starts[0], ends[0]
    if j <= i + 1:
        raise BillInvalid(f"Alipay {what} has no header")
    return lines[i + 1 : j], [ln for ln in stripped[j + 1 :] if ln]


def _line(row: Mapping[str, str], where: str) -> channel_pb2.BillLine:
    kind = row[BIZ_TYPE]
    amount = abs(billfile.yuan(row[ORDER_AMOUNT], f"{where} {ORDER_AMOUNT}"))
    fee = billfile.to_fen(abs(billfile.yuan(row[FEE], f"{where} {FEE}")))
    booked = billfile.china_time(row[FINISHED], f"{where} {FINISHED}")
    if not row[ORDER_NO]:
        raise BillInvalid(f"{where}: no {ORDER_NO}")
    line = channel_pb2.BillLine(
        order_id=row[ORDER_NO],
        channel_trade_no=row[TRADE_NO],
        amount=billfile.exact_fen(amount, where),
        fee=fee,
        provider_state=kind,
        booked_at=to_timestamp(booked),
        currency="CNY",
    )
    if kind == TRADE:
        line.kind = billfile.PAYMENT
        line.trade_state = TRADE_PAID
        return line
    if kind == REFUND:
        if not row[REFUND_NO]:
            raise BillInvalid(f"{where}: refund row without {REFUND_NO}")
        line.kind = billfile.REFUND
        line.refund_id = row[REFUND_NO]
        line.result_state = RESULT_SUCCEEDED
        return line
    raise BillInvalid(f"{where}: unknown {BIZ_TYPE} {kind!r}")


def _totals(comments: Sequence[str]) -> tuple[tuple[int, Decimal], tuple[int, Decimal]]:
    trade = refund = None
    for comment in comments:
        if m := _TRADE_TOTAL.match(comment):
            trade = (int(m.group(1)), billfile.yuan(m.group(2), "交易合计"))
        elif m := _REFUND_TOTAL.match(comment):
            refund = (int(m.group(1)), billfile.yuan(m.group(2), "退款合计"))
    if trade is None or refund is None:
        raise BillInvalid("Alipay bill detail lacks its 交易合计/退款合计 lines (truncated?)")
    return trade, refund


def _detail_rows(detail: str) -> tuple[list[dict[str, str]], list[str]]:
    section, comments = _section(detail, "业务明细列表", "bill detail")
    rows = [r for r in _csv(section, "bill detail") if any(r)]
    header = rows[0]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise BillInvalid(f"Alipay bill detail header lacks {', '.join(missing)}")
    out: list[dict[str, str]] = []
    for number, row in enumerate(rows[1:], start=1):
        if len(row) != len(header):
            raise BillInvalid(
                f"Alipay bill detail row {number} has {len(row)} fields, the header {len(header)}",
                metadata={"line": str(number)},
            )
        out.append(dict(zip(header, row, strict=True)))
    return out, comments


def _check_summary(summary: str, rows: Sequence[Mapping[str, str]]) -> None:
    section, _ = _section(summary, "业务汇总列表", "bill summary")
    table = [r for r in _csv(section, "bill summary") if any(r)]
    header = table[0]
    totals = [dict(zip(header, r, strict=False)) for r in table[1:] if r and r[0] == "合计"]
    if len(totals) != 1:
        raise BillInvalid("Alipay bill summary has no 合计 row")
    total = totals[0]
    trades = [r for r in rows if r[BIZ_TYPE] == TRADE]
    refunds = [r for r in rows if r[BIZ_TYPE] == REFUND]
    for name, computed in (("交易订单总笔数", len(trades)), ("退款订单总笔数", len(refunds))):
        try:
            billfile.expect_total(name, int(total.get(name, "")), computed)
        except ValueError:
            raise BillInvalid(f"Alipay bill summary {name} is not a number") from None
    for name in (ORDER_AMOUNT, FEE):
        stated = billfile.yuan(total.get(name, ""), f"summary {name}")
        computed_sum = sum((billfile.yuan(r[name], name) for r in rows), Decimal(0))
        billfile.expect_total(name, stated, computed_sum)


def parse_trade_bill(detail: str, summary: str) -> list[channel_pb2.BillLine]:
    """Every line of the trade bill, checked against both of its totals, or BillInvalid."""
    rows, comments = _detail_rows(detail)
    (trade_count, trade_sum), (refund_count, refund_sum) = _totals(comments)
    trades = [r for r in rows if r[BIZ_TYPE] == TRADE]
    refunds = [r for r in rows if r[BIZ_TYPE] == REFUND]
    billfile.expect_total("交易合计笔数", trade_count, len(trades))
    billfile.expect_total("退款合计笔数", refund_count, len(refunds))
    billfile.expect_total(
        "交易合计商家实收",
        trade_sum,
        sum((billfile.yuan(r[RECEIVED], RECEIVED) for r in trades), Decimal(0)),
    )
    billfile.expect_total(
        "退款合计商家实收",
        refund_sum,
        sum((billfile.yuan(r[RECEIVED], RECEIVED) for r in refunds), Decimal(0)),
    )
    _check_summary(summary, rows)
    return [_line(r, f"row {n}") for n, r in enumerate(rows, start=1)]


__all__ = [
    "M_BILL_URL",
    "NO_BILL_SUB_CODE",
    "bill_files",
    "build_bill_url_request",
    "build_download_request",
    "parse_bill_url_response",
    "parse_trade_bill",
    "unzip_bill",
]
