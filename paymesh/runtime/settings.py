"""Service settings: a TOML file (`--config` or PAYMESH_CONFIG) overlaid by PAYMESH_* env vars.

Each service names the settings it needs; `require()` stops startup with a message that
names every missing one and the environment variable that sets it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, ValidationError

ENV_PREFIX = "PAYMESH_"


class MissingSettings(SystemExit):
    """Raised at startup; its text names what is missing."""


class Settings(BaseModel):
    listen: str = Field("127.0.0.1:50051", description="gRPC listen address host:port")
    log_level: str = "INFO"
    # Bind the listen (and health) port with SO_REUSEPORT: set for each process of
    # `paymesh serve --workers N`, which share one port.
    reuse_port: bool = False
    drain_seconds: float = Field(10.0, description="grace period for in-flight RPCs on SIGTERM")
    # Mutual TLS between services (PEM files, see paymesh.runtime.tls): with cert + key the
    # server listens on TLS; with the CA too it requires client certificates signed by it,
    # and every gRPC client of the process presents cert + key and verifies servers by the CA.
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_ca_file: str | None = None
    # A second, plaintext port that serves only grpc.health.v1 (k8s gRPC probes speak no TLS).
    health_listen: str | None = None
    # Prometheus /metrics (host:port, port 0 picks one); unset: no metrics endpoint.
    metrics_listen: str | None = None
    # OpenTelemetry traces to this OTLP/gRPC collector (host:port); unset: no tracing.
    otlp_endpoint: str | None = None
    # Backends. None means "not configured"; services that need one say so at startup.
    database_url: str | None = None
    config_backend: str | None = Field(None, description="etcd | file")
    etcd_endpoints: list[str] = Field(default_factory=list)
    # etcd over TLS (PEM files: the CA, and a client certificate + key for mutual TLS) and
    # with credentials (etcd auth enabled).
    etcd_ca_file: str | None = None
    etcd_cert_file: str | None = None
    etcd_key_file: str | None = None
    etcd_user: str | None = None
    etcd_password: SecretStr | None = None
    config_file: str | None = None
    config_prefix: str = "/paymesh/config"
    nats_url: str | None = None
    # NATS over TLS (the CA; a client certificate + key when NATS verifies clients) and with
    # a credentials file (NKEY/JWT); user and password go in nats_url (nats://user:pass@host).
    nats_ca_file: str | None = None
    nats_cert_file: str | None = None
    nats_key_file: str | None = None
    nats_creds_file: str | None = None
    # The JetStream stream and subject prefix of the notify service's events: deployments
    # sharing one NATS account each need their own (the streams' subjects may not overlap).
    nats_stream: str = Field("PAYMESH_EVENTS", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    nats_subject_prefix: str = Field(
        "paymesh.events", pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$", max_length=128
    )
    # PEM RSA private key paymesh signs RSA2 apps' notifications with; merchants
    # verify with its public key.
    notify_signing_key_file: str | None = None
    # Where each channel service answers: channel -> gRPC target.
    channel_targets: dict[str, str] = Field(default_factory=dict)
    channel_timeout_seconds: float = 10.0
    # The edge URL providers reach us at; channel notify URLs are
    # {callback_base_url}/v1/callbacks/{channel}/{account_id}.
    callback_base_url: str | None = None
    datacenter_id: int = 0
    # TTL of the etcd lease on this process's worker id: ids stop (UNAVAILABLE, health
    # NOT_SERVING) when it is not renewed in time, until a worker id is leased again.
    worker_lease_ttl_seconds: int = Field(10, ge=1)
    # The ops console (`paymesh console`): where it listens, and the notify service's gRPC
    # target for re-sending notifications from it.
    console_listen: str = "127.0.0.1:8060"
    # The cashier's HTTP server (`paymesh serve cashier`; Envoy routes /cashier/ to it),
    # and, for the sandbox only, a base URL whose wallet bridge stubs its pages load and
    # whose payer page may name the wallet (`?as=wechat`) instead of the User-Agent.
    cashier_listen: str = "127.0.0.1:8075"
    cashier_sandbox_url: str | None = None
    notify_admin_target: str | None = None
    # The ReconciliationService's gRPC target (`paymesh serve recon`), for the console's
    # reconciliation pages; `paymesh recon` also reads PAYMESH_RECON_TARGET.
    recon_target: str | None = None

    def is_set(self, name: str) -> bool:
        value = getattr(self, name)
        return value not in (None, "", [], {})


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        ann = field.annotation
        if ann == list[str]:
            out[name] = [p.strip() for p in raw.split(",") if p.strip()]
        elif ann == dict[str, str]:
            pairs = (p.split("=", 1) for p in raw.split(",") if "=" in p)
            out[name] = {k.strip(): v.strip() for k, v in pairs}
        else:
            out[name] = raw
    return out


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    file = path or env.get(ENV_PREFIX + "CONFIG")
    if file:
        with open(file, "rb") as fh:
            data.update(tomllib.load(fh))
    data.update(_env_overrides(env))
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) for err in e.errors())
        raise MissingSettings(f"invalid settings: {fields}\n{e}") from e


def require(settings: Settings, needs: Mapping[str, Iterable[str]]) -> None:
    """needs: service -> setting names. Exit naming every missing setting."""
    missing: list[str] = []
    for service, names in needs.items():
        for name in names:
            if not settings.is_set(name):
                missing.append(f"{name} (env {ENV_PREFIX}{name.upper()}) for service {service!r}")
    if missing:
        raise MissingSettings("missing required settings:\n  " + "\n  ".join(missing))
