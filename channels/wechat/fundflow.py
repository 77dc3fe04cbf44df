"""WeChat Pay v3 fund flow bill (资金账单): pure request building, parsing and totals.

Two steps, exactly as the trade bill (`paymesh.channels.wechat.bill`, whose answer parsing,
signed download, gzip and SHA1 check this reuses):
1. `GET /v3/bill/fundflowbill?bill_date=yyyy-MM-dd&account_type=BASIC&tar_type=GZIP`
   (申请资金账单, https://pay.weixin.qq.com/doc/v3/merchant/4012556745; formerly
   https://pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_7.shtml) -> `{download_url,
   hash_type: SHA1, hash_value}`; `account_type` BASIC (基本账户) | OPERATION (运营账户) |
   FEES (手续费账户); `400 NO_STATEMENT_EXIST` when nothing moved that day.
2. the signed `GET download_url` (下载账单, chapter7_3_9), gzip when `tar_type=GZIP`.
(wechatpay-apiv3/wechatpay-go has no fund flow service in its generated `services/`; its
`core/downloader` and the `hash_type`/`hash_value` models of other bill APIs match the above.)

File layout (the documented example of 下载资金账单; WxJava `WxPayFundFlowResult` reads the
same): UTF-8 CSV, header
`记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,
资金变更提交申请人,备注,业务凭证号` (older files write the parentheses in ASCII), one row per
movement with every field backtick-prefixed, then `资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额`
and its backtick-prefixed row. Amounts are yuan, positive; 收支类型 收入 (in) or 支出 (out).
业务类型 we total by (the rest are counted as "other"):
- 交易 收入: a payment received (业务凭证号 = 商户订单号);
- 退款 支出: a refund paid out (业务凭证号 = 商户退款单号);
- 扣除交易手续费 支出 / 退回交易手续费 收入: the fee charged on a payment / returned with a refund.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Final
from urllib.parse import urlencode

from paymesh.channel.v1 import channel_pb2
from paymesh.channels import billfile
from paymesh.channels.transport import HttpRequest
from paymesh.channels.wechat.bill import bill_rows, cell
from paymesh.channels.wechat.config import WechatAccount
from paymesh.channels.wechat.protocol import sign_request
from paymesh.errors import BillInvalid

FUNDFLOWBILL_PATH: Final = "/v3/bill/fundflowbill"
FUND_SUMMARY_FIRST: Final = "资金流水总笔数"
FUND_SUMMARY: Final = ("资金流水总笔数", "收入笔数", "收入金额", "支出笔数", "支出金额")

# 业务类型 values we total by.
PAYMENT_KIND: Final = "交易"
REFUND_KIND: Final = "退款"
FEE_KIND: Final = "扣除交易手续费"
FEE_RETURN_KIND: Final = "退回交易手续费"
INCOME: Final = "收入"
EXPENSE: Final = "支出"

# Detail columns (收支金额/账户结余 are looked up with either parenthesis style).
TIME = "记账时间"
WECHAT_NO = "微信支付业务单号"
FLOW_NO = "资金流水单号"
BUSINESS = "业务名称"
KIND = "业务类型"
DIRECTION = "收支类型"
AMOUNT = "收支金额（元）"
BALANCE = "账户结余（元）"
VOUCHER = "业务凭证号"


@dataclass(frozen=True)
class FundFlowEntry:
    """One movement of the merchant's WeChat Pay account (fen; `income` False = out)."""

    booked_at: datetime
    wechat_no: str  # 微信支付业务单号
    flow_no: str  # 资金流水单号
    business: str  # 业务名称
    kind: str  # 业务类型, e.g. 交易, 退款, 扣除交易手续费
    income: bool
    amount: int
    balance: int
    voucher_no: str  # 业务凭证号: our order / refund id where the movement has one


def build_fundflowbill_request(
    account: WechatAccount, bill_date: date, now: datetime, nonce: str, account_type: str = "BASIC"
) -> HttpRequest:
    query = urlencode(
        {"bill_date": bill_date.isoformat(), "account_type": account_type, "tar_type": "GZIP"}
    )
    return sign_request(account, "GET", f"{FUNDFLOWBILL_PATH}?{query}", b"", now, nonce)


def _column(header: Sequence[str], name: str) -> str:
    for candidate in (name, name.replace("（", "(").replace("）", ")")):
        if candidate in header:
            return candidate
    raise BillInvalid(f"WeChat Pay fund flow bill header lacks {name}")


