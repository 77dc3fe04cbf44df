"""The sandbox's WeChat fund flow bill (资金账单) of a day, in WeChat's file layout.

Modelled on WeChat's documentation of 申请资金账单 / 下载账单
(https://pay.weixin.qq.com/doc/v3/merchant/4012556745, the v2 example of
https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_18&index=7): UTF-8 CSV, header
`记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,
资金变更提交申请人,备注,业务凭证号`, every field of a row prefixed with a backtick, then the
summary header `资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额` and its row.

The movements of the BASIC account are the day's trade-bill entries (`bills.entries`, bill
discrepancies included: the provider's two files agree with each other) as money: a settled
payment is a 交易 income of its amount and a 扣除交易手续费 expense of its 0.6 % fee (half up to
the fen); a refund is a 退款 expense and a 退回交易手续费 income of the fee returned. A REVOKED
line moved no money. The balance runs from an opening float of `OPENING` fen.

`bill_fund_flow_off` `{"delta"?: 1, "kind"?: "扣除交易手续费"}` moves the day's first movement of
that 业务类型 by `delta` fen in the fund flow bill only (its summary stays consistent), so the
fund flow disagrees with the trade bill.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from paymesh.channels.sandbox.bills import FEE_RATE, Entry
from paymesh.channels.sandbox.faults import Fault
from paymesh.channels.sandbox.state import CHINA_TZ

OPENING = 1_000_000  # fen: the sandbox merchant's balance at the start of every day
HEADER = (
    "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,"
    "资金变更提交申请人,备注,业务凭证号"
)
SUMMARY = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额"


@dataclass(frozen=True)
class Movement:
    booked_at: dt.datetime
    wechat_no: str
    business: str
    kind: str
    income: bool
    amount: int  # fen, positive
    applicant: str
    voucher_no: str


def fee_fen(amount: int) -> int:
    return int((Decimal(amount) * FEE_RATE).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def movements(lines: Iterable[Entry], mchid: str) -> list[Movement]:
    out: list[Movement] = []
    for e in lines:
        fee = fee_fen(e.amount)
        if e.kind == "payment":
            if e.state != "SUCCESS":
                continue
            out.append(Movement(e.booked_at, e.channel_trade_no, "交易", "交易", True, e.amount,
                                "system", e.out_trade_no))  # fmt: skip
            if fee:
                out.append(Movement(e.booked_at, e.channel_trade_no, "交易", "扣除交易手续费",
                                    False, fee, "system", e.out_trade_no))  # fmt: skip
        else:
            out.append(Movement(e.booked_at, e.channel_refund_no, "退款", "退款", False, e.amount,
                                f"{mchid}API", e.out_refund_no))  # fmt: skip
            if fee:
                out.append(Movement(e.booked_at, e.channel_refund_no, "退款", "退回交易手续费",
                                    True, fee, "system", e.out_refund_no))  # fmt: skip
    return out


def apply_faults(moves: list[Movement], faults: Iterable[Fault]) -> list[Movement]:
    for f in faults:
        if f.fault != "bill_fund_flow_off":
            continue
        kind = str(f.extra.get("kind", "扣除交易手续费"))
        for i, m in enumerate(moves):
            if m.kind == kind and m.amount + f.delta >= 0:
                moves[i] = replace(m, amount=m.amount + f.delta)
                f.fired += 1
                break
    return moves


def _y(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def fund_flow_csv(moves: list[Movement], mchid: str, day: dt.date) -> bytes:
    rows = [HEADER]
    balance = OPENING
    income_n = expense_n = income = expense = 0
    for i, m in enumerate(moves, start=1):
        if m.income:
            balance += m.amount
            income_n, income = income_n + 1, income + m.amount
        else:
            balance -= m.amount
            expense_n, expense = expense_n + 1, expense + m.amount
        when = m.booked_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")
        flow_no = f"{mchid[-10:]:0>10}{day:%Y%m%d}{i:010d}"
        cells = [when, m.wechat_no, flow_no, m.business, m.kind, "收入" if m.income else "支出",
                 _y(m.amount), _y(balance), m.applicant, "缺省", m.voucher_no]  # fmt: skip
        rows.append(",".join("`" + c for c in cells))
    rows.append(SUMMARY)
    totals = [str(len(moves)), str(income_n), _y(income), str(expense_n), _y(expense)]
    rows.append(",".join("`" + c for c in totals))
    return ("\r\n".join(rows) + "\r\n").encode("utf-8")


__all__ = ["OPENING", "Movement", "apply_faults", "fee_fen", "fund_flow_csv", "movements"]
