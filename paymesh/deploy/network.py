"""NetworkPolicies of the k8s manifests: who may talk to whom.

- only the edge reaches the gateways and the callback gateway;
- only the edge reaches the cashier (its HTTP pages);
- only the gateways, the callback gateway, the monitor, reconciliation and the cashier reach
  the channel services;
- only the channel services reach the internet (the providers' HTTPS APIs, port 443);
- notify reaches merchants (any public address and port: notify_url is the merchant's);
- only the ops console reaches notify (its NotifyAdminService) and reconciliation (its
  ReconciliationService); nothing reaches the console
  (operators use `kubectl port-forward`, or an Ingress with your own access control);
- everything else stays in the cluster or private ranges (MySQL, etcd, NATS by port).

Everything is denied first (`paymesh-default-deny`), then each service gets one policy.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

GRPC_PORT = 50051
EDGE_PORT = 8080
CASHIER_PORT = 8075  # the cashier's HTTP pages (the edge routes /cashier/ to it)
PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
# Never "the internet": link-local holds cloud metadata endpoints.
NOT_PUBLIC = (*PRIVATE, "169.254.0.0/16", "127.0.0.0/8", "100.64.0.0/10")
BACKEND_PORTS = {"mysql": 3306, "etcd": 2379, "nats": 4222}
# Prometheus scrapes from the namespace named here: each service's /metrics, the edge's stats.
MONITORING_NAMESPACE = "monitoring"
METRICS_PORTS = (9464, 9902)

# role -> roles allowed in on the gRPC port
INGRESS_FROM: dict[str, tuple[str, ...]] = {
    "gateway": ("edge",),
    "callback": ("edge",),
    "channel": ("gateway", "callback", "monitor", "recon", "cashier"),
    "notify": ("console",),  # NotifyAdminService: re-send from the ops console
    "recon": ("console",),  # ReconciliationService: the console's reconciliation pages
}
# role -> backends it uses
BACKENDS: dict[str, tuple[str, ...]] = {
    "gateway": ("mysql", "etcd"),
    "callback": ("mysql", "etcd"),
    "monitor": ("mysql", "etcd"),
    "recon": ("mysql", "etcd"),
    "notify": ("mysql", "etcd", "nats"),
    "channel": ("etcd",),
    "worker": ("mysql", "etcd"),
    "console": ("mysql", "etcd"),
    "cashier": ("mysql", "etcd"),
}
# role -> roles it calls over gRPC
CALLS: dict[str, tuple[str, ...]] = {
    "edge": ("gateway", "callback"),
    "cashier": ("channel",),
    "gateway": ("channel",),
    "callback": ("channel",),
    "monitor": ("channel",),
    "console": ("notify", "recon"),
    "recon": ("channel",),
}


def _roles(roles: tuple[str, ...]) -> Obj:
    return {
        "podSelector": {
            "matchExpressions": [
                {"key": "paymesh.io/role", "operator": "In", "values": list(roles)}
            ]
        }
    }


def _tcp(*ports: int) -> list[Obj]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def _public(except_: tuple[str, ...] = NOT_PUBLIC) -> Obj:
    return {"ipBlock": {"cidr": "0.0.0.0/0", "except": list(except_)}}


def _ingress(role: str) -> list[Obj]:
    if role == "edge":
        return [{"ports": _tcp(EDGE_PORT)}]  # merchants and providers, from anywhere
    if role == "cashier":
        return [{"from": [_roles(("edge",))], "ports": _tcp(CASHIER_PORT)}]
    peers = INGRESS_FROM.get(role)
    if not peers:
        return []
    return [{"from": [_roles(peers)], "ports": _tcp(GRPC_PORT)}]


def _egress(role: str) -> list[Obj]:
    rules: list[Obj] = []
    calls = CALLS.get(role)
    if calls:
        rules.append({"to": [_roles(calls)], "ports": _tcp(GRPC_PORT)})
    if role == "edge":
        rules.append({"to": [_roles(("cashier",))], "ports": _tcp(CASHIER_PORT)})
    backends = BACKENDS.get(role)
    if backends:
        in_cluster: list[Obj] = [{"namespaceSelector": {}}]
        rules.append(
            {
                "to": in_cluster + [{"ipBlock": {"cidr": c}} for c in PRIVATE],
                "ports": _tcp(*(BACKEND_PORTS[b] for b in backends)),
            }
        )
    if role == "channel":
        rules.append({"to": [_public()], "ports": _tcp(443)})
    if role == "notify":
        rules.append({"to": [_public()]})  # merchants' notify_url: any public address and port
    return rules


def _meta(name: str) -> Obj:
    return {"name": name, "labels": {"app": "paymesh"}}


def policies(roles: dict[str, str]) -> list[Obj]:
    """roles: Deployment name -> role (the edge is added here)."""
    out: list[Obj] = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta("paymesh-default-deny"),
            "spec": {
                "podSelector": {"matchLabels": {"app": "paymesh"}},
                "policyTypes": ["Ingress", "Egress"],
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta("paymesh-dns"),
            "spec": {
                "podSelector": {"matchLabels": {"app": "paymesh"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [{"namespaceSelector": {}}],
                        "ports": [
                            {"protocol": "UDP", "port": 53},
                            {"protocol": "TCP", "port": 53},
                        ],
                    }
                ],
            },
        },
    ]
    out.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta("paymesh-metrics"),
            "spec": {
                "podSelector": {"matchLabels": {"app": "paymesh"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {
                                        "kubernetes.io/metadata.name": MONITORING_NAMESPACE
                                    }
                                }
                            }
                        ],
                        "ports": _tcp(*METRICS_PORTS),
                    }
                ],
            },
        }
    )
    for name, role in {"edge": "edge", **roles}.items():
        spec: Obj = {
            "podSelector": {"matchLabels": {"app": "paymesh", "component": name}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": _ingress(role),
            "egress": _egress(role),
        }
        out.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": _meta(name),
                "spec": spec,
            }
        )
    return out
