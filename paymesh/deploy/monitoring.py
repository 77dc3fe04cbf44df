"""Monitoring of the k8s manifests: the Grafana dashboard, the Prometheus alert rules and
the scrape configuration, as ConfigMaps in `k8s/monitoring.yaml`.

Every query names metrics `paymesh.runtime.metrics` exports (a test parses each one) or
Envoy's own (`ENVOY_METRICS`, scraped from the edge's `/stats/prometheus`). The README lists
the panels and alerts with these same queries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from paymesh.deploy.objects import Obj

METRICS_PORT = 9464  # every `paymesh serve` pod: PAYMESH_METRICS_LISTEN
EDGE_STATS_PORT = 9902  # the edge: Envoy's /stats/prometheus (admin stays on 127.0.0.1)
# Envoy's own series the dashboard uses (the edge test sees them in a live scrape).
ENVOY_METRICS = frozenset({"envoy_http_downstream_rq_xx", "envoy_http_downstream_rq_time_bucket"})


@dataclass(frozen=True)
class Panel:
    title: str
    expr: str
    unit: str = "short"
    legend: str = ""


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    summary: str
    for_: str = "5m"
    severity: str = "page"
    labels: dict[str, str] = field(default_factory=dict)


_ERRORS = 'outcome=~"unavailable|unclear"'

PANELS: tuple[Panel, ...] = (
    Panel(
        "Provider error rate by channel",
        f"sum by (provider) (rate(paymesh_channel_calls_total{{{_ERRORS}}}[5m])) / "
        "sum by (provider) (rate(paymesh_channel_calls_total[5m]))",
        "percentunit",
        "{{provider}}",
    ),
    Panel(
        "Provider p99 latency by channel",
        "histogram_quantile(0.99, sum by (le, provider) "
        "(rate(paymesh_channel_call_duration_seconds_bucket[5m])))",
        "s",
        "{{provider}}",
    ),
    Panel(
        "Channel calls by outcome",
        "sum by (provider, outcome) (rate(paymesh_channel_calls_total[5m]))",
        "reqps",
        "{{provider}} {{outcome}}",
    ),
    Panel(
        "RPC p99 latency by method",
        "histogram_quantile(0.99, sum by (le, method) (rate(paymesh_rpc_duration_seconds_bucket[5m])))",
        "s",
        "{{method}}",
    ),
    Panel(
        "RPC errors by code",
        'sum by (method, code) (rate(paymesh_rpc_total{code!="OK"}[5m]))',
        "reqps",
        "{{method}} {{code}}",
    ),
    Panel(
        "Orders by status",
        "sum by (channel, status) (rate(paymesh_orders_total[5m]))",
        "ops",
        "{{channel}} {{status}}",
    ),
    Panel(
        "Refunds and transfers by status",
        "sum by (status) (rate(paymesh_refunds_total[5m])) or "
        "sum by (status) (rate(paymesh_transfers_total[5m]))",
        "ops",
        "{{status}}",
    ),
    Panel("Late payments (1h)", "sum(increase(paymesh_late_payments_total[1h]))"),
    Panel(
        "Callbacks by outcome",
        "sum by (channel, outcome) (rate(paymesh_callbacks_total[5m]))",
        "reqps",
        "{{channel}} {{outcome}}",
    ),
    Panel("Outbox backlog", "max(paymesh_outbox_backlog)"),
    Panel("Oldest unpublished event", "max(paymesh_outbox_oldest_age_seconds)", "s"),
    Panel("Quarantined events", "max(paymesh_outbox_quarantined)"),
    Panel(
        "Notification attempts by HTTP class",
        "sum by (http_class) (rate(paymesh_notify_attempts_total[5m]))",
        "reqps",
        "{{http_class}}",
    ),
    Panel(
        "Notification failures by HTTP class",
        "sum by (http_class) (rate(paymesh_notify_attempt_failures_total[5m]))",
        "reqps",
        "{{http_class}}",
    ),
    Panel("Events failed for good (1h)", "sum(increase(paymesh_notify_events_failed_total[1h]))"),
    Panel(
        "Records past their budget",
        "max by (kind) (paymesh_monitor_overdue_records)",
        legend="{{kind}}",
    ),
    Panel(
        "Monitor sweeps and settlements",
        "sum by (result) (rate(paymesh_monitor_sweeps_total[5m])) or "
        "sum by (kind) (rate(paymesh_monitor_settled_total[5m]))",
        "ops",
    ),
    Panel(
        "Config reloads and rejected documents",
        "sum by (document) (increase(paymesh_config_reloads_total[1h])) or "
        "sum by (document) (increase(paymesh_config_documents_rejected_total[1h]))",
        legend="{{document}}",
    ),
    Panel(
        "Edge 5xx rate (Envoy)",
        'sum(rate(envoy_http_downstream_rq_xx{envoy_response_code_class="5"}[5m]))',
        "reqps",
    ),
    Panel(
        "Edge p99 latency (Envoy)",
        "histogram_quantile(0.99, sum by (le) (rate(envoy_http_downstream_rq_time_bucket[5m])))",
        "ms",
    ),
)

ALERTS: tuple[Alert, ...] = (
    Alert(
        "PaymeshProviderErrorRate",
        f"sum by (provider) (rate(paymesh_channel_calls_total{{{_ERRORS}}}[5m])) / "
        "sum by (provider) (rate(paymesh_channel_calls_total[5m])) > 0.05",
        "More than 5% of {{ $labels.provider }} calls are unavailable or unclear.",
    ),
    Alert(
        "PaymeshProviderLatency",
        "histogram_quantile(0.99, sum by (le, provider) "
        "(rate(paymesh_channel_call_duration_seconds_bucket[5m]))) > 3",
        "p99 latency of {{ $labels.provider }} calls is above 3 s.",
        "10m",
    ),
    Alert(
        "PaymeshNotificationBacklogAge",
        "max(paymesh_outbox_oldest_age_seconds) > 300",
        "An outbox event has waited more than 5 minutes to reach the bus.",
    ),
    Alert(
        "PaymeshEventsFailed",
        "sum(increase(paymesh_notify_events_failed_total[15m])) > 0",
        "Merchant notifications ran out of retries; re-send them from the ops console.",
        "0m",
        "ticket",
    ),
    Alert(
        "PaymeshEventsQuarantined",
        "max(paymesh_outbox_quarantined) > 0",
        "Outbox events are quarantined (unpublishable); fix and re-send them (ResendEvent).",
        "0m",
    ),
    Alert(
        "PaymeshRecordsOverdue",
        "max by (kind) (paymesh_monitor_overdue_records) > 0",
        "{{ $labels.kind }} records are PENDING past their budget.",
        "30m",
        "ticket",
    ),
    Alert(
        "PaymeshLatePayments",
        "sum(increase(paymesh_late_payments_total[1h])) > 0",
        "A provider took payments for orders paymesh had closed (policy applied).",
        "0m",
        "ticket",
    ),
    Alert(
        "PaymeshMonitorNotSweeping",
        'sum(increase(paymesh_monitor_sweeps_total{result="ok"}[15m])) == 0',
        "The order monitor has not completed a sweep in 15 minutes.",
        "15m",
    ),
)


def dashboard() -> Obj:
    panels = []
    for i, p in enumerate(PANELS):
        panels.append(
            {
                "id": i + 1,
                "title": p.title,
                "type": "timeseries",
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
                "fieldConfig": {"defaults": {"unit": p.unit}, "overrides": []},
                "targets": [{"refId": "A", "expr": p.expr, "legendFormat": p.legend}],
            }
        )
    return {
        "uid": "paymesh",
        "title": "paymesh",
        "tags": ["paymesh"],
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Prometheus",
                }
            ]
        },
        "panels": panels,
    }


def rules() -> Obj:
    return {
        "groups": [
            {
                "name": "paymesh",
                "rules": [
                    {
                        "alert": a.name,
                        "expr": a.expr,
                        "for": a.for_,
                        "labels": {"severity": a.severity, **a.labels},
                        "annotations": {"summary": a.summary},
                    }
                    for a in ALERTS
                ],
            }
        ]
    }


def scrape_config() -> Obj:
    """The Prometheus scrape job: every pod of the namespace annotated ``prometheus.io/*``
    (each `paymesh serve` pod's /metrics, the edge's Envoy /stats/prometheus)."""
    meta = "__meta_kubernetes_pod_annotation_prometheus_io_"
    return {
        "scrape_configs": [
            {
                "job_name": "paymesh",
                "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": ["paymesh"]}}],
                "relabel_configs": [
                    {"source_labels": [f"{meta}scrape"], "regex": "true", "action": "keep"},
                    {"source_labels": [f"{meta}path"], "target_label": "__metrics_path__"},
                    {
                        "source_labels": ["__meta_kubernetes_pod_ip", f"{meta}port"],
                        "separator": ";",
                        "regex": "(.+);(.+)",
                        "replacement": "$1:$2",
                        "target_label": "__address__",
                    },
                    {
                        "source_labels": ["__meta_kubernetes_pod_label_component"],
                        "target_label": "service",
                    },
                    {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                ],
            }
        ]
    }


def pod_annotations(port: int, path: str = "/metrics") -> dict[str, str]:
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": path,
    }


def objects() -> list[Obj]:
    import yaml

    labels = {"app": "paymesh", "component": "monitoring"}
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "paymesh-grafana-dashboard",
                # Grafana's dashboard sidecar loads ConfigMaps with this label.
                "labels": {**labels, "grafana_dashboard": "1"},
            },
            "data": {"paymesh.json": json.dumps(dashboard(), indent=2) + "\n"},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "paymesh-prometheus-rules", "labels": labels},
            "data": {"paymesh.rules.yaml": yaml.safe_dump(rules(), sort_keys=False, width=100)},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "paymesh-prometheus-scrape", "labels": labels},
            "data": {
                "paymesh.scrape.yaml": yaml.safe_dump(scrape_config(), sort_keys=False, width=100)
            },
        },
    ]


__all__ = ["ALERTS", "EDGE_STATS_PORT", "ENVOY_METRICS", "METRICS_PORT", "PANELS", "objects"]
