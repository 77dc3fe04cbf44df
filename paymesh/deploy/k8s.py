"""The k8s manifests, generated from the service registry.

`python -m paymesh.deploy.k8s` writes `k8s/*.yaml` (`--check` compares instead); a test
renders them with `kubectl kustomize` and validates them. Which services exist, which are
channel services and which settings (so which secrets) each needs all come from
`paymesh.runtime.registry.SPECS`: a service added there gets its Deployment, Secret keys,
NetworkPolicy, PDB and (when stateless) HPA by regenerating.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paymesh.deploy import console, monitoring, network
from paymesh.deploy.network import CASHIER_PORT
from paymesh.deploy.objects import (
    CALLBACK_BASE_URL as CALLBACK_BASE_URL,
)
from paymesh.deploy.objects import (
    DESCRIPTOR as DESCRIPTOR,
)
from paymesh.deploy.objects import (
    EDGE_PORT as EDGE_PORT,
)
from paymesh.deploy.objects import (
    ENVOY_ADMIN_PORT as ENVOY_ADMIN_PORT,
)
from paymesh.deploy.objects import (
    ETCD_ENDPOINTS as ETCD_ENDPOINTS,
)
from paymesh.deploy.objects import (
    GRPC_PORT as GRPC_PORT,
)
from paymesh.deploy.objects import (
    HEALTH_PORT as HEALTH_PORT,
)
from paymesh.deploy.objects import (
    IMAGE as IMAGE,
)
from paymesh.deploy.objects import (
    MASTER_KEY as MASTER_KEY,
)
from paymesh.deploy.objects import (
    NOTIFY_KEY_DIR as NOTIFY_KEY_DIR,
)
from paymesh.deploy.objects import (
    TLS_DIR as TLS_DIR,
)
from paymesh.deploy.objects import (
    UID as UID,
)
from paymesh.deploy.objects import (
    Obj as Obj,
)
from paymesh.deploy.objects import (
    _container_security,
    _deployment,
    _labels,
    _pod_spec,
    _resources,
    _selector,
    _tls_volume,
)
from paymesh.gateway.envoy.config import EDGE_SERVICES, HTTP_SERVICE, render
from paymesh.gateway.envoy.upstreams import UpstreamTls
from paymesh.runtime.registry import SPECS, ServiceSpec

# The registry's entry point of channel services (one per channel of `paymesh.catalog`).
CHANNEL_ENTRY = "paymesh.channels.serve:register"
GATEWAYS = tuple(n for n in EDGE_SERVICES if n not in ("info", "callback"))

# Secret keys a service gets, by the setting (in ServiceSpec.needs) that asks for them.
SECRET_SETTINGS = {"database_url": "PAYMESH_DATABASE_URL", "nats_url": "PAYMESH_NATS_URL"}


@dataclass(frozen=True)
class Tier:
    """How one registry service runs in k8s."""

    name: str
    role: str  # gateway | callback | channel | notify | monitor | recon | worker
    spec: ServiceSpec

    @property
    def stateless(self) -> bool:
        """Scaled on CPU by an HPA (notify and monitor run a fixed pair of workers)."""
        return self.role in ("gateway", "callback", "channel", "cashier")

    @property
    def secret_keys(self) -> list[str]:
        keys = [env for setting, env in SECRET_SETTINGS.items() if setting in self.spec.needs]
        if "config_backend" in self.spec.needs:
            keys.append(MASTER_KEY)
        return keys


def _role(spec: ServiceSpec) -> str:
    if spec.entry == CHANNEL_ENTRY:
        return "channel"
    if spec.name in GATEWAYS:
        return "gateway"
    if spec.name in ("callback", "notify", "monitor", "recon", "cashier"):
        return spec.name
    return "worker"


def tiers() -> list[Tier]:
    """Every registry service that runs as its own Deployment (`info` rides in each one)."""
    return [Tier(s.name, _role(s), s) for s in SPECS.values() if s.name != "info"]


def channel_names() -> list[str]:
    return [t.name for t in tiers() if t.role == "channel"]


def _service_deployment(tier: Tier) -> Obj:
    env: list[Obj] = [
        {
            "name": key,
            "valueFrom": {"secretKeyRef": {"name": f"paymesh-{tier.name}", "key": key}},
        }
        for key in tier.secret_keys
    ]
    env += [
        {"name": "PAYMESH_TLS_CERT_FILE", "value": f"{TLS_DIR}/tls.crt"},
        {"name": "PAYMESH_TLS_KEY_FILE", "value": f"{TLS_DIR}/tls.key"},
        {"name": "PAYMESH_TLS_CA_FILE", "value": f"{TLS_DIR}/ca.crt"},
        {"name": "PAYMESH_HEALTH_LISTEN", "value": f"0.0.0.0:{HEALTH_PORT}"},
        {"name": "PAYMESH_METRICS_LISTEN", "value": f"0.0.0.0:{monitoring.METRICS_PORT}"},
    ]
    mounts: list[Obj] = [
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108
        {"name": "tls", "mountPath": TLS_DIR, "readOnly": True},
    ]
    volumes: list[Obj] = [_tls_volume(tier.name)]
    if tier.role == "notify":
        env.append(
            {"name": "PAYMESH_NOTIFY_SIGNING_KEY_FILE", "value": f"{NOTIFY_KEY_DIR}/key.pem"}
        )
        mounts.append({"name": "signing-key", "mountPath": NOTIFY_KEY_DIR, "readOnly": True})
        volumes.append(
            {
                "name": "signing-key",
                "secret": {"secretName": "paymesh-notify-signing-key", "defaultMode": 0o440},
            }
        )
    ports: list[Obj] = [
        {"containerPort": GRPC_PORT, "name": "grpc"},
        {"containerPort": HEALTH_PORT, "name": "health"},
        {"containerPort": monitoring.METRICS_PORT, "name": "metrics"},
    ]
    if tier.role == "cashier":
        env.append({"name": "PAYMESH_CASHIER_LISTEN", "value": f"0.0.0.0:{CASHIER_PORT}"})
        ports.append({"containerPort": CASHIER_PORT, "name": "http"})
    probe = {"grpc": {"port": HEALTH_PORT}}
    container = {
        "name": tier.name,
        "image": IMAGE,
        "args": ["serve", tier.name, "--listen", f"0.0.0.0:{GRPC_PORT}"],
        "ports": ports,
        "envFrom": [{"configMapRef": {"name": "paymesh-settings"}}],
        "env": env,
        "startupProbe": {**probe, "periodSeconds": 2, "failureThreshold": 60},
        "readinessProbe": {**probe, "periodSeconds": 5},
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
        "resources": _resources(tier.role),
        "securityContext": _container_security(),
        "volumeMounts": mounts,
    }
    deployment = _deployment(tier.name, tier.role, _pod_spec([container], volumes))
    deployment["spec"]["template"]["metadata"]["annotations"] = monitoring.pod_annotations(
        monitoring.METRICS_PORT
    )
    return deployment


def _service(name: str, role: str, port: int, port_name: str, headless: bool) -> Obj:
    spec: Obj = {
        "selector": _selector(name),
        "ports": [{"name": port_name, "port": port, "targetPort": port_name}],
    }
    if headless:
        # gRPC clients (Envoy's STRICT_DNS clusters, grpc's round_robin) see every pod and
        # balance per request; a ClusterIP would pin one HTTP/2 connection to one pod.
        spec["clusterIP"] = "None"
        spec["ports"][0]["appProtocol"] = "grpc"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": _labels(name, role)},
        "spec": spec,
    }


def settings_configmap() -> Obj:
    targets = ",".join(f"{c}=dns:///{c}:{GRPC_PORT}" for c in channel_names())
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "paymesh-settings", "labels": {"app": "paymesh"}},
        "data": {
            "PAYMESH_CONFIG_BACKEND": "etcd",
            "PAYMESH_ETCD_ENDPOINTS": ETCD_ENDPOINTS,
            "PAYMESH_CHANNEL_TARGETS": targets,
            "PAYMESH_CALLBACK_BASE_URL": CALLBACK_BASE_URL,
            "PAYMESH_LOG_LEVEL": "INFO",
        },
    }


def envoy_config() -> Obj:
    upstreams = {name: f"{name}:{GRPC_PORT}" for name in EDGE_SERVICES if name != "info"}
    upstreams["info"] = f"pay:{GRPC_PORT}"
    upstreams[HTTP_SERVICE] = f"{HTTP_SERVICE}:{CASHIER_PORT}"
    return render(
        listen_port=EDGE_PORT,
        admin_port=ENVOY_ADMIN_PORT,
        upstreams=upstreams,
        listen_address="0.0.0.0",  # noqa: S104
        descriptor=Path(DESCRIPTOR),
        upstream_tls=UpstreamTls(f"{TLS_DIR}/tls.crt", f"{TLS_DIR}/tls.key", f"{TLS_DIR}/ca.crt"),
        stats_port=monitoring.EDGE_STATS_PORT,
    )


def edge_objects() -> list[Obj]:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "paymesh-envoy", "labels": _labels("edge", "edge")},
        "data": {"envoy.json": json.dumps(envoy_config(), indent=2, sort_keys=True) + "\n"},
    }
    probe = {"httpGet": {"path": "/healthz", "port": "http"}}
    container = {
        "name": "envoy",
        "image": IMAGE,
        "command": ["envoy"],
        "args": ["-c", "/etc/envoy/envoy.json", "--disable-hot-restart", "--log-level", "info"],
        "ports": [
            {"containerPort": EDGE_PORT, "name": "http"},
            {"containerPort": monitoring.EDGE_STATS_PORT, "name": "metrics"},
        ],
        "startupProbe": {**probe, "periodSeconds": 2, "failureThreshold": 30},
        "readinessProbe": {**probe, "periodSeconds": 5},
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
        "resources": {
            "requests": {"cpu": "250m", "memory": "128Mi"},
            "limits": {"cpu": "2", "memory": "512Mi"},
        },
        "securityContext": _container_security(),
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108
            {"name": "envoy-config", "mountPath": "/etc/envoy", "readOnly": True},
            {"name": "tls", "mountPath": TLS_DIR, "readOnly": True},
        ],
    }
    volumes = [
        {"name": "envoy-config", "configMap": {"name": "paymesh-envoy"}},
        _tls_volume("edge"),
    ]
    deployment = _deployment("edge", "edge", _pod_spec([container], volumes))
    deployment["spec"]["template"]["metadata"]["annotations"] = monitoring.pod_annotations(
        monitoring.EDGE_STATS_PORT, "/stats/prometheus"
    )
    service = _service("edge", "edge", 80, "http", headless=False)
    service["spec"]["ports"][0]["targetPort"] = "http"
    return [config, deployment, service]


def service_objects() -> list[Obj]:
    out: list[Obj] = []
    for tier in tiers():
        out.append(_service_deployment(tier))
        out.append(_service(tier.name, tier.role, GRPC_PORT, "grpc", headless=True))
        if tier.role == "cashier":  # its pages too (the edge balances over the pods)
            out[-1]["spec"]["ports"].append(
                {"name": "http", "port": CASHIER_PORT, "targetPort": "http", "appProtocol": "http"}
            )
    return out


def scaling_objects() -> list[Obj]:
    out: list[Obj] = []
    stateless = [("edge", "edge")] + [(t.name, t.role) for t in tiers() if t.stateless]
    pdbs = [("edge", "edge"), ("console", "console")] + [(t.name, t.role) for t in tiers()]
    for name, role in pdbs:
        out.append(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": name, "labels": _labels(name, role)},
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": _selector(name)}},
            }
        )
    for name, role in stateless:
        out.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": name, "labels": _labels(name, role)},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                    "minReplicas": 2,
                    "maxReplicas": 10,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {"type": "Utilization", "averageUtilization": 70},
                            },
                        }
                    ],
                },
            }
        )
    return out


def files() -> dict[str, list[Obj]]:
    """File name under k8s/ -> the objects it holds."""
    roles = {t.name: t.role for t in tiers()} | {console.NAME: console.NAME}
    return {
        "settings.yaml": [settings_configmap()],
        "services.yaml": service_objects(),
        "edge.yaml": edge_objects(),
        "console.yaml": console.objects(),
        "network-policies.yaml": network.policies(roles),
        "scaling.yaml": scaling_objects(),
        "monitoring.yaml": monitoring.objects(),
    }


HEADER = (
    "# Generated by `make k8s` (python -m paymesh.deploy.k8s) from the service registry;\n"
    "# edit paymesh/deploy/, not this file.\n"
)


def dump(objects: list[Obj]) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True  # spell every repeated probe out: no &anchors in k8s manifests

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    docs = [yaml.dump(o, Dumper=Dumper, sort_keys=False, width=100) for o in objects]
    return HEADER + "---\n".join(docs)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    p = argparse.ArgumentParser(description="write (or --check) the generated k8s manifests")
    p.add_argument("--dir", type=Path, default=Path("k8s"))
    p.add_argument("--check", action="store_true")
    args = p.parse_args(argv)
    stale = []
    for name, objects in files().items():
        path: Path = args.dir / name
        text = dump(objects)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    if stale:
        print(f"stale (run `make k8s`): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
