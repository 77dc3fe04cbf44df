"""The sandbox's own key material: an in-memory CA and the certificates it issues.

WeChat's platform certificate is issued here; UnionPay's signing certificates and trust
roots (PKCS#12 for merchants, root + intermediate for verifying `signPubKeyCert`) will be
issued by the same CA, and Alipay only needs a bare key pair (`new_key`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from paymesh.rsa import CA_KEY_USAGE

KEY_SIZE = 2048


def new_key(key_size: int = KEY_SIZE) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


@dataclass(frozen=True)
class Issued:
    """A key pair with its certificate."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def serial_hex(self) -> str:
        """Uppercase hex serial (how WeChat names certificates)."""
        return format(self.cert.serial_number, "X")

    @property
    def serial_dec(self) -> str:
        """Decimal serial (UnionPay's `certId`)."""
        return str(self.cert.serial_number)

    @property
    def cert_pem(self) -> str:
        return cert_pem(self.cert)


def _name(common_name: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


class SandboxCA:
    """A self-signed root that issues every sandbox certificate."""

    def __init__(self, org: str = "paymesh sandbox", days: int = 3650) -> None:
        self.org = org
        now = dt.datetime.now(dt.UTC)
        key = new_key()
        name = _name(f"{org} root CA", org)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(
                CA_KEY_USAGE,
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        self.root = Issued(key, cert)

    def issue(
        self, common_name: str, key: rsa.RSAPrivateKey | None = None, days: int = 1825
    ) -> Issued:
        """An end-entity signing certificate for `common_name`."""
        key = key or new_key()
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, self.org))
            .issuer_name(self.root.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,
                    key_encipherment=True,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.root.key, hashes.SHA256())
        )
        return Issued(key, cert)
