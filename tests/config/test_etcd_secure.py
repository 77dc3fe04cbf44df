"""EtcdConfigStore against a real etcd serving TLS with client certificates and auth enabled."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import TypedDict

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from etcd3aio import Etcd3Client

from paymesh.config.etcd_store import EtcdConfigStore
from paymesh.config.factory import open_store as config_store
from paymesh.config.store import ConfigStoreUnavailable
from paymesh.runtime.settings import Settings
from paymesh.testing.ports import port_open
from paymesh.testing.processes import EtcdServer

PASSWORD = "etcd-root-pass-1234"


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, signer = issuer if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
    return builder.sign(signer, hashes.SHA256())


class TlsEtcd(EtcdServer):
    """etcd with https client URLs and client-certificate auth."""

    def __init__(self, certs: Path) -> None:
        super().__init__()
        self.certs = certs

    @property
    def url(self) -> str:
        return f"https://{self.endpoint}"

    def command(self) -> list[str]:
        return [
            *super().command(),
            "--cert-file",
            str(self.certs / "server.pem"),
            "--key-file",
            str(self.certs / "server-key.pem"),
            "--client-cert-auth",
            "--trusted-ca-file",
            str(self.certs / "ca.pem"),
        ]

    def ready(self) -> bool:
        return port_open(self.port)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("etcd-tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("paymesh test CA", ca_key, None, ca=True)
    issuer = (ca.subject, ca_key)
    for name, server in (("server", True), ("client", False)):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(name if not server else "127.0.0.1", key, issuer, server=server)
        (d / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (d / f"{name}-key.pem").write_bytes(_pem(key))
    (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return d


@pytest.fixture(scope="module")
def tls_etcd(certs: Path) -> Iterator[TlsEtcd]:
    server = TlsEtcd(certs)
    server.start()
    try:
        yield server
    finally:
        server.close()


class _Tls(TypedDict):
    ca_cert: bytes
    cert_key: bytes
    cert_chain: bytes


def _tls(certs: Path) -> _Tls:
    return {
        "ca_cert": (certs / "ca.pem").read_bytes(),
        "cert_key": (certs / "client-key.pem").read_bytes(),
        "cert_chain": (certs / "client.pem").read_bytes(),
    }


@pytest.fixture(scope="module")
async def auth_enabled(tls_etcd: TlsEtcd, certs: Path) -> None:
    client = Etcd3Client([tls_etcd.endpoint], **_tls(certs))
    await client.connect()
    try:
        assert client.auth is not None
        await client.auth.user_add("root", PASSWORD)
        await client.auth.role_add("root")
        await client.auth.user_grant_role("root", "root")
        await client.auth.auth_enable()
    finally:
        await client.close()


async def test_tls_with_credentials(tls_etcd: TlsEtcd, certs: Path, auth_enabled: None) -> None:
    store = EtcdConfigStore(
        [tls_etcd.endpoint], user="root", password=PASSWORD, timeout=3, **_tls(certs)
    )
    try:
        rev = await store.put("/t/secure/a", b"1", expected_revision=0)
        got = await store.get("/t/secure/a")
        assert got is not None
        assert (got.value, got.revision) == (b"1", rev)
    finally:
        await store.close()


async def test_settings_build_the_secure_store(
    tls_etcd: TlsEtcd, certs: Path, auth_enabled: None
) -> None:
    settings = Settings.model_validate(
        {
            "config_backend": "etcd",
            "etcd_endpoints": [tls_etcd.endpoint],
            "etcd_ca_file": str(certs / "ca.pem"),
            "etcd_cert_file": str(certs / "client.pem"),
            "etcd_key_file": str(certs / "client-key.pem"),
            "etcd_user": "root",
            "etcd_password": PASSWORD,
        }
    )
    assert PASSWORD not in repr(settings)
    store = config_store(settings)
    try:
        await store.put("/t/secure/b", b"2")
        assert [e.key for e in await store.list("/t/secure/")][-1] == "/t/secure/b"
    finally:
        await store.close()


async def test_wrong_password_is_refused(
    tls_etcd: TlsEtcd, certs: Path, auth_enabled: None
) -> None:
    store = EtcdConfigStore([tls_etcd.endpoint], user="root", password="wrong-one", **_tls(certs))
    try:
        with pytest.raises(ConfigStoreUnavailable, match="authenticate"):
            await store.get("/t/secure/a")
    finally:
        await store.close()


async def test_plaintext_client_is_refused(tls_etcd: TlsEtcd, auth_enabled: None) -> None:
    store = EtcdConfigStore([tls_etcd.endpoint], timeout=2)
    try:
        with pytest.raises(ConfigStoreUnavailable):
            await store.get("/t/secure/a")
    finally:
        await store.close()
