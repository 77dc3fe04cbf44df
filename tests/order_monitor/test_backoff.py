"""Per-record backoff and the monitor service's environment options (no servers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paymesh.order_monitor.backoff import Backoff
from paymesh.order_monitor.service import monitor_options
from paymesh.runtime.settings import MissingSettings

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_delay_doubles_up_to_the_cap_and_settled_records_are_forgotten() -> None:
    b = Backoff(base=10, cap=60)
    assert b.due("order:a", T0)
    waits = []
    now = T0
    for _ in range(5):
        at = b.retry_later("order:a", now)
        waits.append((at - now).total_seconds())
        assert not b.due("order:a", at - timedelta(seconds=1))
        assert b.due("order:a", at)
        now = at
    assert waits == [10, 20, 40, 60, 60]
    assert b.due("order:b", T0)  # one record's backoff never holds back another
    b.forget("order:a")
    assert b.due("order:a", T0)
    assert len(b) == 0


def test_records_not_seen_for_long_are_pruned() -> None:
    b = Backoff(base=10, cap=60)
    b.retry_later("refund:r", T0)
    b.prune(T0 + timedelta(seconds=100))
    assert len(b) == 1
    b.prune(T0 + timedelta(seconds=200))
    assert len(b) == 0


def test_invalid_backoff_is_refused() -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(base=10, cap=5)


def test_monitor_options_from_the_environment() -> None:
    assert monitor_options({}) == (timedelta(seconds=60), 10.0)
    env = {"PAYMESH_MONITOR_PENDING_AFTER": "5", "PAYMESH_MONITOR_INTERVAL": "0.5"}
    assert monitor_options(env) == (timedelta(seconds=5), 0.5)
    for bad in ({"PAYMESH_MONITOR_INTERVAL": "0"}, {"PAYMESH_MONITOR_PENDING_AFTER": "soon"}):
        with pytest.raises(MissingSettings, match="PAYMESH_MONITOR_"):
            monitor_options(bad)
