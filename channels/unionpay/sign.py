"""UnionPay ACP 5.1.0 signatures and certificates (pure).

signMethod 01 (RSA), as UnionPay's SDKs implement it (acpsdk `SDKUtil.signBySecureKey` /
`AcpService.validate`, PHP `AcpService::sign` / `validate`):
- canonical string: every non-empty field except `signature`, sorted by name, `k=v`
  joined with `&`, values exactly as sent or received (no URL-decoding, CRLF kept);
- `signature = base64(SHA256withRSA(sha256_hex_lowercase(canonical)))`: a double hash.
  The RSA signature (PKCS#1 v1.5) is over the 64 ASCII characters of the hex digest,
  not over the canonical string;
- `certId` is the decimal serial number of the merchant's signing certificate (PKCS#12).

UnionPay's answers and backUrl notifies carry the signing certificate itself
(`signPubKeyCert`, PEM). The SDK (`CertUtil.verifyCertificate`) accepts it only when
1. it is within its validity period,
2. it chains to the configured root through the configured intermediate ("middle")
   certificate (PKIX path building, no revocation check), and
3. its CN, split on `@`, has `中国银联股份有限公司` as third part (e.g.
   `041@8310000000083040@中国银联股份有限公司@00016495`);
then the message signature is verified with its public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from paymesh.rsa import load_certificates as rsa_load_certificates
from paymesh.rsa import rsa_sign, rsa_verify

SIGN_METHOD_RSA: Final = "01"
SIGNATURE_FIELD: Final = "signature"
CERT_FIELD: Final = "signPubKeyCert"
UNIONPAY_CN_NAME: Final = "中国银联股份有限公司"
MAX_CHAIN = 4


class CertificateRejected(ValueError):
    """`signPubKeyCert` is not a valid UnionPay signing certificate under our trust roots."""


# --- the signature rule ----------------------------------------------------------------------


def canonical(fields: Mapping[str, str]) -> str:
    """Sorted `k=v&...` of the non-empty fields except `signature`."""
    return "&".join(
        f"{k}={v}" for k, v in sorted(fields.items()) if k != SIGNATURE_FIELD and v != ""
    )


def digest_hex(fields: Mapping[str, str]) -> str:
    """Lowercase hex SHA-256 of the canonical string: what the RSA signature covers."""
    return hashlib.sha256(canonical(fields).encode("utf-8")).hexdigest()


def sign_fields(key: rsa.RSAPrivateKey, fields: Mapping[str, str]) -> str:
    """The base64 `signature` of `fields` (signMethod 01, double hash)."""
    return rsa_sign(key, digest_hex(fields))


def verify_fields(key: rsa.RSAPublicKey, fields: Mapping[str, str]) -> bool:
    """Whether `fields["signature"]` signs the other fields (signMethod 01)."""
    return rsa_verify(key, digest_hex(fields), fields.get(SIGNATURE_FIELD, ""))


# --- the merchant's signing certificate ------------------------------------------------------


@dataclass(frozen=True)
class SigningCert:
    """The merchant's private key and certificate from its PKCS#12 (.pfx) file."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def cert_id(self) -> str:
        """`certId`: the certificate's serial number in decimal."""
        return str(self.cert.serial_number)


@lru_cache(maxsize=64)
def load_pkcs12(data: bytes, password: str) -> SigningCert:
    """Load a PKCS#12 signing certificate. Raises ValueError (bad file or password, no RSA
    key, no certificate)."""
    try:
        key, cert, _ = pkcs12.load_key_and_certificates(
            data, password.encode("utf-8") if password else None
        )
    except (ValueError, TypeError) as e:
        raise ValueError("not a PKCS#12 file, or the password is wrong") from e
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the PKCS#12 file holds no RSA private key")
    if cert is None:
        raise ValueError("the PKCS#12 file holds no certificate")
    cert_key = cert.public_key()
    if (
        not isinstance(cert_key, rsa.RSAPublicKey)
        or cert_key.public_numbers() != key.public_key().public_numbers()
    ):
        raise ValueError("the PKCS#12 certificate does not match its key")
    return SigningCert(key, cert)


