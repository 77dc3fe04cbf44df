"""UnionPay merchant reconciliation file (对账文件): pure request building and file parsing.

1. File transfer, POSTed to the file host (`acpsdk.fileTransUrl`,
   https://filedownload.95516.com/): `txnType=76 txnSubType=01 bizType=000000 fileType=00
   settleDate=MMDD` plus the common fields, signed like every request (acpsdk demo
   `FileTransfer`; PHP `upacp_demo_app` `FileTransfer.php`). The signed `k=v` answer
   carries `fileName` and `fileContent` = base64 of the zlib-deflated zip
   (`AcpService.deCodeFileContent`: base64 decode, then inflate). respCode 98 = no file.
2. The zip holds the day's files; the general transaction file is `INN<yymmdd><nn>ZM_<merId>`
   (the SDK's `parseZMFile` picks the entry whose name contains `ZM_`): one GBK line per
   transaction of 42 fixed-width fields, each followed by one separator byte, widths
   (bytes) as `ZM_FIELDS` below (《全渠道平台接入接口规范 第3部分 文件接口》 6.1; acpsdk
   `DemoBase.parseZMFile` lengthArray {3,11,11,6,10,19,12,4,2,21,...,98}).

Amounts: 交易金额 is 12 digits of fen; 商户手续费 / 结算金额 / 清算净额 are a C (credit to the
merchant) or D (debit) sign letter and 12 digits. txnType 01 lines are payments, 04
refunds (their 原始交易订单号 names our order), 31 consume cancels (kept as refunds of the
whole amount, numbered by their own orderId).
"""

from __future__ import annotations

import base64
import binascii
import io
import zipfile
import zlib
from collections.abc import Sequence
from datetime import date, datetime
from typing import Final

from paymesh.channel.v1 import channel_pb2
from paymesh.channels import billfile
from paymesh.channels.base import RESULT_SUCCEEDED, TRADE_PAID, to_timestamp
from paymesh.channels.transport import HttpRequest, HttpResponse
from paymesh.channels.unionpay.config import UnionpayAccount
from paymesh.channels.unionpay.protocol import (
    common_fields,
    post,
    raise_for_code,
    signed,
    verified_fields,
)
from paymesh.channels.unionpay.transformers import BIZ_FILE, CHINA_TZ, TXN_FILE, format_time
from paymesh.errors import BillInvalid

NO_FILE: Final = "98"
ENCODING: Final = "gbk"
ZM_MARK: Final = "ZM_"

# (name, width in bytes) of the ZM file, in order.
ZM_FIELDS: Final[tuple[tuple[str, int], ...]] = (
    ("交易代码", 3), ("代理机构标识码", 11), ("发送机构标识码", 11), ("系统跟踪号", 6),
    ("交易传输时间", 10), ("帐号", 19), ("交易金额", 12), ("商户类别", 4), ("终端类型", 2),
    ("查询流水号", 21), ("支付方式（旧）", 2), ("商户订单号", 32), ("支付卡类型", 2),
    ("原始交易的系统跟踪号", 6), ("原始交易日期时间", 10), ("商户手续费", 13), ("结算金额", 13),
    ("支付方式", 4), ("集团商户代码", 15), ("交易类型", 2), ("交易子类", 2), ("业务类型", 6),
    ("帐号类型", 2), ("账单类型", 4), ("账单号码", 32), ("交互方式", 1),
    ("原交易查询流水号", 21), ("商户代码", 15), ("分账入账方式", 1), ("二级商户代码", 15),
    ("二级商户简称", 32), ("二级商户分账入账金额", 13), ("清算净额", 13), ("终端号", 8),
    ("商户自定义域", 32), ("优惠金额", 13), ("发票金额", 13), ("分期付款附加手续费", 12),
    ("分期付款期数", 2), ("交易介质", 1), ("原始交易订单号", 32), ("保留使用", 98),
)  # fmt: skip
ZM_WIDTHS: Final = tuple(w for _, w in ZM_FIELDS)
ZM_LINE_BYTES: Final = sum(ZM_WIDTHS) + len(ZM_WIDTHS) - 1


# --- step 1: the file transfer ------------------------------------------------------------------


def build_file_request(account: UnionpayAccount, bill_date: date, now: datetime) -> HttpRequest:
    fields = common_fields(account, TXN_FILE, BIZ_FILE)
    fields.update(
        {"settleDate": bill_date.strftime("%m%d"), "txnTime": format_time(now), "fileType": "00"}
    )
    return post(account.file_base_url + "/", signed(account, fields))


def parse_file_response(
    resp: HttpResponse, account: UnionpayAccount, now: datetime
) -> tuple[str, bytes] | None:
    """(fileName, zip bytes), or None when UnionPay has no file for that day (98)."""
    fields = verified_fields(resp, account, now)
    if fields.get("respCode") == NO_FILE:
        return None
    raise_for_code(fields)
    content = fields.get("fileContent", "")
    if not content:
        raise BillInvalid("UnionPay file answer without fileContent")
    try:
        data = zlib.decompress(base64.b64decode(content, validate=True))
    except (binascii.Error, ValueError, zlib.error) as e:
        raise BillInvalid("UnionPay fileContent is not base64 of deflated data") from e
    return fields.get("fileName", ""), data


