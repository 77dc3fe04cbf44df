"""The fund flow bill's totals against the trade bill and paymesh's books (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.recon import fundflow
from paymesh.recon.match import Kind, OrderView, RefundView

START = datetime(2026, 11, 29, 16, tzinfo=UTC)  # 2026-11-30 00:00 China time
WINDOW = (START, START + timedelta(days=1))
AT = START + timedelta(hours=3)


def pay_line(order_id: str, amount: int, fee: int, paid: bool = True) -> pb.BillLine:
    state = pb.TRADE_STATE_PAID if paid else pb.TRADE_STATE_CLOSED
    return pb.BillLine(kind=pb.BILL_LINE_KIND_PAYMENT, order_id=order_id, amount=amount,
                       fee=fee, trade_state=state)  # fmt: skip


def refund_line(refund_id: str, amount: int, fee: int, ok: bool = True) -> pb.BillLine:
    state = pb.RESULT_STATE_SUCCEEDED if ok else pb.RESULT_STATE_FAILED
    return pb.BillLine(kind=pb.BILL_LINE_KIND_REFUND, order_id="P1", refund_id=refund_id,
                       amount=amount, fee=fee, result_state=state)  # fmt: skip


LINES = [
    pay_line("P1", 1000, 6),
    pay_line("P2", 2551, 15),
    pay_line("P3", 700, 4, paid=False),  # REVOKED at the provider: no money moved
    refund_line("R1", 300, 2),
    refund_line("R2", 100, 1, ok=False),
]


def order(order_id: str, amount: int, account: str = "wx", status: str = "PAID") -> OrderView:
    return OrderView(order_id, "app", "wechat", account, amount, status, AT)


ORDERS = {
    "P1": order("P1", 1000),
    "P2": order("P2", 2551),
    "P3": order("P3", 700),
    "P9": order("P9", 5000, account="other"),  # another account's: not ours here
    "P8": order("P8", 40, status="PENDING"),
}
REFUNDS = {"R1": RefundView("R1", "P1", "app", "wechat", "wx", 300, "SUCCEEDED", AT)}


def flow(payments: int, refunds: int, fees: int) -> pb.FundFlowSummary:
    return pb.FundFlowSummary(available=True, payment_amount=payments, refund_amount=refunds,
                              fee_amount=fees)  # fmt: skip


def test_totals_of_the_trade_bill_and_the_books() -> None:
    bill = fundflow.bill_totals(LINES)
    assert (bill.payments, bill.refunds, bill.fees) == (3551, 300, 6 + 15 - 2)
    assert (bill.income, bill.expense, bill.net) == (3551, 319, 3232)
    books = fundflow.books_totals(
        LINES, ORDERS, REFUNDS, channel="wechat", account_id="wx", window=WINDOW, fees=bill.fees
    )
    assert (books.income, books.expense) == (3551 + 700, 319)  # P3 is PAID at paymesh


def test_the_fund_flow_agreeing_with_the_trade_bill_finds_nothing() -> None:
    found = fundflow.findings(
        flow(3551, 300, 19), LINES, ORDERS, REFUNDS, channel="wechat", account_id="wx",
        window=WINDOW,
    )  # fmt: skip
    assert found == []


def test_each_differing_total_is_one_fund_flow_mismatch() -> None:
    found = fundflow.findings(
        flow(3550, 300, 20), LINES, ORDERS, REFUNDS, channel="wechat", account_id="wx",
        window=WINDOW,
    )  # fmt: skip
    assert [
        (f.kind, f.object_kind, f.object_id, f.provider_amount, f.ours_amount) for f in found
    ] == [
        (Kind.FUND_FLOW_DIFFERS, "fund_flow", "income", 3550, 4251),
        (Kind.FUND_FLOW_DIFFERS, "fund_flow", "expense", 320, 319),
    ]
    assert found[0].detail == (
        "fund flow income 35.50 yuan; trade bill payments 35.51; paymesh payments 42.51"
    )
