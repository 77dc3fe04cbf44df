"""`paymesh certs init`: a mesh CA and one certificate per service, for mutual TLS.

Layout under DIR (each service folder is one k8s Secret: `kubectl create secret generic
paymesh-tls-<service> --from-file=DIR/<service>`):

    DIR/ca.crt, DIR/ca.key          the CA (keep ca.key offline; it only signs)
    DIR/<service>/tls.crt           the service's certificate (server and client auth)
    DIR/<service>/tls.key           its private key
    DIR/<service>/ca.crt            the CA certificate, to verify peers

An existing CA in DIR is reused, so running it again re-issues the service certificates
(rotation of leaf certificates); a new CA needs a new DIR (see k8s/README.md, rotation).
Names on each certificate: the service, its k8s Service names in `namespace`, localhost,
127.0.0.1 and ::1.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from paymesh.rsa import CA_KEY_USAGE, build_certificate, x509_name

Key = ec.EllipticCurvePrivateKey


def _new_key() -> Key:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: Key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if private:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


def make_ca(
    common_name: str = "paymesh mesh CA", days: int = 3650, now: dt.datetime | None = None
) -> tuple[Key, x509.Certificate]:
    now = now or dt.datetime.now(dt.UTC)
    key = _new_key()
    cert = build_certificate(
        x509_name(common_name), key.public_key(), key,
        not_before=now - dt.timedelta(minutes=5), not_after=now + dt.timedelta(days=days),
        ca=True, path_length=0, key_usage=CA_KEY_USAGE,
        extensions=[(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)],
    )  # fmt: skip
    return key, cert


def service_names(service: str, namespace: str) -> list[str]:
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
        "localhost",
    ]


def issue(
    ca_key: Key,
    ca_cert: x509.Certificate,
    service: str,
    namespace: str = "paymesh",
    days: int = 365,
    now: dt.datetime | None = None,
) -> tuple[Key, x509.Certificate]:
    """A certificate for `service`, good for both ends of mutual TLS."""
    now = now or dt.datetime.now(dt.UTC)
    key = _new_key()
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in service_names(service, namespace)]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "::1")]
    eku = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])
    cert = build_certificate(
        x509_name(service, org="paymesh"), key.public_key(), ca_key, issuer=ca_cert.subject,
        not_before=now - dt.timedelta(minutes=5), not_after=now + dt.timedelta(days=days),
        extensions=[
            (x509.SubjectAlternativeName(sans), False),
            (eku, False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
        ],
    )  # fmt: skip
    return key, cert


def _load_or_make_ca(directory: Path, days: int) -> tuple[Key, x509.Certificate]:
    key_path, cert_path = directory / "ca.key", directory / "ca.crt"
    if key_path.exists() and cert_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise SystemExit(f"{key_path}: not an EC private key")
        return key, x509.load_pem_x509_certificate(cert_path.read_bytes())
    key, cert = make_ca(days=days * 10)
    _write(key_path, _key_pem(key), private=True)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def init(directory: Path, services: Iterable[str], namespace: str, days: int = 365) -> list[Path]:
    """Create (or reuse) the CA in `directory` and issue each service's pair; the folders."""
    ca_key, ca_cert = _load_or_make_ca(directory, days)
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    out = []
    for service in services:
        key, cert = issue(ca_key, ca_cert, service, namespace, days)
        folder = directory / service
        _write(folder / "tls.key", _key_pem(key), private=True)
        _write(folder / "tls.crt", cert.public_bytes(serialization.Encoding.PEM))
        _write(folder / "ca.crt", ca_pem)
        out.append(folder)
    return out


def default_services() -> list[str]:
    """The edge, the ops console and every service the k8s manifests run."""
    from paymesh.deploy.k8s import tiers

    return ["edge", "console", *(t.name for t in tiers())]
