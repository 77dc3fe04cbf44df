"""Pre-seed the orders table in bulk (MariaDB): rows generated server-side with one
``INSERT ... SELECT`` per chunk from the SEQUENCE engine's ``seq_1_to_N`` tables, so a
million rows take seconds rather than a million round trips.

Seeded ids are ``P`` + 21 digits below any snowflake paymesh issues now (their timestamp part
is 0), so they never collide with the orders the benchmark creates; they are spread over the
last 30 days, mostly PAID or CLOSED, on the benchmark's app."""

from __future__ import annotations

import asyncio
import time

from paymesh.testing.processes import MariaDBServer

CHUNK = 100_000
COLUMNS = (
    "order_id, app_id, out_trade_no, amount, currency, channel, account_id, method, status, "
    "subject, description, notify_url, return_url, client_ip, payer_id, metadata, pay_data, "
    "channel_trade_no, fail_reason, refunded_amount, pending_refund_amount, expire_time, "
    "created_at, updated_at, paid_at, closed_at, version"
)
SELECT = (
    "SELECT CONCAT('P', LPAD(seq, 21, '0')), %s, CONCAT('seed', seq), 1 + seq %% 100000, "
    "'CNY', 'wechat', %s, 'qr', ELT(1 + seq %% 4, 'PAID', 'CLOSED', 'PAID', 'PAID'), "
    "'seeded order', '', '', '', '127.0.0.1', '', '{{}}', NULL, CONCAT('42000', seq), '', 0, 0, "
    "t + INTERVAL 15 MINUTE, t, t, IF(seq %% 4 = 1, NULL, t), IF(seq %% 4 = 1, t, NULL), 2 "
    "FROM (SELECT seq, UTC_TIMESTAMP(6) - INTERVAL (seq %% 2592000) SECOND AS t "
    "FROM seq_{lo}_to_{hi}) AS s"
)


def _seed(db: MariaDBServer, database: str, count: int, app_id: str, account_id: str) -> None:
    conn = db.connect(database)
    try:
        with conn.cursor() as cur:
            for lo in range(1, count + 1, CHUNK):
                hi = min(lo + CHUNK - 1, count)
                cur.execute("BEGIN")
                cur.execute(
                    f"INSERT INTO pay_orders ({COLUMNS}) " + SELECT.format(lo=lo, hi=hi),
                    (app_id, account_id),
                )
                cur.execute("COMMIT")
    finally:
        conn.close()


async def seed_orders(
    db: MariaDBServer, database: str, count: int, app_id: str, account_id: str
) -> float:
    """Insert ``count`` orders; returns the seconds it took."""
    started = time.perf_counter()
    await asyncio.to_thread(_seed, db, database, count, app_id, account_id)
    return time.perf_counter() - started


def table_rows(db: MariaDBServer, database: str) -> int:
    rows = db.execute(f"SELECT COUNT(*) FROM {database}.pay_orders")  # noqa: S608 (our name)
    return int(rows[0][0])


__all__ = ["seed_orders", "table_rows"]
