"""The format of paymesh ids: a prefix letter plus a zero-padded decimal snowflake.

    P 000123456789012345678  (1 letter + 21 digits = 22 characters)

The snowflake packs milliseconds since 2024-01-01 UTC (42 bits), the datacentre (5 bits),
the worker (10 bits) and a per-millisecond sequence (12 bits). Pure: channels read the time
back out of an id (UnionPay's `txnTime`); `paymesh.core.ids` issues them.
"""

from __future__ import annotations

from dataclasses import dataclass

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
TIMESTAMP_BITS = 42
DATACENTER_BITS = 5
WORKER_BITS = 10
SEQUENCE_BITS = 12
MAX_DATACENTER = (1 << DATACENTER_BITS) - 1
MAX_WORKER = (1 << WORKER_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
DIGITS = len(str((1 << (TIMESTAMP_BITS + DATACENTER_BITS + WORKER_BITS + SEQUENCE_BITS)) - 1))

ORDER_PREFIX = "P"
REFUND_PREFIX = "R"
TRANSFER_PREFIX = "T"
EVENT_PREFIX = "E"


@dataclass(frozen=True)
class IdParts:
    prefix: str
    unix_ms: int
    datacenter_id: int
    worker_id: int
    sequence: int


def parse_id(value: str) -> IdParts:
    """Split an id back into its parts (debugging, tests)."""
    prefix = value.rstrip("0123456789")
    number = int(value[len(prefix) :])
    seq = number & MAX_SEQUENCE
    worker = (number >> SEQUENCE_BITS) & MAX_WORKER
    dc = (number >> (SEQUENCE_BITS + WORKER_BITS)) & MAX_DATACENTER
    ms = number >> (SEQUENCE_BITS + WORKER_BITS + DATACENTER_BITS)
    return IdParts(prefix, ms + EPOCH_MS, dc, worker, seq)


__all__ = [
    "DATACENTER_BITS",
    "DIGITS",
    "EPOCH_MS",
    "EVENT_PREFIX",
    "MAX_DATACENTER",
    "MAX_SEQUENCE",
    "MAX_WORKER",
    "ORDER_PREFIX",
    "REFUND_PREFIX",
    "SEQUENCE_BITS",
    "TIMESTAMP_BITS",
    "TRANSFER_PREFIX",
    "WORKER_BITS",
    "IdParts",
    "parse_id",
]
