"""Settlement summaries as CSV and the operators' text report (pure)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from paymesh.recon.models import ReconMismatch, ReconRun
from paymesh.recon.store import Settlement

CSV_HEADER = (
    "bill_date", "app_id", "channel", "payment_count", "payment_amount", "refund_count",
    "refund_amount", "fee_amount", "net_amount",
)  # fmt: skip


def settlement_csv(rows: Sequence[Settlement]) -> str:
    """Amounts in minor units (fen), one row per app and channel."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for r in rows:
        writer.writerow([r.bill_date, r.app_id, r.channel, r.payment_count, r.payment_amount,
                         r.refund_count, r.refund_amount, r.fee_amount, r.net_amount])  # fmt: skip
    return out.getvalue()


def text_report(
    bill_date: str,
    runs: Sequence[ReconRun],
    mismatches: Sequence[ReconMismatch],
    settlement: Sequence[Settlement],
) -> str:
    """What `paymesh recon report --date` prints."""
    lines = [f"reconciliation {bill_date} (China time)", ""]
    if not runs:
        lines.append("no runs for this day")
    for r in runs:
        lines.append(
            f"{r.channel}/{r.account_id}: {r.status} after {r.attempts} run(s); bill "
            f"{r.provider_lines} lines ({r.payment_count} payments {r.payment_amount}, "
            f"{r.refund_count} refunds {r.refund_amount}, fees {r.fee_amount}); matched "
            f"{r.matched_count}, mismatches {r.mismatch_count}, open {r.open_count}"
            + (f"; error: {r.error}" if r.error else "")
        )
    if mismatches:
        lines += ["", "mismatches:"]
        for m in mismatches:
            lines.append(
                f"  {m.mismatch_id} {m.status:<8} {m.kind:<15} {m.object_kind} {m.object_id} "
                f"ours {m.ours_state or '-'} {m.ours_amount} / provider "
                f"{m.provider_state or '-'} {m.provider_amount}: {m.detail}"
                + (f" [{m.resolution}]" if m.resolution else "")
            )
    lines += ["", "settlement (fen):", settlement_csv(settlement).rstrip("\n")]
    return "\n".join(lines) + "\n"


__all__ = ["CSV_HEADER", "settlement_csv", "text_report"]
