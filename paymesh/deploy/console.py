"""The ops console (`paymesh console`, the config layout) in k8s: a Deployment, its Service and PDB.

Not a `paymesh serve` service, so not in the registry: it serves HTTP (login, forms) on
CONSOLE_PORT, reads and writes config in etcd, keeps operators, sessions and the audit log in
the database, and calls notify's NotifyAdminService (mTLS) to re-send notifications. No
NetworkPolicy lets anything in: operators reach it with `kubectl port-forward` or through an
Ingress you add with your own access control.
"""

from __future__ import annotations

from paymesh.deploy.objects import (
    GRPC_PORT,
    IMAGE,
    MASTER_KEY,
    TLS_DIR,
    Obj,
    _container_security,
    _deployment,
    _labels,
    _pod_spec,
    _selector,
    _tls_volume,
)

NAME = "console"
CONSOLE_PORT = 8060
SECRET_KEYS = ("PAYMESH_DATABASE_URL", MASTER_KEY)


def objects() -> list[Obj]:
    env: list[Obj] = [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": f"paymesh-{NAME}", "key": key}}}
        for key in SECRET_KEYS
    ]
    env += [
        {"name": "PAYMESH_CONSOLE_LISTEN", "value": f"0.0.0.0:{CONSOLE_PORT}"},
        {"name": "PAYMESH_NOTIFY_ADMIN_TARGET", "value": f"dns:///notify:{GRPC_PORT}"},
        {"name": "PAYMESH_RECON_TARGET", "value": f"dns:///recon:{GRPC_PORT}"},
        {"name": "PAYMESH_TLS_CERT_FILE", "value": f"{TLS_DIR}/tls.crt"},
        {"name": "PAYMESH_TLS_KEY_FILE", "value": f"{TLS_DIR}/tls.key"},
        {"name": "PAYMESH_TLS_CA_FILE", "value": f"{TLS_DIR}/ca.crt"},
    ]
    probe = {"httpGet": {"path": "/healthz", "port": "http"}}
    container = {
        "name": NAME,
        "image": IMAGE,
        "args": ["console", "serve"],
        "ports": [{"containerPort": CONSOLE_PORT, "name": "http"}],
        "envFrom": [{"configMapRef": {"name": "paymesh-settings"}}],
        "env": env,
        "startupProbe": {**probe, "periodSeconds": 2, "failureThreshold": 60},
        "readinessProbe": {**probe, "periodSeconds": 5},
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
        "resources": {
            "requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "384Mi"},
        },
        "securityContext": _container_security(),
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108
            {"name": "tls", "mountPath": TLS_DIR, "readOnly": True},
        ],
    }
    deployment = _deployment(NAME, NAME, _pod_spec([container], [_tls_volume(NAME)]))
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "labels": _labels(NAME, NAME)},
        "spec": {
            "selector": _selector(NAME),
            "ports": [{"name": "http", "port": CONSOLE_PORT, "targetPort": "http"}],
        },
    }
    return [deployment, service]
