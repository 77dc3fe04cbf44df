"""WeChat Pay API v3 signing primitives, shared by the channel and the sandbox.

Pure functions: no I/O, no clock. Keys may be passed as PEM (str/bytes) or as loaded
`cryptography` key objects.

- Request signature: base64 SHA256withRSA (PKCS#1 v1.5) over
  `METHOD\\nPATH_WITH_QUERY\\ntimestamp\\nnonce\\nbody\\n`.
- Response/callback signature: the same algorithm over `timestamp\\nnonce\\nbody\\n`,
  made with the platform key named by `Wechatpay-Serial`.
- Resource encryption: AEAD_AES_256_GCM with the 32-byte APIv3 key; the base64 ciphertext
  carries the 16-byte tag at its end.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from paymesh.rsa import (
    as_bytes,
    load_certificate,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_of,
    public_key_pem,
    rsa_sign,
    rsa_verify,
)

SCHEME: Final = "WECHATPAY2-SHA256-RSA2048"
"""Authorization scheme and the value of `Wechatpay-Signature-Type`."""

PUBLIC_KEY_ID_PREFIX: Final = "PUB_KEY_ID_"
"""Serials of WeChat's platform public keys (newer mode) start with this."""


class DecryptError(ValueError):
    """AES-GCM authentication failed (wrong key, nonce, associated data or tampered data)."""


def build_message(*parts: str | bytes) -> bytes:
    """Each part followed by `\\n`, as UTF-8 bytes (bytes parts are used as is)."""
    return b"".join(as_bytes(p) + b"\n" for p in parts)


def request_message(
    method: str, path_with_query: str, timestamp: str | int, nonce: str, body: str | bytes
) -> bytes:
    """The string a merchant signs for a request (body empty for GET; exact bytes sent)."""
    return build_message(method.upper(), path_with_query, str(timestamp), nonce, body)


def response_message(timestamp: str | int, nonce: str, body: str | bytes) -> bytes:
    """The string the platform signs for a response or a callback (exact body bytes)."""
    return build_message(str(timestamp), nonce, body)


# --- keys and certificates: the shared primitives of `paymesh.rsa` -----------------------


def certificate_serial(cert: x509.Certificate | str | bytes) -> str:
    """A certificate's serial number as uppercase hex, as WeChat names certificates."""
    if not isinstance(cert, x509.Certificate):
        cert = load_certificate(cert)
    return format(cert.serial_number, "X")


# --- Authorization header --------------------------------------------------------------


def authorization_header(
    mchid: str, serial_no: str, nonce: str, timestamp: str | int, signature: str
) -> str:
    return (
        f'{SCHEME} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


_AUTH_PARAM = re.compile(r'\s*([A-Za-z_]+)\s*=\s*"([^"]*)"\s*(?:,|$)')


def parse_authorization(header: str) -> dict[str, str]:
    """Parse an Authorization header into `{"scheme", "mchid", "nonce_str", ...}`.

    Raises ValueError when the scheme is not WECHATPAY2-SHA256-RSA2048 or a parameter is
    malformed. Does not check that all parameters are present (callers do).
    """
    scheme, _, rest = header.strip().partition(" ")
    if scheme != SCHEME:
        raise ValueError("unsupported authorization scheme")
    out: dict[str, str] = {"scheme": scheme}
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        m = _AUTH_PARAM.match(rest, pos)
        if m is None:
            raise ValueError("malformed authorization parameters")
        out[m.group(1)] = m.group(2)
        pos = m.end()
    return out


# --- AES-256-GCM ----------------------------------------------------------------------


def _aes_key(api_v3_key: str | bytes) -> bytes:
    key = as_bytes(api_v3_key)
    if len(key) != 32:
        raise ValueError("APIv3 key must be 32 bytes")
    return key


def aes_gcm_decrypt(
    api_v3_key: str | bytes, nonce: str, associated_data: str, ciphertext_b64: str
) -> bytes:
    """Decrypt a callback/certificate resource. Raises DecryptError if it does not authenticate."""
    try:
        data = base64.b64decode(ciphertext_b64, validate=True)
    except (binascii.Error, ValueError) as e:
        raise DecryptError("ciphertext is not base64") from e
    try:
        return AESGCM(_aes_key(api_v3_key)).decrypt(
            as_bytes(nonce), data, as_bytes(associated_data) if associated_data else None
        )
    except InvalidTag as e:
        raise DecryptError("AES-GCM authentication failed") from e


def aes_gcm_encrypt(
    api_v3_key: str | bytes, nonce: str, associated_data: str, plaintext: str | bytes
) -> str:
    """Encrypt as WeChat does: base64(ciphertext || 16-byte tag)."""
    data = AESGCM(_aes_key(api_v3_key)).encrypt(
        as_bytes(nonce), as_bytes(plaintext), as_bytes(associated_data) if associated_data else None
    )
    return base64.b64encode(data).decode("ascii")


__all__ = [
    "PUBLIC_KEY_ID_PREFIX",
    "SCHEME",
    "DecryptError",
    "aes_gcm_decrypt",
    "aes_gcm_encrypt",
    "authorization_header",
    "build_message",
    "certificate_serial",
    "load_certificate",
    "load_private_key",
    "load_public_key",
    "parse_authorization",
    "private_key_pem",
    "public_key_of",
    "public_key_pem",
    "request_message",
    "response_message",
    "rsa_sign",
    "rsa_verify",
]
