"""Alipay OpenAPI signing primitives (DESIGN §4), shared by the channel and the sandbox.

Pure functions: no I/O, no clock. Keys may be passed as PEM, as the bare base64 Alipay's
key tool prints (no PEM armour), or as loaded `cryptography` key objects.

- Request: canonical string = parameters except `sign` whose value is not empty, sorted by
  name, `k=v` joined with `&` (values raw, not URL-encoded); `sign` = base64 SHA256withRSA
  (PKCS#1 v1.5, "RSA2") with the app private key.
- Async notify: the same canonical string over all parameters except `sign` and
  `sign_type`, verified with the Alipay public key.
- Response: `{"<method>_response": {...}, "sign": "..."}` (or `error_response`); the
  signature covers the EXACT raw bytes of the response object as received, so the object
  is cut out of the body, never re-serialised.
- Certificate mode: `app_cert_sn` / `alipay_root_cert_sn` = md5 hex of the issuer DN
  (RFC 2253 form, as Java's `getIssuerX500Principal().getName()`) + the decimal serial;
  the root SN joins, with `_`, the SNs of the RSA-signed certificates of the root bundle.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SIGN_TYPE: Final = "RSA2"

PemOrPrivateKey = str | bytes | rsa.RSAPrivateKey
PemOrPublicKey = str | bytes | rsa.RSAPublicKey | x509.Certificate

# Signature algorithms of RSA-signed certificates (the root bundle also holds SM2 ones).
RSA_SIGNATURE_OIDS: Final = frozenset(
    {
        "1.2.840.113549.1.1.4",  # md5WithRSAEncryption
        "1.2.840.113549.1.1.5",  # sha1WithRSAEncryption
        "1.2.840.113549.1.1.11",  # sha256WithRSAEncryption
        "1.2.840.113549.1.1.12",  # sha384WithRSAEncryption
        "1.2.840.113549.1.1.13",  # sha512WithRSAEncryption
        "1.2.840.113549.1.1.14",  # sha224WithRSAEncryption
    }
)


def _b(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


# --- canonical strings ---------------------------------------------------------------------


def canonical(params: Mapping[str, str], exclude: frozenset[str] = frozenset({"sign"})) -> str:
    """Sorted `k=v&k=v` of the non-empty parameters not in `exclude`."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in exclude and params[k])


NOTIFY_EXCLUDE: Final = frozenset({"sign", "sign_type"})


def notify_canonical(params: Mapping[str, str]) -> str:
    """What Alipay signs in an async notify: all but `sign` and `sign_type`."""
    return canonical(params, NOTIFY_EXCLUDE)


# --- keys and certificates -----------------------------------------------------------------


def _is_pem(data: bytes) -> bool:
    return b"-----BEGIN" in data


