"""`paymesh certs init`: a CA and per-service certificates for mutual TLS."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from paymesh.cli import main
from paymesh.deploy import certs


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_init_makes_a_ca_and_service_pairs_and_reuses_the_ca(tmp_path: Path) -> None:
    assert main(["certs", "init", "--dir", str(tmp_path), "--service", "pay"]) == 0
    ca = _cert(tmp_path / "ca.crt")
    pay = _cert(tmp_path / "pay" / "tls.crt")
    pay.verify_directly_issued_by(ca)
    assert (tmp_path / "pay" / "ca.crt").read_bytes() == (tmp_path / "ca.crt").read_bytes()
    for key in (tmp_path / "ca.key", tmp_path / "pay" / "tls.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    sans = pay.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) >= {"pay", "pay.paymesh.svc"}
    usage = pay.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= set(usage)
    ca_is = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert ca_is.ca is True
    assert pay.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False

    # Again: the CA stays, the service certificate is re-issued (leaf rotation).
    assert main(["certs", "init", "--dir", str(tmp_path), "--service", "pay"]) == 0
    assert _cert(tmp_path / "ca.crt") == ca
    again = _cert(tmp_path / "pay" / "tls.crt")
    assert again.serial_number != pay.serial_number
    again.verify_directly_issued_by(ca)


def test_default_services_are_the_edge_the_console_and_every_deployment() -> None:
    from paymesh.deploy.k8s import tiers

    assert certs.default_services() == ["edge", "console", *(t.name for t in tiers())]
