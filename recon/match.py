"""Matching a provider's daily bill against paymesh's books (pure; reconciliation).

For one (channel account, China-time day): the bill's lines, keyed by our order ids and
refund ids, against our orders and refunds of that account that the lines name or that
settled within the day. Every difference becomes a `Finding` of one type:

- `PROVIDER_ONLY`: a payment at the provider that paymesh has not booked: an order we never
  heard of, a PENDING order (the runner settles it through the normal transition), or a
  CLOSED/FAILED one without a recorded late payment (the runner records it as one; a
  recorded late payment of the line's amount matches);
- `PAYMESH_ONLY`: an order paymesh booked PAID that day and the bill does not list;
- `AMOUNT_DIFFERS`: both sides have the payment, with different amounts;
- `STATUS_DIFFERS`: both sides have the payment, the provider's line is not a settled
  payment (e.g. WeChat `REVOKED`);
- `REFUND_DIFFERS`: a refund line paymesh has not booked as succeeded (unknown, PENDING,
  FAILED, other amount, or not succeeded at the provider), or a refund paymesh booked
  SUCCEEDED that day that the bill does not list.

- `FEE_DIFFERS`: a matched payment whose fee is not the account's agreed rate
  (`fee_rate_bp`, when configured) of its amount, rounded to the fen either way.

- `FUND_FLOW_DIFFERS` (`recon.fundflow`, WeChat): a total of the fund flow bill is not the
  trade bill's.

Matched lines become settlement `Entry`s with the provider's fee ("fee recorded"), also
when their fee differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from paymesh.channel.v1 import channel_pb2


class Kind(StrEnum):
    PROVIDER_ONLY = "PROVIDER_ONLY"
    PAYMESH_ONLY = "PAYMESH_ONLY"
    AMOUNT_DIFFERS = "AMOUNT_DIFFERS"
    STATUS_DIFFERS = "STATUS_DIFFERS"
    REFUND_DIFFERS = "REFUND_DIFFERS"
    FEE_DIFFERS = "FEE_DIFFERS"
    FUND_FLOW_DIFFERS = "FUND_FLOW_DIFFERS"  # recon.fundflow: a fund flow bill total


@dataclass(frozen=True)
class OrderView:
    order_id: str
    app_id: str
    channel: str
    account_id: str
    amount: int
    status: str  # PENDING PAID CLOSED FAILED
    paid_at: datetime | None
    late_amount: int = 0
    """A late payment paymesh recorded for this (CLOSED/FAILED) order, 0 if none."""


@dataclass(frozen=True)
class RefundView:
    refund_id: str
    order_id: str
    app_id: str
    channel: str
    account_id: str
    amount: int
    status: str  # PENDING SUCCEEDED FAILED
    succeeded_at: datetime | None


@dataclass(frozen=True)
class Finding:
    kind: Kind
    object_kind: str  # order | refund
    object_id: str  # our order id or refund id (the provider's merchant number)
    order_id: str
    app_id: str = ""
    ours_amount: int = 0
    provider_amount: int = 0
    ours_state: str = ""
    provider_state: str = ""
    detail: str = ""
    line: channel_pb2.BillLine | None = None
    """The provider's line (for settling a PENDING order from it)."""


@dataclass(frozen=True)
class Entry:
    """One matched line for the settlement summary."""

    app_id: str
    kind: str  # payment | refund
    object_id: str
    amount: int
    fee: int


@dataclass(frozen=True)
class Result:
    findings: list[Finding]
    entries: list[Entry]


def _within(when: datetime | None, window: tuple[datetime, datetime]) -> bool:
    return when is not None and window[0] <= when < window[1]


def _from_line(
    kind: Kind,
    line: channel_pb2.BillLine,
    ours: OrderView | RefundView | None,
    detail: str,
) -> Finding:
    refund = line.kind == channel_pb2.BILL_LINE_KIND_REFUND
    return Finding(
        kind,
        "refund" if refund else "order",
        line.refund_id if refund else line.order_id,
        line.order_id,
        app_id=ours.app_id if ours else "",
        ours_amount=ours.amount if ours else 0,
        provider_amount=line.amount,
        ours_state=ours.status if ours else "",
        provider_state=line.provider_state,
        detail=detail,
        line=line,
    )


def fee_ok(amount: int, fee: int, rate_bp: int) -> bool:
    """`fee` (fen) is `rate_bp` basis points of `amount` rounded to the fen, up or down."""
    return abs(fee * 10_000 - amount * rate_bp) < 10_000


