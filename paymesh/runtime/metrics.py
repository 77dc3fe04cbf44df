"""Every Prometheus metric paymesh exports, in one place (dashboards and alerts under
`k8s/` are checked against `NAMES`), with the one-line hooks the services call.

Labels are bounded by construction: RPC method names are the registered ones, providers the
channels of the catalog, statuses and outcome classes small fixed sets; never an order id,
an app id or a URL. A value outside its set is counted as ``other``.

`paymesh serve` serves them at ``/metrics`` on the ``metrics_listen`` address
(`paymesh.runtime.metrics_server`).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from paymesh.catalog import CHANNELS

PROVIDERS = frozenset(c.name for c in CHANNELS)
# Provider round trips: sandbox calls take milliseconds, real ones up to the 10 s timeout.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# --- gRPC (one server interceptor) --------------------------------------------------------
RPC_SECONDS = Histogram(
    "paymesh_rpc_duration_seconds",
    "Server-side latency of a gRPC call, by full method name.",
    ["method"],
    buckets=LATENCY_BUCKETS,
)
RPC_TOTAL = Counter(
    "paymesh_rpc_total", "gRPC calls handled, by method and status code.", ["method", "code"]
)

# --- HTTP servers of our own (cashier, console: one aiohttp middleware) -------------------
HTTP_SECONDS = Histogram(
    "paymesh_http_request_duration_seconds",
    "Server-side latency of an HTTP request to the cashier or the console, by route pattern.",
    ["server", "route"],
    buckets=LATENCY_BUCKETS,
)
HTTP_TOTAL = Counter(
    "paymesh_http_requests_total",
    "HTTP requests the cashier or the console answered, by route pattern and status class.",
    ["server", "route", "code"],
)

# --- channel calls (the channel service's dispatch) ---------------------------------------
CHANNEL_SECONDS = Histogram(
    "paymesh_channel_call_duration_seconds",
    "Latency of one channel operation at its provider (all its HTTP round trips).",
    ["provider", "operation"],
    buckets=LATENCY_BUCKETS,
)
CHANNEL_TOTAL = Counter(
    "paymesh_channel_calls_total",
    "Channel operations by provider, operation and outcome class: ok (a definitive or "
    "well-formed answer), refused (the provider said no), unclear (an answer that could "
    "not be trusted or classified), unavailable (timeout, connection failure, 5xx).",
    ["provider", "operation", "outcome"],
)
OUTCOMES = ("ok", "refused", "unclear", "unavailable")

# --- money (the store's transitions) ------------------------------------------------------
ORDERS = Counter(
    "paymesh_orders_total",
    "Pay orders created and moved to paid, closed or failed, by channel.",
    ["channel", "status"],
)
REFUNDS = Counter("paymesh_refunds_total", "Refunds created and finished, by status.", ["status"])
TRANSFERS = Counter(
    "paymesh_transfers_total", "Transfers created and finished, by status.", ["status"]
)
LATE_PAYMENTS = Counter(
    "paymesh_late_payments_total",
    "Payments the provider took for an order paymesh had closed or failed, by app policy.",
    ["policy"],
)
CALLBACKS = Counter(
    "paymesh_callbacks_total",
    "Provider callbacks by channel and outcome: applied, ignored (authentic, nothing to do), "
    "rejected (not authentic, unknown account), mismatch (authentic, refused by our rules).",
    ["channel", "outcome"],
)

# --- notify: outbox relay and merchant notifier -------------------------------------------
OUTBOX_BACKLOG = Gauge("paymesh_outbox_backlog", "Outbox rows not yet published to the bus.")
OUTBOX_OLDEST_AGE = Gauge(
    "paymesh_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row (0: none)."
)
OUTBOX_QUARANTINED = Gauge(
    "paymesh_outbox_quarantined", "Outbox rows set aside as unpublishable, waiting for an operator."
)
OUTBOX_QUARANTINED_TOTAL = Counter(
    "paymesh_outbox_events_quarantined_total",
    "Outbox rows this process quarantined (too large, unserialisable).",
)
OUTBOX_PUBLISHED = Counter("paymesh_outbox_published_total", "Outbox rows published to the bus.")
OUTBOX_PUBLISH_FAILURES = Counter(
    "paymesh_outbox_publish_failures_total",
    "Relay passes that found the bus unavailable (the rows stay in the outbox).",
)
NOTIFY_ATTEMPTS = Counter(
    "paymesh_notify_attempts_total",
    "Merchant notification attempts by HTTP status class (none: no HTTP answer).",
    ["http_class"],
)
NOTIFY_FAILURES = Counter(
    "paymesh_notify_attempt_failures_total",
    "Notification attempts the merchant did not acknowledge, by HTTP status class.",
    ["http_class"],
)
NOTIFY_SECONDS = Histogram(
    "paymesh_notify_delivery_duration_seconds",
    "Latency of one notification POST to a merchant.",
    buckets=LATENCY_BUCKETS,
)
NOTIFY_FAILED_FOR_GOOD = Counter(
    "paymesh_notify_events_failed_total",
    "Events whose retry schedule ran out undelivered (re-send from the console or API).",
)

# --- order monitor ------------------------------------------------------------------------
MONITOR_SWEEPS = Counter(
    "paymesh_monitor_sweeps_total", "Order monitor sweeps by result (ok, failed).", ["result"]
)
MONITOR_SETTLED = Counter(
    "paymesh_monitor_settled_total",
    "Records a monitor sweep moved (order, refund, transfer, late).",
    ["kind"],
)
MONITOR_OVERDUE = Gauge(
    "paymesh_monitor_overdue_records",
    "Records past their budget at the last sweep: PENDING orders past their expiry, refunds "
    "and transfers PENDING longer than the monitor's overdue budget (at most one batch).",
    ["kind"],
)

# --- configuration ------------------------------------------------------------------------
CONFIG_RELOADS = Counter(
    "paymesh_config_reloads_total",
    "Configuration documents applied from the store's watch, by document kind.",
    ["document"],
)
CONFIG_REJECTED = Counter(
    "paymesh_config_documents_rejected_total",
    "Changed configuration documents refused (invalid): the last good one stays in use.",
    ["document"],
)

ALL = (
    RPC_SECONDS,
    RPC_TOTAL,
    HTTP_SECONDS,
    HTTP_TOTAL,
    CHANNEL_SECONDS,
    CHANNEL_TOTAL,
    ORDERS,
    REFUNDS,
    TRANSFERS,
    LATE_PAYMENTS,
    CALLBACKS,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    OUTBOX_QUARANTINED,
    OUTBOX_QUARANTINED_TOTAL,
    OUTBOX_PUBLISHED,
    OUTBOX_PUBLISH_FAILURES,
    NOTIFY_ATTEMPTS,
    NOTIFY_FAILURES,
    NOTIFY_SECONDS,
    NOTIFY_FAILED_FOR_GOOD,
    MONITOR_SWEEPS,
    MONITOR_SETTLED,
    MONITOR_OVERDUE,
    CONFIG_RELOADS,
    CONFIG_REJECTED,
)


def _exposed(metric: Counter | Gauge | Histogram) -> set[str]:
    """The sample names Prometheus sees for a metric (counters gain ``_total``,
    histograms ``_bucket``/``_sum``/``_count``)."""
    base = metric._name  # prometheus_client keeps the unsuffixed name here
    if isinstance(metric, Counter):
        return {f"{base}_total", f"{base}_created"}
    if isinstance(metric, Histogram):
        return {f"{base}_bucket", f"{base}_sum", f"{base}_count", f"{base}_created"}
    return {base}


NAMES: frozenset[str] = frozenset(n for m in ALL for n in _exposed(m))


def provider(name: str) -> str:
    return name if name in PROVIDERS else "other"


def http_class(status: int | None) -> str:
    if status is None or not 100 <= status < 600:
        return "none"
    return f"{status // 100}xx"


# --- hooks (one line at each call site) ---------------------------------------------------

_children: dict[tuple[object, tuple[str, ...]], Any] = {}


def child(metric: Counter | Gauge | Histogram, *labels: str) -> Any:
    """``metric.labels(*labels)``, looked up once (the label values are bounded already)."""
    key = (metric, labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*labels)
    return found


def order_moved(channel: str, status: str) -> None:
    child(ORDERS, provider(channel), status.lower()).inc()


def refund_moved(status: str) -> None:
    child(REFUNDS, status.lower()).inc()


def transfer_moved(status: str) -> None:
    child(TRANSFERS, status.lower()).inc()


LATE_POLICIES = frozenset({"refund", "accept"})  # paymesh.config.apps.LatePaymentPolicy


def late_payment(policy: str) -> None:
    LATE_PAYMENTS.labels(policy if policy in LATE_POLICIES else "other").inc()


CALLBACK_OUTCOMES = frozenset({"applied", "ignored", "rejected", "mismatch"})


def callback(channel: str, outcome: str) -> None:
    child(CALLBACKS, provider(channel), outcome if outcome in CALLBACK_OUTCOMES else "other").inc()


def notify_attempt(status: int | None, delivered: bool, latency_ms: int | None) -> None:
    cls = http_class(status)
    child(NOTIFY_ATTEMPTS, cls).inc()
    if not delivered:
        child(NOTIFY_FAILURES, cls).inc()
    if latency_ms is not None:
        NOTIFY_SECONDS.observe(latency_ms / 1000)


CONFIG_DOCUMENTS = frozenset({"app", "notify"}) | PROVIDERS


def config_document(kind: str) -> str:
    return kind if kind in CONFIG_DOCUMENTS else "other"


__all__ = ["ALL", "NAMES", "OUTCOMES", "PROVIDERS"]
