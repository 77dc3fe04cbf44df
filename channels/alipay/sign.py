"""Alipay OpenAPI signing primitives, shared by the channel and the sandbox.

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

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography import x509

from paymesh.rsa import (
    PemOrPrivateKey,
    PemOrPublicKey,
    load_certificates,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_of,
    public_key_pem,
    rsa_sign,
    rsa_verify,
)

SIGN_TYPE: Final = "RSA2"

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


# --- canonical strings ---------------------------------------------------------------------


def canonical(params: Mapping[str, str], exclude: frozenset[str] = frozenset({"sign"})) -> str:
    """Sorted `k=v&k=v` of the non-empty parameters not in `exclude`."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in exclude and params[k])


NOTIFY_EXCLUDE: Final = frozenset({"sign", "sign_type"})


def notify_canonical(params: Mapping[str, str]) -> str:
    """What Alipay signs in an async notify: all but `sign` and `sign_type`."""
    return canonical(params, NOTIFY_EXCLUDE)


# --- keys and certificates: the shared primitives of `paymesh.rsa` -------------------------


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


# --- RSA2 ---------------------------------------------------------------------------------


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
