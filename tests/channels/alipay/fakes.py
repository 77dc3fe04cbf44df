"""Test support: a fake Alipay platform's keys, certificates, signed responses and notifies.

Used by the channel tests (and usable by the sandbox): everything generated at run time.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from paymesh.channels.alipay import sign
from paymesh.channels.alipay.config import AlipayAccount
from paymesh.channels.transport import HttpResponse


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ant Financial test"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Certification Authority"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def issue(
    subject_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    subject: str,
    issuer_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    issuer: str,
    now: datetime,
    *,
    ca: bool = False,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(subject_key)
        .serial_number(secrets.randbits(120) | (1 << 120))
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


@dataclass
class CertificateSet:
    """Alipay's certificate-mode files: app cert, Alipay public cert and the root bundle
    (one RSA root plus one non-RSA root, which must not count in the root SN)."""

    app_cert: x509.Certificate
    alipay_cert: x509.Certificate
    rsa_root: x509.Certificate
    other_root: x509.Certificate

    @property
    def root_bundle_pem(self) -> str:
        return cert_pem(self.other_root) + cert_pem(self.rsa_root)


@dataclass
class FakeAlipay:
    """The Alipay side: its signing key (public-key mode) and, on demand, certificates."""

    key: rsa.RSAPrivateKey = field(default_factory=new_rsa_key)

    @property
    def public_key_pem(self) -> str:
        return sign.public_key_pem(self.key)

    def certificates(self, app_key: rsa.RSAPrivateKey, now: datetime) -> CertificateSet:
        root_key = new_rsa_key()
        root = issue(
            root_key.public_key(), "Ant Financial Certification Authority R1", root_key,
            "Ant Financial Certification Authority R1", now, ca=True,
        )  # fmt: skip
        ec_key = ec.generate_private_key(ec.SECP256R1())
        other = issue(
            ec_key.public_key(), "Ant Financial Certification Authority E1", ec_key,
            "Ant Financial Certification Authority E1", now, ca=True,
        )  # fmt: skip
        class_ca = "Ant Financial Certification Authority R1"
        return CertificateSet(
            app_cert=issue(app_key.public_key(), "app 2021000000000001", root_key, class_ca, now),
            alipay_cert=issue(
                self.key.public_key(), "支付宝(中国)网络技术有限公司", root_key, class_ca, now
            ),
            rsa_root=root,
            other_root=other,
        )

    def body(self, method: str, content: Mapping[str, Any] | str, *, error: bool = False) -> bytes:
        """A signed response body; a `str` content is used byte for byte."""
        raw = (
            content
            if isinstance(content, str)
            else json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        )
        return sign.sign_response(self.key, method, raw, error=error)

    def response(
        self, method: str, content: Mapping[str, Any] | str, *, error: bool = False
    ) -> HttpResponse:
        return HttpResponse(
            status=200,
            headers={"content-type": "text/html;charset=utf-8"},
            body=self.body(method, content, error=error),
        )

    def notify_params(self, params: Mapping[str, str]) -> dict[str, str]:
        """`params` plus `sign_type` and `sign`, as Alipay posts them."""
        out = {**params, "sign_type": "RSA2"}
        out["sign"] = sign.rsa_sign(self.key, sign.notify_canonical(out))
        return out

    def notify_body(self, params: Mapping[str, str]) -> bytes:
        return urlencode(self.notify_params(params)).encode("ascii")


def make_account(
    platform: FakeAlipay,
    app_key: rsa.RSAPrivateKey,
    *,
    mode: str = "public_key",
    certs: CertificateSet | None = None,
    base_url: str = "https://openapi.alipay.com/gateway.do",
    **overrides: Any,
) -> AlipayAccount:
    """An AlipayAccount trusting `platform`; certificate mode needs `certs`."""
    fields: dict[str, Any] = {
        "account_id": "ali-test",
        "base_url": base_url,
        "app_id": "2021000000000001",
        "private_key_pem": sign.private_key_pem(app_key),
        "notify_url": "https://paymesh.example/v1/callbacks/alipay/ali-test",
        "mode": mode,
    }
    if mode == "public_key":
        fields["alipay_public_key_pem"] = platform.public_key_pem
    elif mode == "certificate":
        if certs is None:
            raise ValueError("certificate mode needs certs")
        fields["app_cert_pem"] = cert_pem(certs.app_cert)
        fields["alipay_public_cert_pem"] = cert_pem(certs.alipay_cert)
        fields["alipay_root_cert_pem"] = certs.root_bundle_pem
    else:
        raise ValueError(mode)
    fields.update(overrides)
    return AlipayAccount(**fields)


__all__ = [
    "CertificateSet",
    "FakeAlipay",
    "cert_pem",
    "issue",
    "make_account",
    "new_rsa_key",
]