# --- step 2: the zip and its ZM file -------------------------------------------------------------


def zm_file(data: bytes) -> bytes:
    """The ZM (general transaction) file of the day's zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [n for n in zf.namelist() if ZM_MARK in n.rsplit("/", 1)[-1]]
            if len(names) != 1:
                raise BillInvalid(f"UnionPay zip holds {len(names)} ZM files, expected 1")
            return zf.read(names[0])
    except zipfile.BadZipFile as e:
        raise BillInvalid("UnionPay file is not a zip") from e


def split_line(raw: bytes, where: str) -> dict[str, str]:
    """One fixed-width line (bytes) into its named fields, trailing blanks removed."""
    if len(raw) < ZM_LINE_BYTES - ZM_FIELDS[-1][1]:
        raise BillInvalid(f"{where}: line is {len(raw)} bytes, expected {ZM_LINE_BYTES}")
    out: dict[str, str] = {}
    pos = 0
    for name, width in ZM_FIELDS:
        chunk = raw[pos : pos + width]
        try:
            out[name] = chunk.decode(ENCODING).strip()
        except UnicodeDecodeError as e:
            raise BillInvalid(f"{where}: {name} is not GBK text") from e
        pos += width + 1
    return out


def _fen(value: str, name: str, where: str) -> int:
    if not value.isdigit():
        raise BillInvalid(f"{where}: {name} {value!r} is not an amount in fen")
    return int(value)


def _signed_fen(value: str, name: str, where: str) -> int:
    """`C000000000123` / `D000000000123` -> 123 (the sign letter says who is credited)."""
    if len(value) != 13 or value[0] not in "CD" or not value[1:].isdigit():
        raise BillInvalid(f"{where}: {name} {value!r} is not C/D + 12 digits")
    return int(value[1:])


def _booked(value: str, bill_date: date, where: str) -> datetime:
    """交易传输时间 MMDDhhmmss, in the bill's year (the day before New Year's bill: the
    previous year)."""
    try:
        at = datetime.strptime(f"{bill_date.year}{value}", "%Y%m%d%H%M%S")
    except ValueError as e:
        raise BillInvalid(f"{where}: 交易传输时间 {value!r} is not MMDDhhmmss") from e
    if at.date() > bill_date:
        at = at.replace(year=bill_date.year - 1)
    return at.replace(tzinfo=CHINA_TZ)


def bill_line(f: dict[str, str], bill_date: date, where: str) -> channel_pb2.BillLine | None:
    txn_type = f["交易类型"]
    amount = _fen(f["交易金额"], "交易金额", where)
    fee = _signed_fen(f["商户手续费"], "商户手续费", where)
    line = channel_pb2.BillLine(
        amount=amount, fee=fee, currency="CNY", provider_state=f"{txn_type}/{f['交易子类']}"
    )
    booked = to_timestamp(_booked(f["交易传输时间"], bill_date, where))
    if booked is not None:
        line.booked_at.CopyFrom(booked)
    if txn_type == "01":
        line.kind = billfile.PAYMENT
        line.order_id = f["商户订单号"]
        line.channel_trade_no = f["查询流水号"]
        line.trade_state = TRADE_PAID
    elif txn_type in ("04", "31"):
        line.kind = billfile.REFUND
        line.refund_id = f["商户订单号"]
        line.order_id = f["原始交易订单号"]
        line.channel_refund_no = f["查询流水号"]
        line.channel_trade_no = f["原交易查询流水号"]
        line.result_state = RESULT_SUCCEEDED
    else:
        return None  # other transaction types (pre-authorisation, ...) are not ours
    if not line.channel_trade_no or not (line.order_id or line.refund_id):
        raise BillInvalid(f"{where}: line without 查询流水号 or 商户订单号")
    return line


def parse_zm(data: bytes, bill_date: date) -> list[channel_pb2.BillLine]:
    """Every payment and refund line of a ZM file. Raises BillInvalid for any bad line."""
    lines: list[channel_pb2.BillLine] = []
    for n, raw in enumerate(data.split(b"\n"), start=1):
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        parsed = bill_line(split_line(raw, f"line {n}"), bill_date, f"line {n}")
        if parsed is not None:
            lines.append(parsed)
    return lines


def format_zm_line(values: Sequence[str]) -> bytes:
    """A ZM line from its 42 values (each left-aligned, blank-padded to its width)."""
    if len(values) != len(ZM_FIELDS):
        raise ValueError(f"a ZM line has {len(ZM_FIELDS)} fields")
    parts = []
    for (name, width), value in zip(ZM_FIELDS, values, strict=True):
        raw = value.encode(ENCODING)
        if len(raw) > width:
            raise ValueError(f"{name} is wider than {width} bytes")
        parts.append(raw + b" " * (width - len(raw)))
    return b" ".join(parts)


__all__ = [
    "NO_FILE",
    "ZM_FIELDS",
    "ZM_LINE_BYTES",
    "ZM_WIDTHS",
    "bill_line",
    "build_file_request",
    "format_zm_line",
    "parse_file_response",
    "parse_zm",
    "split_line",
    "zm_file",
]
