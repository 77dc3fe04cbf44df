"""The building blocks of the k8s manifests: ports, paths, labels, and the hardened pod and
Deployment every service gets (`k8s.py` for the services, `console.py` for the console)."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

GRPC_PORT = 50051
HEALTH_PORT = 50052  # plaintext, grpc.health.v1 only: kubelet gRPC probes speak no TLS
TLS_DIR = "/var/run/secrets/paymesh/tls"  # Secret paymesh-tls-<service> (paymesh certs init)
EDGE_PORT = 8080
ENVOY_ADMIN_PORT = 9901
UID = 10001
IMAGE = "paymesh"
# Where the Dockerfile links the descriptor set shipped in the wheel.
DESCRIPTOR = "/usr/local/share/paymesh/paymesh.pb"
NOTIFY_KEY_DIR = "/var/run/secrets/paymesh/notify-signing"
# Placeholders the runbook (k8s/README.md) tells the operator to set.
CALLBACK_BASE_URL = "https://pay.example.com"
ETCD_ENDPOINTS = "etcd:2379"
MASTER_KEY = "PAYMESH_MASTER_KEY"  # every service that reads config decrypts its secrets


def _labels(name: str, role: str) -> dict[str, str]:
    return {"app": "paymesh", "component": name, "paymesh.io/role": role}


def _selector(name: str) -> dict[str, str]:
    return {"app": "paymesh", "component": name}


def _container_security() -> Obj:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }


def _pod_spec(containers: list[Obj], volumes: list[Obj]) -> Obj:
    return {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": 30,
        "containers": containers,
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}, *volumes],
    }


def _deployment(name: str, role: str, pod: Obj, replicas: int = 2) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": _labels(name, role)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": _selector(name)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": _labels(name, role)},
                "spec": {
                    **pod,
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": _selector(name)},
                        }
                    ],
                },
            },
        },
    }


def _resources(role: str) -> Obj:
    cpu = {"gateway": "250m", "callback": "100m", "channel": "100m"}.get(role, "100m")
    return {
        "requests": {"cpu": cpu, "memory": "160Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }


def _tls_volume(name: str) -> Obj:
    return {"name": "tls", "secret": {"secretName": f"paymesh-tls-{name}", "defaultMode": 0o440}}
