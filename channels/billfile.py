"""Shared, pure helpers for providers' daily bill files (reconciliation).

Bills state amounts in yuan as decimal text (WeChat's fees carry five decimals); we keep
integer fen. A bill is all or nothing: any line that does not parse, or totals that do not
add up to the bill's own summary, raise `BillInvalid` and nothing of the file is used.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.errors import BillInvalid, InvalidArgument

# Providers book bills in China time (UTC+8, no daylight saving).
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")

PAYMENT = channel_pb2.BILL_LINE_KIND_PAYMENT
REFUND = channel_pb2.BILL_LINE_KIND_REFUND

FEN = Decimal("0.01")


def parse_bill_date(value: str) -> date:
    """`yyyy-MM-dd` -> date; a clear error for anything else."""
    if len(value) != 10:
        raise InvalidArgument(f"bill_date must be yyyy-MM-dd, got {value!r}", field="bill_date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(
            f"bill_date must be yyyy-MM-dd, got {value!r}", field="bill_date"
        ) from None


def bill_response(
    lines: list[channel_pb2.BillLine] | None, exchanges: list[channel_pb2.Exchange]
) -> svc.DownloadBillResponse:
    """The DownloadBill answer: the lines with their totals (None = no bill that day).

    The bill file itself is personal data (payer ids, names): an exchange that carried it
    keeps only its size in the channel log.
    """
    for ex in exchanges:
        if (
            ex.http_method == "GET"
            and ex.http_status == 200
            and not ex.response_body.startswith("{")
        ):
            ex.response_body = "<bill file: personal data, not logged>"
    out = svc.DownloadBillResponse(available=lines is not None, exchanges=exchanges)
    if lines is not None:
        out.lines.extend(lines)
        out.summary.CopyFrom(summarize(lines))
    return out


def day_window(day: date) -> tuple[datetime, datetime]:
    """The China-time day as an aware [start, end) window."""
    start = datetime(day.year, day.month, day.day, tzinfo=CHINA)
    return start, start + timedelta(days=1)


def yuan(text: str, where: str) -> Decimal:
    """A yuan amount as written in a bill ("9.90", "-0.05940", "" = 0)."""
    value = text.strip()
    if not value:
        return Decimal(0)
    try:
        out = Decimal(value)
    except InvalidOperation:
        raise BillInvalid(f"{where}: {value!r} is not an amount") from None
    if not out.is_finite():
        raise BillInvalid(f"{where}: {value!r} is not an amount")
    return out


def to_fen(amount: Decimal) -> int:
    """Yuan -> fen, half up (fees with sub-fen digits round as the provider settles them)."""
    return int((amount / FEN).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def exact_fen(amount: Decimal, where: str) -> int:
    """Yuan -> fen for a money amount, which must be whole fen."""
    fen = amount / FEN
    if fen != fen.to_integral_value():
        raise BillInvalid(f"{where}: {amount} is not a whole number of fen")
    return int(fen)


def china_time(text: str, where: str) -> datetime:
    """`yyyy-MM-dd HH:mm:ss` in China time -> aware datetime."""
    try:
        naive = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise BillInvalid(f"{where}: {text!r} is not a time (yyyy-MM-dd HH:mm:ss)") from None
    return naive.replace(tzinfo=CHINA)


def summarize(lines: Iterable[channel_pb2.BillLine]) -> channel_pb2.BillSummary:
    """Our own totals over parsed lines (the sandbox writes these into its summaries)."""
    out = channel_pb2.BillSummary()
    for line in lines:
        out.line_count += 1
        if line.kind == PAYMENT:
            out.payment_count += 1
            out.payment_amount += line.amount
            out.fee_amount += line.fee
        else:  # a refund gives its share of the fee back (the bills print it negative)
            out.refund_count += 1
            out.refund_amount += line.amount
            out.fee_amount -= line.fee
    return out


def expect_total(name: str, stated: Decimal | int, computed: Decimal | int) -> None:
    if stated != computed:
        raise BillInvalid(
            f"bill summary {name} is {stated} but its lines add up to {computed}",
            metadata={"field": name},
        )


__all__ = [
    "CHINA",
    "PAYMENT",
    "REFUND",
    "bill_response",
    "china_time",
    "day_window",
    "exact_fen",
    "expect_total",
    "parse_bill_date",
    "summarize",
    "to_fen",
    "yuan",
]