def load_pkcs12_b64(data_b64: str, password: str) -> SigningCert:
    try:
        raw = base64.b64decode("".join(data_b64.split()), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError("the PKCS#12 file is not base64") from e
    return load_pkcs12(raw, password)


def export_pkcs12(cert: x509.Certificate, key: rsa.RSAPrivateKey, password: str) -> bytes:
    """A PKCS#12 file as UnionPay hands merchants (used by the sandbox and tests)."""
    return pkcs12.serialize_key_and_certificates(
        b"unionpay-sign",
        key,
        cert,
        None,
        serialization.BestAvailableEncryption(password.encode("utf-8")),
    )


# --- UnionPay's certificate -------------------------------------------------------------------


@lru_cache(maxsize=256)
def load_certificates(pem: str) -> tuple[x509.Certificate, ...]:
    """Every certificate of a PEM bundle (CRLF or LF). Raises ValueError when none."""
    try:
        certs = rsa_load_certificates(pem.replace("\r\n", "\n"))
    except (ValueError, UnicodeEncodeError) as e:
        raise ValueError("not a PEM certificate") from e
    if not certs:
        raise ValueError("not a PEM certificate")
    return tuple(certs)


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def identity(cert: x509.Certificate) -> str:
    """The owner part of a UnionPay certificate's CN (third `@`-separated part), or ""."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not cns:
        return ""
    value = cns[0].value
    parts = (value if isinstance(value, str) else value.decode("utf-8", "replace")).split("@")
    return parts[2] if len(parts) > 2 else ""


def _within_validity(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return bc.ca


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def verify_chain(
    cert: x509.Certificate,
    roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    now: datetime,
) -> None:
    """Path from `cert` through CA `intermediates` to one of `roots`, every certificate
    valid at `now`. Raises CertificateRejected."""
    if not _within_validity(cert, now):
        raise CertificateRejected("signPubKeyCert is expired or not yet valid")
    current = cert
    for _ in range(MAX_CHAIN):
        for root in roots:
            if _issued_by(current, root):
                if not _within_validity(root, now):
                    raise CertificateRejected("the UnionPay root certificate is expired")
                return
        issuer = next(
            (c for c in intermediates if c is not current and _is_ca(c) and _issued_by(current, c)),
            None,
        )
        if issuer is None:
            break
        if not _within_validity(issuer, now):
            raise CertificateRejected("the UnionPay intermediate certificate is expired")
        current = issuer
    raise CertificateRejected("signPubKeyCert does not chain to the configured UnionPay root")


def verify_sign_cert(
    cert_pem: str,
    roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    now: datetime,
) -> rsa.RSAPublicKey:
    """Check `signPubKeyCert` as the SDK does (validity, chain, CN) and return its key."""
    try:
        cert = load_certificates(cert_pem)[0]
    except ValueError as e:
        raise CertificateRejected("signPubKeyCert is not a PEM certificate") from e
    verify_chain(cert, roots, intermediates, now)
    if identity(cert) != UNIONPAY_CN_NAME:
        raise CertificateRejected("signPubKeyCert is not issued to China UnionPay (CN)")
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise CertificateRejected("signPubKeyCert holds no RSA key")
    return key


def verify_message(
    fields: Mapping[str, str],
    roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    now: datetime,
) -> None:
    """Authenticate an answer or notify from UnionPay: certificate, then signature.

    Raises CertificateRejected (certificate) or ValueError (signature, signMethod)."""
    if fields.get("signMethod", SIGN_METHOD_RSA) != SIGN_METHOD_RSA:
        raise ValueError("unsupported signMethod")
    cert_pem = fields.get(CERT_FIELD, "")
    if not cert_pem:
        raise ValueError("no signPubKeyCert")
    key = verify_sign_cert(cert_pem, roots, intermediates, now)
    if not verify_fields(key, fields):
        raise ValueError("signature does not verify")


__all__ = [
    "CERT_FIELD",
    "SIGNATURE_FIELD",
    "SIGN_METHOD_RSA",
    "UNIONPAY_CN_NAME",
    "CertificateRejected",
    "SigningCert",
    "canonical",
    "cert_pem",
    "digest_hex",
    "export_pkcs12",
    "identity",
    "load_certificates",
    "load_pkcs12",
    "load_pkcs12_b64",
    "sign_fields",
    "verify_chain",
    "verify_fields",
    "verify_message",
    "verify_sign_cert",
]
