"""Mutual TLS for the mesh's gRPC servers and clients, from three PEM files in the settings.

- `tls_cert_file` + `tls_key_file`: this process's certificate (servers present it; clients
  present it when the server asks);
- `tls_ca_file`: the mesh CA; a server with it requires client certificates signed by it, a
  client verifies the server's certificate (and its name: the target's host) against it.

No TLS setting at all means plaintext (`paymesh dev`, loopback tests); anything partial is a
startup error naming what is missing. `paymesh certs init` makes a CA and per-service pairs.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import grpc

from paymesh.runtime.settings import MissingSettings, Settings


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def _check(settings: Settings) -> None:
    cert, key = settings.tls_cert_file, settings.tls_key_file
    if bool(cert) != bool(key):
        raise MissingSettings(
            "tls_cert_file (PAYMESH_TLS_CERT_FILE) and tls_key_file (PAYMESH_TLS_KEY_FILE) "
            "go together"
        )
    for name in ("tls_cert_file", "tls_key_file", "tls_ca_file"):
        path = getattr(settings, name)
        if path and not Path(path).is_file():
            raise MissingSettings(f"{name} (PAYMESH_{name.upper()}): no such file {path}")


def enabled(settings: Settings) -> bool:
    _check(settings)
    return bool(settings.tls_cert_file or settings.tls_ca_file)


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS for the server's port (client certificates required when a CA is set), or None."""
    _check(settings)
    if not settings.tls_cert_file:
        if settings.tls_ca_file:
            raise MissingSettings(
                "tls_ca_file is set but the server has no tls_cert_file/tls_key_file to serve"
            )
        return None
    key, cert = _read(settings.tls_key_file), _read(settings.tls_cert_file)
    assert key is not None
    assert cert is not None
    ca = _read(settings.tls_ca_file)
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=ca is not None
    )


def channel_credentials(settings: Settings) -> grpc.ChannelCredentials | None:
    """What a client of the mesh connects with (its own pair + the CA), or None: plaintext."""
    _check(settings)
    if not settings.tls_ca_file:
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=_read(settings.tls_ca_file),
        private_key=_read(settings.tls_key_file),
        certificate_chain=_read(settings.tls_cert_file),
    )


def open_channel(
    target: str, settings: Settings, options: list[tuple[str, int | str]] | None = None
) -> grpc.aio.Channel:
    """A grpc.aio channel to another mesh service: mTLS when the settings say so."""
    opts = [*(options or [])]
    creds = channel_credentials(settings)
    if creds is None:
        return grpc.aio.insecure_channel(target, options=opts)
    return grpc.aio.secure_channel(target, creds, options=opts)


def nats_options(settings: Settings) -> dict[str, Any]:
    """nats.connect arguments for TLS (mesh-style: CA, optional client pair) and a creds file."""
    out: dict[str, Any] = {}
    if bool(settings.nats_cert_file) != bool(settings.nats_key_file):
        raise MissingSettings("nats_cert_file and nats_key_file go together")
    if settings.nats_ca_file or settings.nats_cert_file:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.nats_ca_file)
        if settings.nats_cert_file and settings.nats_key_file:
            ctx.load_cert_chain(settings.nats_cert_file, settings.nats_key_file)
        out["tls"] = ctx
    if settings.nats_creds_file:
        if not Path(settings.nats_creds_file).is_file():
            raise MissingSettings(f"nats_creds_file: no such file {settings.nats_creds_file}")
        out["user_credentials"] = settings.nats_creds_file
    return out