def _der(data: bytes) -> bytes:
    try:
        return base64.b64decode(b"".join(data.split()), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError("key is neither PEM nor base64 DER") from e


@lru_cache(maxsize=64)
def _load_private(data: bytes) -> rsa.RSAPrivateKey:
    if _is_pem(data):
        key = serialization.load_pem_private_key(data, password=None)
    else:
        key = serialization.load_der_private_key(_der(data), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_private_key(pem: str | bytes) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM (PKCS#1 or PKCS#8) or bare base64 PKCS#8/PKCS#1 DER."""
    return _load_private(_b(pem).strip())


@lru_cache(maxsize=64)
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
    return _load_public(_b(pem).strip())


def public_key_of(cert: x509.Certificate) -> rsa.RSAPublicKey:
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("certificate does not hold an RSA key")
    return key


def load_certificates(pem: str | bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle (Alipay's root file holds several)."""
    return x509.load_pem_x509_certificates(_b(pem))


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


def cert_sn(cert: x509.Certificate | str | bytes) -> str:
    """Alipay's certificate SN: md5 hex of issuer DN (RFC 2253) + decimal serial."""
    if not isinstance(cert, x509.Certificate):
        cert = load_certificates(cert)[0]
    issuer = cert.issuer.rfc4514_string()
    return hashlib.md5(  # noqa: S324 - Alipay's identifier, not a security hash
        (issuer + str(cert.serial_number)).encode("utf-8")
    ).hexdigest()


def root_cert_sn(bundle_pem: str | bytes) -> str:
    """`alipay_root_cert_sn`: the SNs of the bundle's RSA-signed certificates, joined by `_`."""
    sns = [
        cert_sn(c)
        for c in load_certificates(bundle_pem)
        if c.signature_algorithm_oid.dotted_string in RSA_SIGNATURE_OIDS
    ]
    if not sns:
        raise ValueError("no RSA-signed certificate in the root bundle")
    return "_".join(sns)


def _private(key: PemOrPrivateKey) -> rsa.RSAPrivateKey:
    return key if isinstance(key, rsa.RSAPrivateKey) else load_private_key(key)


def _public(key: PemOrPublicKey) -> rsa.RSAPublicKey:
    if isinstance(key, rsa.RSAPublicKey):
        return key
    if isinstance(key, x509.Certificate):
        return public_key_of(key)
    return load_public_key(key)


# --- RSA2 ---------------------------------------------------------------------------------


def rsa_sign(private_key: PemOrPrivateKey, message: str | bytes) -> str:
    """base64 SHA256withRSA, PKCS#1 v1.5 (Alipay's RSA2)."""
    sig = _private(private_key).sign(_b(message), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(sig).decode("ascii")


def rsa_verify(public_key: PemOrPublicKey, message: str | bytes, signature_b64: str) -> bool:
    """True only when `signature_b64` is a valid RSA2 signature of `message`."""
    if not signature_b64:
        return False
    try:
        sig = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        _public(public_key).verify(sig, _b(message), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def sign_params(private_key: PemOrPrivateKey, params: Mapping[str, str]) -> str:
    """The `sign` of a request's parameters."""
    return rsa_sign(private_key, canonical(params))


def verify_params(public_key: PemOrPublicKey, params: Mapping[str, str]) -> bool:
    """Verify a request's `sign` (what Alipay, or the sandbox, does)."""
    return rsa_verify(public_key, canonical(params), params.get("sign", ""))


def verify_notify(public_key: PemOrPublicKey, params: Mapping[str, str]) -> bool:
    """Verify an async notify's `sign` (all parameters but `sign` and `sign_type`)."""
    return rsa_verify(public_key, notify_canonical(params), params.get("sign", ""))


# --- responses ------------------------------------------------------------------------------


def response_key(method: str) -> str:
    """`alipay.trade.query` -> `alipay_trade_query_response`."""
    return method.replace(".", "_") + "_response"


ERROR_RESPONSE_KEY: Final = "error_response"

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class RawMember:
    """One top-level member of a JSON object: its parsed value and its exact source text."""

    value: Any
    raw: str


def top_level_members(text: str) -> dict[str, RawMember]:
    """The members of the top-level JSON object in `text`, each with its raw source slice.

    Raises ValueError when `text` is not one JSON object.
    """
    pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
    if text[pos : pos + 1] != "{":
        raise ValueError("not a JSON object")
    pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
    out: dict[str, RawMember] = {}
    if text[pos : pos + 1] == "}":
        end = pos + 1
    else:
        while True:
            if text[pos : pos + 1] != '"':
                raise ValueError("expected a member name")
            name, pos = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
            pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
            if text[pos : pos + 1] != ":":
                raise ValueError("expected ':'")
            start = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
            value, pos = _DECODER.raw_decode(text, start)
            if name in out:
                raise ValueError(f"duplicate member {name!r}")
            out[name] = RawMember(value, text[start:pos])
            pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
            sep = text[pos : pos + 1]
            if sep == "}":
                end = pos + 1
                break
            if sep != ",":
                raise ValueError("expected ',' or '}'")
            pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
    if text[_WS.match(text, end).end() :]:  # type: ignore[union-attr]
        raise ValueError("trailing data after the JSON object")
    return out


@dataclass(frozen=True, slots=True)
class SignedResponse:
    """A response object cut out of the body: `key` names which one (method or error)."""

    key: str
    content: Mapping[str, Any]
    raw: bytes
    sign: str
    cert_sn: str


def split_response(body: bytes, method: str) -> SignedResponse:
    """Cut `<method>_response` (or `error_response`) and `sign` out of a response body.

    Raises ValueError when the body is not JSON or holds neither object.
    """
    text = body.decode("utf-8")
    members = top_level_members(text)
    for key in (response_key(method), ERROR_RESPONSE_KEY):
        member = members.get(key)
        if member is not None:
            break
    else:
        raise ValueError("no response object")
    if not isinstance(member.value, dict):
        raise ValueError("the response member is not an object")
    sign = members.get("sign")
    sn = members.get("alipay_cert_sn")
    return SignedResponse(
        key=key,
        content=member.value,
        raw=member.raw.encode("utf-8"),
        sign=sign.value if sign is not None and isinstance(sign.value, str) else "",
        cert_sn=sn.value if sn is not None and isinstance(sn.value, str) else "",
    )


def verify_response(public_key: PemOrPublicKey, response: SignedResponse) -> bool:
    """True when the response object's exact bytes carry a valid Alipay signature."""
    return rsa_verify(public_key, response.raw, response.sign)


def sign_response(
    private_key: PemOrPrivateKey, method: str, content_json: str, *, error: bool = False
) -> bytes:
    """A signed response body as Alipay writes it (for the sandbox and tests):
    `{"<key>":<content_json>,"sign":"..."}` with `content_json` kept byte for byte."""
    key = ERROR_RESPONSE_KEY if error else response_key(method)
    signature = rsa_sign(private_key, content_json)
    return ('{"' + key + '":' + content_json + ',"sign":"' + signature + '"}').encode("utf-8")


__all__ = [
    "ERROR_RESPONSE_KEY",
    "SIGN_TYPE",
    "RawMember",
    "SignedResponse",
    "canonical",
    "cert_sn",
    "load_certificates",
    "load_private_key",
    "load_public_key",
    "notify_canonical",
    "private_key_pem",
    "public_key_of",
    "public_key_pem",
    "response_key",
    "root_cert_sn",
    "rsa_sign",
    "rsa_verify",
    "sign_params",
    "sign_response",
    "split_response",
    "top_level_members",
    "verify_notify",
    "verify_params",
    "verify_response",
]
