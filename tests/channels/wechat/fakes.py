"""Test support: a fake WeChat Pay platform's keys, signed responses and callbacks.

Used by the channel tests; everything generated at run time.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from paymesh.channels.transport import HttpResponse
from paymesh.channels.wechat import sign
from paymesh.channels.wechat.config import WechatAccount


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def self_signed_certificate(
    key: rsa.RSAPrivateKey, serial: int, now: datetime, days: int = 365
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA test")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


@dataclass
class FakePlatform:
    """A platform signing identity: a key plus either a public key id or a certificate."""

    key: rsa.RSAPrivateKey = field(default_factory=new_rsa_key)
    serial: str = "PUB_KEY_ID_0114232134912410000000000000"
    certificate: x509.Certificate | None = None
    api_v3_key: str = field(default_factory=lambda: secrets.token_hex(16))

    @classmethod
    def with_certificate(cls, now: datetime, api_v3_key: str | None = None) -> FakePlatform:
        key = new_rsa_key()
        cert = self_signed_certificate(key, secrets.randbits(100) | (1 << 100), now)
        return cls(
            key=key,
            serial=sign.certificate_serial(cert),
            certificate=cert,
            api_v3_key=api_v3_key or secrets.token_hex(16),
        )

    @property
    def public_key_pem(self) -> str:
        return sign.public_key_pem(self.key)

    def signed_headers(
        self, body: bytes, now: datetime, *, nonce: str = "", serial: str = ""
    ) -> dict[str, str]:
        ts = str(int(now.timestamp()))
        nonce = nonce or secrets.token_hex(16)
        signature = sign.rsa_sign(self.key, sign.response_message(ts, nonce, body))
        return {
            "wechatpay-timestamp": ts,
            "wechatpay-nonce": nonce,
            "wechatpay-signature": signature,
            "wechatpay-serial": serial or self.serial,
            "wechatpay-signature-type": sign.SCHEME,
            "request-id": secrets.token_hex(8),
        }

    def response(
        self, status: int, data: Mapping[str, Any] | None, now: datetime, **kw: str
    ) -> HttpResponse:
        body = b"" if data is None else json.dumps(data, ensure_ascii=False).encode()
        headers = {"content-type": "application/json", **self.signed_headers(body, now, **kw)}
        return HttpResponse(status=status, headers=headers, body=body)

    def encrypt_resource(
        self, plain: Mapping[str, Any], original_type: str, associated_data: str = ""
    ) -> dict[str, str]:
        nonce = secrets.token_hex(6)
        return {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": sign.aes_gcm_encrypt(
                self.api_v3_key, nonce, associated_data, json.dumps(plain, ensure_ascii=False)
            ),
            "associated_data": associated_data,
            "nonce": nonce,
        }

    def callback(
        self, event_type: str, resource: Mapping[str, Any], original_type: str, now: datetime
    ) -> tuple[dict[str, str], bytes]:
        """Headers (lowercase) and body of a signed callback."""
        envelope = {
            "id": "EV-" + secrets.token_hex(8),
            "create_time": now.astimezone(UTC).isoformat(),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功",
            "resource": self.encrypt_resource(
                resource, original_type, associated_data=original_type
            ),
        }
        body = json.dumps(envelope, ensure_ascii=False).encode()
        headers = {"content-type": "application/json", **self.signed_headers(body, now)}
        return headers, body

    def certificates_body(self, now: datetime) -> dict[str, Any]:
        """A `/v3/certificates` answer carrying this platform's certificate."""
        assert self.certificate is not None
        nonce = secrets.token_hex(6)
        return {
            "data": [
                {
                    "serial_no": self.serial,
                    "effective_time": (now - timedelta(days=1)).isoformat(),
                    "expire_time": (now + timedelta(days=365)).isoformat(),
                    "encrypt_certificate": {
                        "algorithm": "AEAD_AES_256_GCM",
                        "nonce": nonce,
                        "associated_data": "certificate",
                        "ciphertext": sign.aes_gcm_encrypt(
                            self.api_v3_key, nonce, "certificate", cert_pem(self.certificate)
                        ),
                    },
                }
            ]
        }


def make_account(
    platform: FakePlatform,
    merchant_key: rsa.RSAPrivateKey,
    *,
    mode: str = "public_key",
    base_url: str = "https://api.mch.weixin.qq.com",
    **overrides: Any,
) -> WechatAccount:
    """A WechatAccount trusting `platform` in `mode`: public_key, certificates or download."""
    fields: dict[str, Any] = {
        "account_id": "wx-test",
        "base_url": base_url,
        "mchid": "1900000109",
        "appid": "wxd678efh567hg6787",
        "merchant_serial_no": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        "private_key_pem": sign.private_key_pem(merchant_key),
        "api_v3_key": platform.api_v3_key,
        "notify_url": "https://paymesh.example/v1/callbacks/wechat/wx-test",
    }
    if mode == "public_key":
        fields["platform_public_key_id"] = platform.serial
        fields["platform_public_key_pem"] = platform.public_key_pem
    elif mode == "certificates":
        assert platform.certificate is not None
        fields["platform_certificates"] = [cert_pem(platform.certificate)]
    elif mode == "download":
        fields["download_certificates"] = True
    else:
        raise ValueError(mode)
    fields.update(overrides)
    return WechatAccount(**fields)


__all__ = ["FakePlatform", "cert_pem", "make_account", "new_rsa_key", "self_signed_certificate"]
