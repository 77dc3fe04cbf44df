"""The dashboard and alert rules under k8s/: every PromQL expression parses and names only
metrics the code exports (or Envoy's own, seen in a live scrape of the edge's stats port)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from paymesh.deploy import monitoring
from paymesh.gateway.envoy.config import render_text
from paymesh.runtime import metrics
from paymesh.testing.ports import free_port
from paymesh.testing.processes import EnvoyProcess
from tests.deploy.conftest import ROOT, Obj, by_kind

KNOWN = metrics.NAMES | monitoring.ENVOY_METRICS


def selected_metrics(node: Any) -> set[str]:
    """Every metric name a PromQL expression selects."""
    kind = type(node).__name__
    if kind == "VectorSelector":
        names = {node.name} if node.name else set()
        names |= {m.value for m in node.matchers.matchers if m.name == "__name__"}
        return names
    found: set[str] = set()
    for attr in ("lhs", "rhs", "expr", "param", "vector_selector"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, str | int | float):
            found |= selected_metrics(child)
    for arg in getattr(node, "args", None) or ():
        found |= selected_metrics(arg)
    return found


def _configmaps(rendered: list[Obj]) -> dict[str, Obj]:
    return by_kind(rendered, "ConfigMap")


def dashboard_exprs(rendered: list[Obj]) -> list[str]:
    data = _configmaps(rendered)["paymesh-grafana-dashboard"]["data"]["paymesh.json"]
    dash = json.loads(data)
    return [t["expr"] for p in dash["panels"] for t in p["targets"]]


def alert_rules(rendered: list[Obj]) -> list[Obj]:
    data = _configmaps(rendered)["paymesh-prometheus-rules"]["data"]["paymesh.rules.yaml"]
    return [r for g in yaml.safe_load(data)["groups"] for r in g["rules"]]


def test_every_expression_parses_and_names_exported_metrics(rendered: list[Obj]) -> None:
    exprs = dashboard_exprs(rendered) + [r["expr"] for r in alert_rules(rendered)]
    assert len(exprs) == len(monitoring.PANELS) + len(monitoring.ALERTS)
    used: set[str] = set()
    for expr in exprs:
        names = selected_metrics(promql_parser.parse(expr))
        assert names, expr
        assert names <= KNOWN, f"{expr}: {sorted(names - KNOWN)} is not exported"
        used |= names
    # The issue's alerts (and #16's quarantine alert) each have their metric.
    for needed in (
        "paymesh_channel_calls_total",
        "paymesh_channel_call_duration_seconds_bucket",
        "paymesh_outbox_oldest_age_seconds",
        "paymesh_notify_events_failed_total",
        "paymesh_outbox_quarantined",
        "paymesh_monitor_overdue_records",
        "paymesh_late_payments_total",
    ):
        assert any(needed in r["expr"] for r in alert_rules(rendered)), needed
    assert used >= monitoring.ENVOY_METRICS


def test_the_walker_finds_names_and_the_check_catches_a_typo() -> None:
    expr = 'sum(rate(paymesh_orderz_total[5m])) / sum(rate({__name__="paymesh_rpc_total"}[5m]))'
    names = selected_metrics(promql_parser.parse(expr))
    assert names == {"paymesh_orderz_total", "paymesh_rpc_total"}
    assert not names <= KNOWN
    with pytest.raises(ValueError):  # noqa: PT011 (the parser's own error type)
        promql_parser.parse("sum(rate(paymesh_rpc_total[5m])")


def test_alert_rules_are_well_formed(rendered: list[Obj]) -> None:
    rules = alert_rules(rendered)
    assert len({r["alert"] for r in rules}) == len(rules)
    for r in rules:
        assert r["labels"]["severity"] in ("page", "ticket")
        assert r["annotations"]["summary"]
        assert r["for"][-1] in "smh"


def test_every_service_pod_is_scraped_and_the_edge_serves_envoy_stats(
    rendered: list[Obj],
) -> None:
    envoy = json.loads(_configmaps(rendered)["paymesh-envoy"]["data"]["envoy.json"])
    stats = [
        lst
        for lst in envoy["static_resources"]["listeners"]
        if lst["address"]["socket_address"]["port_value"] == monitoring.EDGE_STATS_PORT
    ]
    assert len(stats) == 1
    scrape = yaml.safe_load(
        _configmaps(rendered)["paymesh-prometheus-scrape"]["data"]["paymesh.scrape.yaml"]
    )
    assert scrape["scrape_configs"][0]["job_name"] == "paymesh"
    for d in by_kind(rendered, "Deployment").values():
        pod = d["spec"]["template"]
        (c,) = pod["spec"]["containers"]
        notes = pod["metadata"].get("annotations", {})
        if c.get("args", [""])[0] == "serve":
            env = {e["name"]: e.get("value") for e in c["env"]}
            port = int(env["PAYMESH_METRICS_LISTEN"].rpartition(":")[2])
            assert notes["prometheus.io/port"] == str(port), d["metadata"]["name"]
            assert notes["prometheus.io/path"] == "/metrics"
            assert {"containerPort": port, "name": "metrics"} in c["ports"]
        elif d["metadata"]["name"] == "edge":
            assert notes["prometheus.io/port"] == str(monitoring.EDGE_STATS_PORT)
            assert notes["prometheus.io/path"] == "/stats/prometheus"
    policies = by_kind(rendered, "NetworkPolicy")
    (rule,) = policies["paymesh-metrics"]["spec"]["ingress"]
    assert {p["port"] for p in rule["ports"]} == {
        monitoring.METRICS_PORT,
        monitoring.EDGE_STATS_PORT,
    }


def test_envoy_stats_port_serves_prometheus_stats_and_nothing_else(tmp_path: Path) -> None:
    edge, admin, stats = free_port(), free_port(), free_port()
    config = render_text(
        listen_port=edge, admin_port=admin, upstreams={"*": "127.0.0.1:1"}, stats_port=stats
    )
    envoy = EnvoyProcess(config, root=tmp_path, log_level="warning")
    envoy.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{edge}/healthz", timeout=5) as r:
            assert r.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{stats}/stats/prometheus", timeout=5) as r:
            text = r.read().decode()
        for name in monitoring.ENVOY_METRICS:
            assert f"\n{name}{{" in text or f"# TYPE {name.removesuffix('_bucket')} " in text, name
        for path in ("/stats", "/quitquitquit", "/config_dump"):
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(f"http://127.0.0.1:{stats}{path}", timeout=5)
            assert e.value.code == 404
    finally:
        envoy.close()


def test_readme_lists_every_panel_and_alert_with_its_query() -> None:
    readme = (ROOT / "README.md").read_text().replace("\\|", "|")  # pipes in table cells
    for p in monitoring.PANELS:
        assert p.title in readme, p.title
        assert p.expr in readme, p.expr
    for a in monitoring.ALERTS:
        assert a.name in readme, a.name
        assert a.expr in readme, a.expr
