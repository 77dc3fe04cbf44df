"""WeChat Pay v3 trade bill (交易账单): pure request building and file parsing.

Two steps, as documented:
1. `GET /v3/bill/tradebill?bill_date=yyyy-MM-dd&bill_type=ALL&tar_type=GZIP` (signed; the
   answer is signed like every API answer) -> `{hash_type: SHA1, hash_value, download_url}`;
   `hash_value` is the SHA1 of the *uncompressed* bill
   (https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter7_9_1.shtml). `400
   NO_STATEMENT_EXIST` means no trade or refund that day; `STATEMENT_CREATING` means "not
   yet, retry" (https://pay.weixin.qq.com/doc/v3/merchant/4013071254).
2. `GET download_url`, signed with the same Authorization scheme over the URL's path and
   query; the answer is *not* signed (skip verification) and is the CSV, gzip-compressed
   when `tar_type=GZIP` (https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter7_3_9.shtml).

File layout (same doc; cross-checked with binarywang/WxJava `WxPayBillResult` and its
test data): UTF-8 CSV, a header row, detail rows whose every field starts with a backtick
(`` ` ``, so Excel keeps long numbers), then a summary header
`总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额`
and one backtick-prefixed summary row. Amounts are yuan; 手续费 has five decimals. In an
ALL bill a refund is its own row with 交易状态 `REFUND` and 退款状态 the refund's state;
撤销 (revoked) payments appear with 交易状态 `REVOKED`.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zlib
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Final
from urllib.parse import urlencode, urlsplit

from paymesh.channel.v1 import channel_pb2
from paymesh.channels import billfile
from paymesh.channels.base import TRADE_PAID, to_timestamp
from paymesh.channels.transport import HttpRequest, HttpResponse
from paymesh.channels.wechat import sign
from paymesh.channels.wechat.config import WechatAccount
from paymesh.channels.wechat.protocol import PlatformKeys, checked_body, merchant_key, sign_request
from paymesh.channels.wechat.transformers import get_str, refund_state, trade_state
from paymesh.errors import BillInvalid, ChannelError, ChannelUnavailable

TRADEBILL_PATH: Final = "/v3/bill/tradebill"
NO_BILL_CODE: Final = "NO_STATEMENT_EXIST"

# Detail columns we read (by name, so the optional trailing columns may vary).
TIME = "交易时间"
TRADE_NO = "微信订单号"
ORDER_NO = "商户订单号"
STATE = "交易状态"
CURRENCY = "货币种类"
SETTLE_AMOUNT = "应结订单金额"
REFUND_TRADE_NO = "微信退款单号"
REFUND_NO = "商户退款单号"
REFUND_AMOUNT = "退款金额"
REFUND_STATE = "退款状态"
FEE = "手续费"
ORDER_AMOUNT = "订单金额"
APPLIED_REFUND = "申请退款金额"
REQUIRED: Final = (
    TIME,
    TRADE_NO,
    ORDER_NO,
    STATE,
    SETTLE_AMOUNT,
    REFUND_TRADE_NO,
    REFUND_NO,
    REFUND_AMOUNT,
    REFUND_STATE,
    FEE,
)
SUMMARY_FIRST: Final = "总交易单数"
# Summary column -> the detail column whose sum it states.
SUMMARY_SUMS: Final[Mapping[str, str]] = {
    "应结订单总金额": SETTLE_AMOUNT,
    "退款总金额": REFUND_AMOUNT,
    "手续费总金额": FEE,
    "订单总金额": ORDER_AMOUNT,
    "申请退款总金额": APPLIED_REFUND,
}


# --- step 1: ask for the download URL ---------------------------------------------------------


def build_tradebill_request(
    account: WechatAccount, bill_date: date, now: datetime, nonce: str
) -> HttpRequest:
    query = urlencode({"bill_date": bill_date.isoformat(), "bill_type": "ALL", "tar_type": "GZIP"})
    return sign_request(account, "GET", f"{TRADEBILL_PATH}?{query}", b"", now, nonce)


def parse_tradebill_response(
    resp: HttpResponse, keys: PlatformKeys, now: datetime
) -> tuple[str, str] | None:
    """`(download_url, sha1_hex)`, or None when WeChat has no bill for that day.

    The fund flow bill's answer (`/v3/bill/fundflowbill`) is the same object and is read
    by this function too."""
    try:
        data = checked_body(resp, keys, now)
    except ChannelError as e:
        if e.metadata.get("provider_code") == NO_BILL_CODE:
            return None
        raise
    url = get_str(data, "download_url")
    hash_type = get_str(data, "hash_type")
    hash_value = get_str(data, "hash_value").lower()
    if not url or hash_type != "SHA1" or len(hash_value) != 40:
        raise ChannelUnavailable("malformed WeChat Pay bill answer (download_url/hash)")
    return url, hash_value


# --- step 2: download ---------------------------------------------------------------------


def build_download_request(
    account: WechatAccount, download_url: str, now: datetime, nonce: str
) -> HttpRequest:
    """The signed GET of `download_url` (on WeChat's API host, or the account's base URL)."""
    parts = urlsplit(download_url)
    base = urlsplit(account.base_url)
    same_host = parts.scheme == base.scheme and parts.netloc == base.netloc
    wechat_host = parts.scheme == "https" and (parts.hostname or "").endswith(".weixin.qq.com")
    if not (same_host or wechat_host):
        raise ChannelUnavailable("WeChat Pay named a bill download URL on a foreign host")
    signed_path = parts.path + (f"?{parts.query}" if parts.query else "")
    timestamp = str(int(now.timestamp()))
    message = sign.request_message("GET", signed_path, timestamp, nonce, b"")
    signature = sign.rsa_sign(merchant_key(account), message)
    headers = {
        "Authorization": sign.authorization_header(
            account.mchid, account.merchant_serial_no.upper(), nonce, timestamp, signature
        ),
        "Accept": "*/*",
    }
    return HttpRequest(method="GET", url=download_url, headers=headers)


def bill_bytes(resp: HttpResponse, sha1_hex: str) -> bytes:
    """The raw bill from a download answer: gunzipped when compressed, hash checked."""
    if resp.status != 200:
        raise ChannelUnavailable(
            f"WeChat Pay bill download answered HTTP {resp.status}",
            metadata={"http_status": str(resp.status)},
        )
    raw = resp.body
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise BillInvalid(f"WeChat Pay bill: broken gzip ({e})") from None
    digest = hashlib.sha1(raw, usedforsecurity=False).hexdigest()
    if digest != sha1_hex.lower():
        raise BillInvalid(
            "WeChat Pay bill does not match its hash_value", metadata={"hash_type": "SHA1"}
        )
    return raw


# --- the file -------------------------------------------------------------------------------


def cell(value: str) -> str:
    return value[1:] if value.startswith("`") else value


def bill_rows(text: str) -> list[list[str]]:
    try:
        return [row for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)]
    except csv.Error as e:
        raise BillInvalid(f"WeChat Pay bill is not CSV: {e}") from None


def _line(row: Mapping[str, str], where: str) -> channel_pb2.BillLine:
    state = row[STATE]
    booked = billfile.china_time(row[TIME], f"{where} {TIME}")
    fee = billfile.to_fen(abs(billfile.yuan(row[FEE], f"{where} {FEE}")))
    currency = row.get(CURRENCY) or "CNY"
    if not row[ORDER_NO]:
        raise BillInvalid(f"{where}: no {ORDER_NO}")
    if state == "REFUND":
        applied = row.get(APPLIED_REFUND, "")
        amount_text = applied if billfile.yuan(applied, where) else row[REFUND_AMOUNT]
        if not row[REFUND_NO]:
            raise BillInvalid(f"{where}: refund row without {REFUND_NO}")
        return channel_pb2.BillLine(
            kind=billfile.REFUND,
            order_id=row[ORDER_NO],
            refund_id=row[REFUND_NO],
            channel_trade_no=row[TRADE_NO],
            channel_refund_no=row[REFUND_TRADE_NO],
            amount=billfile.exact_fen(billfile.yuan(amount_text, where), where),
            fee=fee,
            provider_state=f"REFUND/{row[REFUND_STATE]}",
            booked_at=to_timestamp(booked),
            currency=currency,
            result_state=refund_state(row[REFUND_STATE]),
        )
    total = row.get(ORDER_AMOUNT, "")
    amount_text = total if total.strip() else row[SETTLE_AMOUNT]
    return channel_pb2.BillLine(
        kind=billfile.PAYMENT,
        order_id=row[ORDER_NO],
        channel_trade_no=row[TRADE_NO],
        amount=billfile.exact_fen(billfile.yuan(amount_text, where), where),
        fee=fee,
        provider_state=state,
        booked_at=to_timestamp(booked),
        currency=currency,
        trade_state=TRADE_PAID if state == "SUCCESS" else trade_state(state),
    )


def _check_summary(
    columns: Sequence[str],
    header: Sequence[str],
    values: Sequence[str],
    details: Sequence[Mapping[str, str]],
) -> None:
    if len(values) != len(header):
        raise BillInvalid("WeChat Pay bill summary row does not match its header")
    summary = dict(zip(header, (cell(v).strip() for v in values), strict=True))
    try:
        count = int(summary[SUMMARY_FIRST])
    except ValueError:
        raise BillInvalid(f"WeChat Pay bill summary {SUMMARY_FIRST} is not a number") from None
    billfile.expect_total(SUMMARY_FIRST, count, len(details))
    for name, column in SUMMARY_SUMS.items():
        if name not in summary or column not in columns:
            continue
        stated = billfile.yuan(summary[name], f"summary {name}")
        computed = sum((billfile.yuan(d[column], column) for d in details), Decimal(0))
        billfile.expect_total(name, stated, computed)


def parse_trade_bill(raw: bytes) -> list[channel_pb2.BillLine]:
    """Every line of an ALL trade bill, or BillInvalid (nothing half-parsed)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BillInvalid("WeChat Pay bill is not UTF-8") from None
    rows = bill_rows(text)
    if not rows:
        raise BillInvalid("WeChat Pay bill is empty")
    header = [c.strip() for c in rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise BillInvalid(f"WeChat Pay bill header lacks {', '.join(missing)}")
    starts = [i for i, r in enumerate(rows) if r and r[0].strip() == SUMMARY_FIRST]
    if len(starts) != 1 or starts[0] != len(rows) - 2:
        raise BillInvalid("WeChat Pay bill has no summary at its end (truncated?)")
    end = starts[0]
    details: list[dict[str, str]] = []
    for number, row in enumerate(rows[1:end], start=2):
        if len(row) != len(header):
            raise BillInvalid(
                f"WeChat Pay bill line {number} has {len(row)} fields, the header {len(header)}",
                metadata={"line": str(number)},
            )
        details.append(dict(zip(header, (cell(c).strip() for c in row), strict=True)))
    _check_summary(header, [c.strip() for c in rows[end]], rows[end + 1], details)
    return [_line(d, f"line {n}") for n, d in enumerate(details, start=2)]


__all__ = [
    "NO_BILL_CODE",
    "TRADEBILL_PATH",
    "bill_bytes",
    "bill_rows",
    "build_download_request",
    "build_tradebill_request",
    "cell",
    "parse_trade_bill",
    "parse_tradebill_response",
]