def _entry(d: dict[str, str], amount_col: str, balance_col: str, where: str) -> FundFlowEntry:
    if d[DIRECTION] not in (INCOME, EXPENSE):
        raise BillInvalid(f"{where}: 收支类型 {d[DIRECTION]!r} is neither 收入 nor 支出")
    amount = billfile.exact_fen(billfile.yuan(d[amount_col], where), where)
    if amount < 0:
        raise BillInvalid(f"{where}: 收支金额 {d[amount_col]} is negative")
    return FundFlowEntry(
        booked_at=billfile.china_time(d[TIME], where),
        wechat_no=d[WECHAT_NO],
        flow_no=d[FLOW_NO],
        business=d[BUSINESS],
        kind=d[KIND],
        income=d[DIRECTION] == INCOME,
        amount=amount,
        balance=billfile.exact_fen(billfile.yuan(d[balance_col], where), where),
        voucher_no=d.get(VOUCHER, ""),
    )


def _check_summary(names: Sequence[str], values: Sequence[str], out: list[FundFlowEntry]) -> None:
    if len(names) != len(values):
        raise BillInvalid("WeChat Pay fund flow bill summary row does not match its header")
    summary = dict(zip(names, values, strict=True))
    missing = [n for n in FUND_SUMMARY if n not in summary]
    if missing:
        raise BillInvalid(f"WeChat Pay fund flow bill summary lacks {', '.join(missing)}")
    incomes = [e for e in out if e.income]
    spent = [e for e in out if not e.income]
    for name, computed in (
        ("资金流水总笔数", len(out)),
        ("收入笔数", len(incomes)),
        ("支出笔数", len(spent)),
        ("收入金额", sum(e.amount for e in incomes)),
        ("支出金额", sum(e.amount for e in spent)),
    ):
        stated = billfile.yuan(summary[name], f"summary {name}")
        if name.endswith("笔数"):
            billfile.expect_total(name, stated, Decimal(computed))
        else:
            billfile.expect_total(name, stated, Decimal(computed) / 100)


def parse_fund_flow_bill(raw: bytes) -> list[FundFlowEntry]:
    """Every movement of a fund flow bill, checked against its summary, or BillInvalid
    (nothing of a malformed file is returned)."""
    try:
        rows = bill_rows(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise BillInvalid("WeChat Pay fund flow bill is not UTF-8") from None
    if not rows:
        raise BillInvalid("WeChat Pay fund flow bill is empty")
    header = [c.strip() for c in rows[0]]
    amount_col = _column(header, AMOUNT)
    balance_col = _column(header, BALANCE)
    for name in (TIME, WECHAT_NO, FLOW_NO, BUSINESS, KIND, DIRECTION):
        _column(header, name)
    starts = [i for i, r in enumerate(rows) if r and r[0].strip() == FUND_SUMMARY_FIRST]
    if len(starts) != 1 or starts[0] != len(rows) - 2:
        raise BillInvalid("WeChat Pay fund flow bill has no summary at its end (truncated?)")
    end = starts[0]
    out: list[FundFlowEntry] = []
    for number, row in enumerate(rows[1:end], start=2):
        if len(row) != len(header):
            raise BillInvalid(
                f"WeChat Pay fund flow bill line {number} has {len(row)} fields, "
                f"the header {len(header)}",
                metadata={"line": str(number)},
            )
        d = dict(zip(header, (cell(c).strip() for c in row), strict=True))
        out.append(_entry(d, amount_col, balance_col, f"line {number}"))
    _check_summary([c.strip() for c in rows[end]], [cell(c).strip() for c in rows[end + 1]], out)
    return out


def summarize(entries: Sequence[FundFlowEntry] | None) -> channel_pb2.FundFlowSummary:
    """The totals reconciliation holds against the trade bill (None: no bill that day)."""
    out = channel_pb2.FundFlowSummary(available=entries is not None)
    for e in entries or ():
        out.entry_count += 1
        if e.income:
            out.income_count += 1
            out.income_amount += e.amount
        else:
            out.expense_count += 1
            out.expense_amount += e.amount
        signed = e.amount if e.income else -e.amount
        if e.kind == PAYMENT_KIND and e.income:
            out.payment_amount += e.amount
        elif e.kind == REFUND_KIND and not e.income:
            out.refund_amount += e.amount
        elif e.kind in (FEE_KIND, FEE_RETURN_KIND):
            out.fee_amount -= signed
        else:
            out.other_amount += signed
    return out


__all__ = [
    "FUNDFLOWBILL_PATH",
    "FundFlowEntry",
    "build_fundflowbill_request",
    "parse_fund_flow_bill",
    "summarize",
]
