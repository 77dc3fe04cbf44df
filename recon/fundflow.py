"""The fund flow bill's totals against the trade bill and paymesh's books (pure).

WeChat serves, besides the trade bill (one line per payment/refund), the fund flow bill of
the merchant's BASIC account: the money that actually moved. For one (account, day):

- income: payments received (交易) — the trade bill's settled payments, paymesh's PAID orders;
- expense: refunds paid out (退款) plus fees net of returned fees — the trade bill's
  succeeded refunds plus its fees (charged on payments minus returned on refunds),
  paymesh's SUCCEEDED refunds plus those same fees (paymesh books no fees of its own).

Line-level differences between the trade bill and paymesh are already typed per line by
`recon.match`; the fund flow is held against the trade bill, so a difference here is money
the provider moved other than its own trade bill (and, where the lines match, paymesh's
books) says: one `FUND_FLOW_DIFFERS` finding per total (object `fund_flow`/`income` or
`expense`), `provider_amount` the fund flow's, `ours_amount` paymesh's books', the trade
bill's in the detail. Movements of other business types (withdrawals, transfers) are not
trades of the day and are shown, not matched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from paymesh.channel.v1 import channel_pb2
from paymesh.recon.match import Finding, Kind, OrderView, RefundView

OBJECT_KIND = "fund_flow"


@dataclass(frozen=True)
class Totals:
    payments: int
    refunds: int
    fees: int  # charged minus returned

    @property
    def income(self) -> int:
        return self.payments

    @property
    def expense(self) -> int:
        return self.refunds + self.fees

    @property
    def net(self) -> int:
        return self.income - self.expense


def bill_totals(lines: Iterable[channel_pb2.BillLine]) -> Totals:
    """The trade bill's money: settled payments in; succeeded refunds and net fees out."""
    income = refunds = fees = 0
    for line in lines:
        if line.kind == channel_pb2.BILL_LINE_KIND_PAYMENT:
            if line.trade_state == channel_pb2.TRADE_STATE_PAID:
                income += line.amount
                fees += line.fee
        elif line.result_state == channel_pb2.RESULT_STATE_SUCCEEDED:
            refunds += line.amount
            fees -= line.fee
    return Totals(income, refunds, fees)


def books_totals(
    lines: Iterable[channel_pb2.BillLine],
    orders: Mapping[str, OrderView],
    refunds: Mapping[str, RefundView],
    *,
    channel: str,
    account_id: str,
    window: tuple[datetime, datetime],
    fees: int,
) -> Totals:
    """paymesh's side, as matching sees the day: this account's PAID orders and SUCCEEDED
    refunds that settled within `window` or that a line names, plus the bill's net fees."""
    lines = list(lines)
    named_orders = {x.order_id for x in lines if x.kind == channel_pb2.BILL_LINE_KIND_PAYMENT}
    named_refunds = {x.refund_id for x in lines if x.kind == channel_pb2.BILL_LINE_KIND_REFUND}

    def within(when: datetime | None) -> bool:
        return when is not None and window[0] <= when < window[1]

    income = sum(
        o.amount
        for o in orders.values()
        if (o.channel, o.account_id) == (channel, account_id)
        and o.status == "PAID"
        and (within(o.paid_at) or o.order_id in named_orders)
    )
    paid_out = sum(
        r.amount
        for r in refunds.values()
        if (r.channel, r.account_id) == (channel, account_id)
        and r.status == "SUCCEEDED"
        and (within(r.succeeded_at) or r.refund_id in named_refunds)
    )
    return Totals(income, paid_out, fees)


def fund_totals(flow: channel_pb2.FundFlowSummary) -> Totals:
    return Totals(flow.payment_amount, flow.refund_amount, flow.fee_amount)


def _yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"


def findings(
    flow: channel_pb2.FundFlowSummary,
    lines: Iterable[channel_pb2.BillLine],
    orders: Mapping[str, OrderView],
    refunds: Mapping[str, RefundView],
    *,
    channel: str,
    account_id: str,
    window: tuple[datetime, datetime],
) -> list[Finding]:
    """The fund flow of (account, day) against its trade bill `lines` and our books."""
    lines = list(lines)
    bill = bill_totals(lines)
    books = books_totals(
        lines, orders, refunds, channel=channel, account_id=account_id, window=window,
        fees=bill.fees,
    )  # fmt: skip
    return check(flow, bill, books)


def check(flow: channel_pb2.FundFlowSummary, bill: Totals, books: Totals) -> list[Finding]:
    """FUND_FLOW_DIFFERS findings: the fund flow's income/expense against the trade bill's."""
    fund = fund_totals(flow)
    out: list[Finding] = []
    for name, f, b, o in (
        ("income", fund.income, bill.income, books.income),
        ("expense", fund.expense, bill.expense, books.expense),
    ):
        if f == b:
            continue
        what = "payments" if name == "income" else "refunds + fees"
        detail = (
            f"fund flow {name} {_yuan(f)} yuan; trade bill {what} {_yuan(b)}; "
            f"paymesh {what} {_yuan(o)}"
        )
        out.append(
            Finding(Kind.FUND_FLOW_DIFFERS, OBJECT_KIND, name, "", ours_amount=o,
                    provider_amount=f, provider_state="fund_flow", detail=detail)
        )  # fmt: skip
    return out


__all__ = [
    "OBJECT_KIND",
    "Totals",
    "bill_totals",
    "books_totals",
    "check",
    "findings",
    "fund_totals",
]
