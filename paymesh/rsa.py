"""RSA keys, certificates and SHA256withRSA signatures: the primitives every signer shares.

`build_certificate` is the one certificate builder: the sandbox's WeChat, Alipay and UnionPay
CAs and the mesh CA of `paymesh certs init` all issue through it.

WeChat Pay's v3 signatures, Alipay's RSA2, UnionPay's certificates and the merchant API's
RSA2 all build on these (each provider's `sign.py` adds only its canonical strings and
envelopes). Pure functions: no I/O, no clock. Keys may be passed as PEM, as the bare base64
DER some key tools print (no PEM armour), or as loaded `cryptography` objects; loading is
cached, so passing the same PEM text on every call is cheap.

Signatures are base64 SHA256withRSA, PKCS#1 v1.5 (Alipay calls it "RSA2").
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Iterable
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import NameOID

PemOrPrivateKey = str | bytes | rsa.RSAPrivateKey
PemOrPublicKey = str | bytes | rsa.RSAPublicKey | x509.Certificate


# What a certificate authority's key may do: sign certificates and CRLs, nothing else.
CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


# What an end-entity signing certificate's key may do (sign, and the key exchange some
# providers' SDKs expect to be allowed).
SIGNING_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=True,
    key_encipherment=True,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def x509_name(
    common_name: str,
    *,
    org: str | None = None,
    unit: str | None = None,
    country: str | None = None,
) -> x509.Name:
    """A distinguished name with the parts given, in the order C, O, OU, CN."""
    parts = [
        (NameOID.COUNTRY_NAME, country),
        (NameOID.ORGANIZATION_NAME, org),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
        (NameOID.COMMON_NAME, common_name),
    ]
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts if value])


def build_certificate(
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    signer: CertificateIssuerPrivateKeyTypes,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
    issuer: x509.Name | None = None,
    ca: bool = False,
    path_length: int | None = None,
    key_usage: x509.KeyUsage | None = None,
    extensions: Iterable[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    """A SHA-256 certificate for `public_key`, signed by `signer` on behalf of `issuer`
    (self-signed when None): critical BasicConstraints, critical `key_usage` when given,
    then `extensions` as (extension, critical) pairs."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer if issuer is not None else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True
        )
    )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signer, hashes.SHA256())


def as_bytes(value: str | bytes) -> bytes:
    """UTF-8 bytes of a str; bytes as they are."""
    return value.encode("utf-8") if isinstance(value, str) else value


def _is_pem(data: bytes) -> bool:
    return b"-----BEGIN" in data


def _der(data: bytes) -> bytes:
    try:
        return base64.b64decode(b"".join(data.split()), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError("key is neither PEM nor base64 DER") from e


@lru_cache(maxsize=256)
def _load_private(data: bytes, password: bytes | None) -> rsa.RSAPrivateKey:
    if _is_pem(data):
        key = serialization.load_pem_private_key(data, password=password)
    else:
        key = serialization.load_der_private_key(_der(data), password=password)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_private_key(pem: str | bytes, password: bytes | None = None) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM (PKCS#1 or PKCS#8) or bare base64 PKCS#8/PKCS#1 DER."""
    return _load_private(as_bytes(pem).strip(), password)


@lru_cache(maxsize=256)
def _load_public(data: bytes) -> rsa.RSAPublicKey:
    if b"CERTIFICATE" in data:
        return public_key_of(x509.load_pem_x509_certificate(data))
    if _is_pem(data):
        key = serialization.load_pem_public_key(data)
    else:
        key = serialization.load_der_public_key(_der(data))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def load_public_key(pem: str | bytes) -> rsa.RSAPublicKey:
    """An RSA public key from a PEM public key, bare base64 DER, or a PEM certificate."""
    return _load_public(as_bytes(pem).strip())


def load_certificate(pem: str | bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(as_bytes(pem))


def load_certificates(pem: str | bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle."""
    return x509.load_pem_x509_certificates(as_bytes(pem))


def public_key_of(cert: x509.Certificate) -> rsa.RSAPublicKey:
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("certificate does not hold an RSA key")
    return key


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def public_key_pem(key: rsa.RSAPublicKey | rsa.RSAPrivateKey) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        key = key.public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def private_key(key: PemOrPrivateKey) -> rsa.RSAPrivateKey:
    return key if isinstance(key, rsa.RSAPrivateKey) else load_private_key(key)


def public_key(key: PemOrPublicKey) -> rsa.RSAPublicKey:
    if isinstance(key, rsa.RSAPublicKey):
        return key
    if isinstance(key, x509.Certificate):
        return public_key_of(key)
    return load_public_key(key)


def rsa_sign(key: PemOrPrivateKey, message: str | bytes) -> str:
    """base64 SHA256withRSA, PKCS#1 v1.5."""
    sig = private_key(key).sign(as_bytes(message), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(sig).decode("ascii")


def rsa_verify(key: PemOrPublicKey, message: str | bytes, signature_b64: str) -> bool:
    """True only when `signature_b64` is a valid SHA256withRSA signature of `message`."""
    if not signature_b64:
        return False
    try:
        sig = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        public_key(key).verify(sig, as_bytes(message), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


__all__ = [
    "CA_KEY_USAGE",
    "SIGNING_KEY_USAGE",
    "PemOrPrivateKey",
    "PemOrPublicKey",
    "as_bytes",
    "build_certificate",
    "load_certificate",
    "load_certificates",
    "load_private_key",
    "load_public_key",
    "private_key",
    "private_key_pem",
    "public_key",
    "public_key_of",
    "public_key_pem",
    "rsa_sign",
    "rsa_verify",
    "x509_name",
]