def _matched(
    line: channel_pb2.BillLine, order: OrderView, rate_bp: int | None, out: list[Finding]
) -> Entry:
    if rate_bp is not None and not fee_ok(line.amount, line.fee, rate_bp):
        expected = (line.amount * rate_bp + 5_000) // 10_000
        detail = f"fee {line.fee} fen; {rate_bp} bp of {line.amount} fen is {expected}"
        out.append(
            Finding(Kind.FEE_DIFFERS, "order", order.order_id, order.order_id, order.app_id,
                    expected, line.fee, order.status, line.provider_state, detail, line)
        )  # fmt: skip
    return Entry(order.app_id, "payment", order.order_id, line.amount, line.fee)


def _payment(
    line: channel_pb2.BillLine,
    order: OrderView | None,
    out: list[Finding],
    ok: list[Entry],
    rate_bp: int | None = None,
) -> None:
    if order is None:
        out.append(_from_line(Kind.PROVIDER_ONLY, line, None, "paymesh has no such order"))
    elif order.status != "PAID" and order.late_amount and order.late_amount == line.amount:
        # booked as a late payment (its policy refunds or accepts it): the money is ours
        ok.append(_matched(line, order, rate_bp, out))
    elif order.status != "PAID":
        detail = (
            "paid at the provider, PENDING at paymesh"
            if order.status == "PENDING"
            else f"late payment: paid at the provider, {order.status} at paymesh"
        )
        out.append(_from_line(Kind.PROVIDER_ONLY, line, order, detail))
    elif line.trade_state != channel_pb2.TRADE_STATE_PAID:
        detail = "the provider's line is not a settled payment"
        out.append(_from_line(Kind.STATUS_DIFFERS, line, order, detail))
    elif line.amount != order.amount:
        out.append(_from_line(Kind.AMOUNT_DIFFERS, line, order, "amounts differ"))
    else:
        ok.append(_matched(line, order, rate_bp, out))


def _refund(
    line: channel_pb2.BillLine, refund: RefundView | None, out: list[Finding], ok: list[Entry]
) -> None:
    if refund is None:
        detail = "paymesh has no such refund"
    elif line.result_state != channel_pb2.RESULT_STATE_SUCCEEDED:
        detail = "the provider's refund line has not succeeded"
    elif refund.status != "SUCCEEDED":
        detail = f"succeeded at the provider, {refund.status} at paymesh"
    elif line.amount != refund.amount:
        detail = "refund amounts differ"
    else:
        ok.append(Entry(refund.app_id, "refund", refund.refund_id, line.amount, line.fee))
        return
    out.append(_from_line(Kind.REFUND_DIFFERS, line, refund, detail))


def match(
    lines: Iterable[channel_pb2.BillLine],
    orders: Mapping[str, OrderView],
    refunds: Mapping[str, RefundView],
    *,
    channel: str,
    account_id: str,
    window: tuple[datetime, datetime],
    fee_rate_bp: int | None = None,
) -> Result:
    """Findings and settlement entries for one account and day.

    `fee_rate_bp`: the account's agreed fee rate (basis points); None: fees not checked.

    `orders` / `refunds`: ours, by id: every one a line names, plus those of this account
    that settled within `window`. A record of another channel account counts as unknown.
    """
    findings: list[Finding] = []
    entries: list[Entry] = []
    paid_seen: set[str] = set()
    refund_seen: set[str] = set()

    def mine(view: OrderView | RefundView | None) -> bool:
        return view is not None and (view.channel, view.account_id) == (channel, account_id)

    for line in lines:
        if line.kind == channel_pb2.BILL_LINE_KIND_PAYMENT:
            if line.order_id in paid_seen:
                continue  # one payment per order; a repeated line adds nothing
            paid_seen.add(line.order_id)
            order = orders.get(line.order_id)
            _payment(line, order if mine(order) else None, findings, entries, fee_rate_bp)
        else:
            if line.refund_id in refund_seen:
                continue
            refund_seen.add(line.refund_id)
            refund = refunds.get(line.refund_id)
            _refund(line, refund if mine(refund) else None, findings, entries)

    for order in orders.values():
        if (
            mine(order)
            and order.status == "PAID"
            and _within(order.paid_at, window)
            and order.order_id not in paid_seen
        ):
            findings.append(
                Finding(Kind.PAYMESH_ONLY, "order", order.order_id, order.order_id,
                        order.app_id, order.amount, 0, order.status, "",
                        "PAID at paymesh, not in the provider's bill")
            )  # fmt: skip
    for refund in refunds.values():
        if (
            mine(refund)
            and refund.status == "SUCCEEDED"
            and _within(refund.succeeded_at, window)
            and refund.refund_id not in refund_seen
        ):
            findings.append(
                Finding(Kind.REFUND_DIFFERS, "refund", refund.refund_id, refund.order_id,
                        refund.app_id, refund.amount, 0, refund.status, "",
                        "SUCCEEDED at paymesh, not in the provider's bill")
            )  # fmt: skip
    return Result(findings, entries)


__all__ = ["Entry", "Finding", "Kind", "OrderView", "RefundView", "Result", "fee_ok", "match"]
