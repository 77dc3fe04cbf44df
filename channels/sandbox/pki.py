"""The sandbox's own key material: an in-memory CA and the certificates it issues.

WeChat's platform certificate is issued here; `Issued` (a key with its certificate) and
`new_key` serve the Alipay (`alipay_pki`) and UnionPay (`unionpay_pki`) chains too, which
mirror those providers' own CAs. Every certificate is built by `paymesh.rsa.build_certificate`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from paymesh.rsa import CA_KEY_USAGE, SIGNING_KEY_USAGE, build_certificate, x509_name

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


class SandboxCA:
    """A self-signed root that issues every sandbox certificate."""

    def __init__(self, org: str = "paymesh sandbox", days: int = 3650) -> None:
        self.org = org
        now = dt.datetime.now(dt.UTC)
        key = new_key()
        name = x509_name(f"{org} root CA", org=org, country="CN")
        cert = build_certificate(
            name, key.public_key(), key, not_before=now - dt.timedelta(days=1),
            not_after=now + dt.timedelta(days=days), ca=True, path_length=1,
            key_usage=CA_KEY_USAGE,
        )  # fmt: skip
        self.root = Issued(key, cert)

    def issue(
        self, common_name: str, key: rsa.RSAPrivateKey | None = None, days: int = 1825
    ) -> Issued:
        """An end-entity signing certificate for `common_name`."""
        key = key or new_key()
        now = dt.datetime.now(dt.UTC)
        cert = build_certificate(
            x509_name(common_name, org=self.org, country="CN"), key.public_key(),
            self.root.key, issuer=self.root.cert.subject,
            not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=days),
            key_usage=SIGNING_KEY_USAGE,
        )  # fmt: skip
        return Issued(key, cert)
