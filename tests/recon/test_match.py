"""The matcher, table-driven: every mismatch type, and nothing for a clean day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.channels.billfile import day_window
from paymesh.recon.match import Entry, Kind, OrderView, RefundView, Result, fee_ok, match

WINDOW = day_window(date(2026, 11, 30))
IN_DAY = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # 11:00 China time
NEXT_DAY = WINDOW[1] + timedelta(minutes=1)


def order(oid: str, status: str = "PAID", amount: int = 100, account: str = "wx1",
          paid_at: datetime | None = IN_DAY) -> OrderView:  # fmt: skip
    return OrderView(oid, "app1", "wechat", account, amount, status, paid_at)


def refund(rid: str, oid: str, status: str = "SUCCEEDED", amount: int = 40,
           at: datetime | None = IN_DAY) -> RefundView:  # fmt: skip
    return RefundView(rid, oid, "app1", "wechat", "wx1", amount, status, at)


def pay_line(oid: str, amount: int = 100, fee: int = 1, state: pb.TradeState = pb.TRADE_STATE_PAID,
             word: str = "SUCCESS") -> pb.BillLine:  # fmt: skip
    return pb.BillLine(kind=pb.BILL_LINE_KIND_PAYMENT, order_id=oid, amount=amount, fee=fee,
                       trade_state=state, provider_state=word)  # fmt: skip


def refund_line(rid: str, oid: str, amount: int = 40, fee: int = 0,
                state: pb.ResultState = pb.RESULT_STATE_SUCCEEDED) -> pb.BillLine:  # fmt: skip
    return pb.BillLine(kind=pb.BILL_LINE_KIND_REFUND, order_id=oid, refund_id=rid,
                       amount=amount, fee=fee, result_state=state)  # fmt: skip


def run(
    lines: list[pb.BillLine], orders: list[OrderView], refunds: list[RefundView] | None = None
) -> Result:
    return match(
        lines,
        {o.order_id: o for o in orders},
        {r.refund_id: r for r in refunds or []},
        channel="wechat",
        account_id="wx1",
        window=WINDOW,
    )


def kinds(result: Result) -> list[tuple[Kind, str]]:
    return sorted((f.kind, f.object_id) for f in result.findings)


def test_a_clean_day_matches_with_fees() -> None:
    result = run(
        [pay_line("P1", fee=1), pay_line("P2", 250, 2), refund_line("R1", "P1")],
        [order("P1"), order("P2", amount=250)],
        [refund("R1", "P1")],
    )
    assert result.findings == []
    assert result.entries == [
        Entry("app1", "payment", "P1", 100, 1),
        Entry("app1", "payment", "P2", 250, 2),
        Entry("app1", "refund", "R1", 40, 0),
    ]


def test_every_mismatch_type() -> None:
    result = run(
        [
            pay_line("PUNKNOWN"),  # never heard of
            pay_line("PPEND"),  # PENDING here
            pay_line("PCLOSED"),  # late payment
            pay_line("POTHERACCT"),  # an order of another account is not ours to match
            pay_line("PAMOUNT", amount=101),
            pay_line("PREVOKED", state=pb.TRADE_STATE_CLOSED, word="REVOKED"),
            refund_line("RUNKNOWN", "P9"),
            refund_line("RPEND", "P9"),
            refund_line("RAMOUNT", "P9", amount=41),
            refund_line("RNOTDONE", "P9", state=pb.RESULT_STATE_PENDING),
        ],
        [
            order("PPEND", "PENDING", paid_at=None),
            order("PCLOSED", "CLOSED", paid_at=None),
            order("POTHERACCT", account="wx2"),
            order("PAMOUNT"),
            order("PREVOKED"),
            order("PMISSING"),  # PAID today, not in the bill
            order("PYESTERDAY", paid_at=WINDOW[0] - timedelta(seconds=1)),  # not this day
            order("PTOMORROW", paid_at=NEXT_DAY),
        ],
        [
            refund("RPEND", "P9", "PENDING", at=None),
            refund("RAMOUNT", "P9"),
            refund("RNOTDONE", "P9"),
            refund("RMISSING", "P9"),  # SUCCEEDED today, not in the bill
        ],
    )
    assert kinds(result) == sorted(
        [
            (Kind.PROVIDER_ONLY, "PUNKNOWN"),
            (Kind.PROVIDER_ONLY, "PPEND"),
            (Kind.PROVIDER_ONLY, "PCLOSED"),
            (Kind.PROVIDER_ONLY, "POTHERACCT"),
            (Kind.AMOUNT_DIFFERS, "PAMOUNT"),
            (Kind.STATUS_DIFFERS, "PREVOKED"),
            (Kind.PAYMESH_ONLY, "PMISSING"),
            (Kind.REFUND_DIFFERS, "RUNKNOWN"),
            (Kind.REFUND_DIFFERS, "RPEND"),
            (Kind.REFUND_DIFFERS, "RAMOUNT"),
            (Kind.REFUND_DIFFERS, "RNOTDONE"),
            (Kind.REFUND_DIFFERS, "RMISSING"),
        ]
    )
    by_id = {f.object_id: f for f in result.findings}
    assert by_id["PCLOSED"].detail.startswith("late payment")
    assert by_id["PPEND"].line is not None
    assert (by_id["PAMOUNT"].ours_amount, by_id["PAMOUNT"].provider_amount) == (100, 101)
    assert result.entries == []


def test_a_repeated_line_counts_once() -> None:
    result = run([pay_line("P1"), pay_line("P1")], [order("P1")])
    assert result.findings == []
    assert len(result.entries) == 1


def test_fees_checked_against_the_agreed_rate() -> None:
    # 60 bp: 1234 fen -> 7.404 fen (7 or 8 both round it); 1000 -> exactly 6; 50 -> 0.3 (0 or 1)
    assert [fee_ok(1234, f, 60) for f in (6, 7, 8, 9)] == [False, True, True, False]
    assert [fee_ok(1000, f, 60) for f in (5, 6, 7)] == [False, True, False]
    assert [fee_ok(50, f, 60) for f in (0, 1, 2)] == [True, True, False]
    lines = [pay_line("P1", 1234, 7), pay_line("P2", 10000, 38), pay_line("P3", 500, 3)]
    orders = [order("P1", amount=1234), order("P2", amount=10000), order("P3", amount=500)]
    unchecked = run(lines, orders)
    assert unchecked.findings == []
    result = match(
        lines, {o.order_id: o for o in orders}, {}, channel="wechat", account_id="wx1",
        window=WINDOW, fee_rate_bp=60,
    )  # fmt: skip
    (fee,) = result.findings
    assert (fee.kind, fee.object_id, fee.ours_amount, fee.provider_amount) == (
        Kind.FEE_DIFFERS, "P2", 60, 38,
    )  # fmt: skip
    assert fee.detail == "fee 38 fen; 60 bp of 10000 fen is 60"
    # the money still settled: the line is in the summary with the provider's fee
    assert [(e.object_id, e.fee) for e in result.entries] == [("P1", 7), ("P2", 38), ("P3", 3)]
