"""The sandbox's Alipay PKI: an Alipay root CA (Alipay's `alipayRootCert.crt`) that
certifies the sandbox's Alipay key and, in certificate mode, merchants' app keys.

Subject names carry all of C, O, OU and CN, as Alipay's do, so that a certificate's SN is
the same whether an SDK computes it from the RFC 2253 name (Java SDK) or as
`CN=..,OU=..,O=..,C=..` (Python SDKs).
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from paymesh.channels.alipay import sign
from paymesh.channels.sandbox.pki import Issued, new_key
from paymesh.rsa import build_certificate, x509_name


def load_key_and_cert(text: str) -> tuple[rsa.RSAPublicKey, x509.Certificate | None]:
    """An RSA key from a PEM public key, a PEM certificate (also returned) or bare base64."""
    key = sign.load_public_key(text)
    cert = sign.load_certificates(text)[0] if "CERTIFICATE" in text else None
    return key, cert


def _name(common_name: str) -> x509.Name:
    return x509_name(common_name, org="paymesh sandbox", unit="Alipay sandbox", country="CN")


def _validity(days: int) -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return now - dt.timedelta(days=1), now + dt.timedelta(days=days)


def new_root() -> Issued:
    """The sandbox's Alipay root certificate (Alipay's `alipayRootCert.crt`)."""
    key = new_key()
    start, end = _validity(3650)
    cert = build_certificate(
        _name("Alipay sandbox root CA"), key.public_key(), key, not_before=start,
        not_after=end, ca=True, path_length=0,
    )  # fmt: skip
    return Issued(key, cert)


def issue_for(root: Issued, common_name: str, key: rsa.RSAPublicKey) -> x509.Certificate:
    """A certificate for a public key (an app's key: its private key stays with the app)."""
    start, end = _validity(1825)
    return build_certificate(
        _name(common_name), key, root.key, issuer=root.cert.subject, not_before=start,
        not_after=end,
    )  # fmt: skip


__all__ = ["issue_for", "load_key_and_cert", "new_root"]
