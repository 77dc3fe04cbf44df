"""sign.py primitives, cross-checked against the independent `wechatpayv3` package."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from wechatpayv3 import utils as wx_utils
from wechatpayv3.core import Core

from paymesh.channels.wechat import sign
from tests.channels.wechat.fakes import FakePlatform, new_rsa_key

MERCHANT_KEY = new_rsa_key()
MCHID = "1900000109"
SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)


def test_messages() -> None:
    assert sign.build_message("a", "b", "") == b"a\nb\n\n"
    assert sign.request_message("get", "/v3/x?a=1", 1700000000, "N", "") == (
        b"GET\n/v3/x?a=1\n1700000000\nN\n\n"
    )
    assert sign.response_message("1", "n", b'{"a":1}') == b'1\nn\n{"a":1}\n'


def test_sign_verify_roundtrip_and_tamper() -> None:
    msg = sign.request_message("POST", "/v3/pay/transactions/native", "1", "n", '{"a":1}')
    sig = sign.rsa_sign(sign.private_key_pem(MERCHANT_KEY), msg)
    assert sign.rsa_verify(sign.public_key_pem(MERCHANT_KEY), msg, sig)
    assert sign.rsa_verify(MERCHANT_KEY.public_key(), msg, sig)
    assert not sign.rsa_verify(MERCHANT_KEY.public_key(), msg.replace(b"1}", b"2}"), sig)
    assert not sign.rsa_verify(new_rsa_key().public_key(), msg, sig)
    assert not sign.rsa_verify(MERCHANT_KEY.public_key(), msg, "not base64!!")
    assert not sign.rsa_verify(MERCHANT_KEY.public_key(), msg, "WECHATPAY/SIGNTEST/abc")


def test_authorization_header_roundtrip() -> None:
    header = sign.authorization_header(MCHID, SERIAL, "NONCE", 1700000000, "c2ln/+=")
    assert header.startswith('WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="NONCE"')
    assert sign.parse_authorization(header) == {
        "scheme": sign.SCHEME,
        "mchid": MCHID,
        "nonce_str": "NONCE",
        "signature": "c2ln/+=",
        "timestamp": "1700000000",
        "serial_no": SERIAL,
    }
    with pytest.raises(ValueError, match="scheme"):
        sign.parse_authorization('Bearer mchid="1"')
    with pytest.raises(ValueError, match="malformed"):
        sign.parse_authorization("WECHATPAY2-SHA256-RSA2048 mchid=1900000109")


def test_aes_gcm_roundtrip_and_failures() -> None:
    key = "0123456789abcdef0123456789abcdef"
    ct = sign.aes_gcm_encrypt(key, "abcdefabcdef", "transaction", '{"x":"支付"}')
    assert len(base64.b64decode(ct)) == len('{"x":"支付"}'.encode()) + 16  # tag appended
    assert sign.aes_gcm_decrypt(key.encode(), "abcdefabcdef", "transaction", ct) == (
        '{"x":"支付"}'.encode()
    )
    with pytest.raises(sign.DecryptError):
        sign.aes_gcm_decrypt(key, "abcdefabcdef", "refund", ct)  # wrong associated data
    with pytest.raises(sign.DecryptError):
        sign.aes_gcm_decrypt("f" * 32, "abcdefabcdef", "transaction", ct)
    with pytest.raises(ValueError, match="32 bytes"):
        sign.aes_gcm_encrypt("short", "n", "", "x")


def test_certificate_serial_is_uppercase_hex() -> None:
    platform = FakePlatform.with_certificate(NOW)
    assert platform.certificate is not None
    serial = sign.certificate_serial(platform.certificate)
    assert serial == format(platform.certificate.serial_number, "X")
    assert serial == serial.upper()
    from tests.channels.wechat.fakes import cert_pem

    assert sign.certificate_serial(cert_pem(platform.certificate)) == serial
    assert isinstance(
        sign.load_public_key(cert_pem(platform.certificate)), type(platform.key.public_key())
    )


# --- cross-checks with wechatpayv3 -----------------------------------------------------


def test_our_request_signature_equals_wechatpayv3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 1700000000.0)
    body = {"mchid": MCHID, "out_trade_no": "T1", "amount": {"total": 1}}
    theirs = wx_utils.build_authorization(
        "/v3/pay/transactions/native",
        "POST",
        MCHID,
        SERIAL,
        wx_utils.load_private_key(sign.private_key_pem(MERCHANT_KEY)),
        data=body,
        nonce_str="NONCE123",
    )
    msg = sign.request_message(
        "POST", "/v3/pay/transactions/native", 1700000000, "NONCE123", json.dumps(body)
    )
    ours = sign.authorization_header(
        MCHID, SERIAL, "NONCE123", 1700000000, sign.rsa_sign(MERCHANT_KEY, msg)
    )
    assert ours == theirs  # PKCS#1 v1.5 is deterministic: byte-identical headers
    parsed = sign.parse_authorization(theirs)
    assert sign.rsa_verify(MERCHANT_KEY.public_key(), msg, parsed["signature"])


def test_wechatpayv3_verifies_what_we_sign_and_we_verify_what_it_signs() -> None:
    platform = FakePlatform()
    body = '{"code_url":"weixin://wxpay/bizpayurl?pr=abc"}'
    ours = sign.rsa_sign(platform.key, sign.response_message("1700000000", "n1", body))
    pub = wx_utils.load_public_key(platform.public_key_pem)
    assert wx_utils.rsa_verify("1700000000", "n1", body, ours, pub)
    assert not wx_utils.rsa_verify("1700000001", "n1", body, ours, pub)

    theirs = wx_utils.rsa_sign(platform.key, "1700000000\nn1\n" + body + "\n")
    assert sign.rsa_verify(
        platform.key.public_key(), sign.response_message(1700000000, "n1", body), theirs
    )


def test_wechatpayv3_core_accepts_our_signed_callback() -> None:
    platform = FakePlatform()
    resource = {"mchid": MCHID, "out_trade_no": "T1", "trade_state": "SUCCESS"}
    headers, body = platform.callback("TRANSACTION.SUCCESS", resource, "transaction", NOW)
    core = Core(
        MCHID,
        SERIAL,
        sign.private_key_pem(MERCHANT_KEY),
        platform.api_v3_key,
        public_key=platform.public_key_pem,
        public_key_id=platform.serial,
    )
    result = core.callback(headers, body)
    assert result is not None
    assert result["resource"] == resource
    assert result["event_type"] == "TRANSACTION.SUCCESS"
    # and a tampered body is refused by it, as by us
    assert core.callback(headers, body.replace(b"TRANSACTION", b"TRANSACTIOM")) is None


def test_we_decrypt_independent_aes_gcm_and_they_decrypt_ours() -> None:
    key = "0123456789abcdef0123456789abcdef"
    theirs = base64.b64encode(
        AESGCM(key.encode()).encrypt(b"nonce1234567", b'{"a":"b"}', b"certificate")
    ).decode()
    assert sign.aes_gcm_decrypt(key, "nonce1234567", "certificate", theirs) == b'{"a":"b"}'
    ours = sign.aes_gcm_encrypt(key, "nonce1234567", "certificate", '{"a":"b"}')
    assert ours == theirs  # same key, nonce, AAD: same bytes
    assert wx_utils.aes_decrypt("nonce1234567", ours, "certificate", key) == '{"a":"b"}'
    # empty associated data: both sides treat it as no AAD
    ours_empty = sign.aes_gcm_encrypt(key, "nonce1234567", "", "x")
    assert wx_utils.aes_decrypt("nonce1234567", ours_empty, "", key) == "x"


def test_client_pay_sign_matches_wechatpayv3_sign() -> None:
    platform = FakePlatform()
    core = Core(
        MCHID,
        SERIAL,
        sign.private_key_pem(MERCHANT_KEY),
        platform.api_v3_key,
        public_key=platform.public_key_pem,
        public_key_id=platform.serial,
    )
    parts = [
        "wxd678efh567hg6787",
        "1700000000",
        "NONCE",
        "prepay_id=wx201410272009395522657a690389285100",
    ]
    assert core.sign(parts) == sign.rsa_sign(MERCHANT_KEY, sign.build_message(*parts))
