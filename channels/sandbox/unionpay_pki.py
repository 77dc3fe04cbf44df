"""The sandbox's UnionPay PKI, made at run time: root -> intermediate -> signing certificate.

UnionPay's own chain is CFCA root -> CFCA intermediate ("middle") -> the certificate
UnionPay signs its answers with (CN `041@<serial>@中国银联股份有限公司@<n>`). Merchants sign
with a certificate issued to them as PKCS#12. The sandbox and the tests use this module for
both; the expired, wrong-CN and foreign-root variants exist for rejection tests.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from paymesh.channels.sandbox.pki import Issued, new_key
from paymesh.channels.unionpay import sign
from paymesh.channels.unionpay.sign import UNIONPAY_CN_NAME
from paymesh.rsa import CA_KEY_USAGE, SIGNING_KEY_USAGE, build_certificate, x509_name


def _name(cn: str, org: str) -> x509.Name:
    return x509_name(cn, org=org, country="CN")


def make_cert(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: Issued | None,
    *,
    ca: bool,
    not_before: dt.datetime,
    not_after: dt.datetime,
    path_length: int | None = None,
) -> Issued:
    """A certificate for `key`, signed by `issuer` (self-signed when None)."""
    cert = build_certificate(
        subject, key.public_key(), issuer.key if issuer is not None else key,
        issuer=issuer.cert.subject if issuer is not None else None, not_before=not_before,
        not_after=not_after, ca=ca, path_length=path_length,
        key_usage=CA_KEY_USAGE if ca else SIGNING_KEY_USAGE,
    )  # fmt: skip
    return Issued(key, cert)


class UnionpayPKI:
    """A root and an intermediate CA issuing UnionPay's and merchants' certificates."""

    def __init__(self, org: str = "paymesh sandbox CFCA", *, days: int = 3650) -> None:
        self.org = org
        now = dt.datetime.now(dt.UTC)
        start, end = now - dt.timedelta(days=730), now + dt.timedelta(days=days)
        self.root = make_cert(
            _name(f"{org} TEST ROOT", org), new_key(), None, ca=True, not_before=start,
            not_after=end, path_length=1,
        )  # fmt: skip
        self.intermediate = make_cert(
            _name(f"{org} TEST OCA1", org), new_key(), self.root, ca=True, not_before=start,
            not_after=end, path_length=0,
        )  # fmt: skip
        self.unionpay = self.issue_unionpay()

    def issue(
        self,
        common_name: str,
        *,
        key: rsa.RSAPrivateKey | None = None,
        days: int = 1825,
        expired: bool = False,
    ) -> Issued:
        """An end-entity certificate issued by the intermediate."""
        now = dt.datetime.now(dt.UTC)
        if expired:
            start, end = now - dt.timedelta(days=400), now - dt.timedelta(days=1)
        else:
            start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=days)
        return make_cert(
            _name(common_name, self.org), key or new_key(), self.intermediate, ca=False,
            not_before=start, not_after=end,
        )  # fmt: skip

    def issue_unionpay(self, *, owner: str = UNIONPAY_CN_NAME, expired: bool = False) -> Issued:
        """UnionPay's own signing certificate (the one sent as `signPubKeyCert`)."""
        serial = "".join(secrets.choice("0123456789") for _ in range(16))
        return self.issue(f"041@8{serial[:15]}@{owner}@00000001", expired=expired)

    def issue_merchant(self, mer_id: str) -> Issued:
        """A merchant's signing certificate (handed out as PKCS#12)."""
        return self.issue(f"041@Z{mer_id}@{mer_id}@00000001")

    @property
    def root_pem(self) -> str:
        return self.root.cert_pem

    @property
    def intermediate_pem(self) -> str:
        return self.intermediate.cert_pem

    def sign_as_unionpay(
        self, fields: Mapping[str, str], signer: Issued | None = None
    ) -> dict[str, str]:
        """`fields` + signMethod, signPubKeyCert and signature, as UnionPay sends them."""
        signer = signer or self.unionpay
        out = {k: v for k, v in fields.items() if k != sign.SIGNATURE_FIELD}
        out.setdefault("signMethod", sign.SIGN_METHOD_RSA)
        # CRLF line ends, as UnionPay sends it (and as a browser form post would make them)
        out[sign.CERT_FIELD] = signer.cert_pem.replace("\n", "\r\n")
        out[sign.SIGNATURE_FIELD] = sign.sign_fields(signer.key, out)
        return out


__all__ = ["Issued", "UnionpayPKI", "make_cert", "new_key"]
