"""AlipayAccount: modes, validation, JSON Schema, registry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from paymesh.channels.alipay import sign
from paymesh.channels.alipay.config import AlipayAccount
from paymesh.config import registry
from tests.channels.alipay.fakes import FakeAlipay, cert_pem, make_account, new_rsa_key

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
KEY = new_rsa_key()
ALIPAY = FakeAlipay()
CERTS = ALIPAY.certificates(KEY, NOW)


def test_public_key_mode() -> None:
    acct = make_account(ALIPAY, KEY)
    assert acct.channel == "alipay"
    assert acct.base_url == "https://openapi.alipay.com/gateway.do"
    assert acct.enabled_methods == ["qr", "page", "h5", "app", "barcode", "jsapi"]
    assert acct.sign_type == "RSA2"
    assert acct.app_cert_sn == ""
    assert acct.alipay_root_cert_sn == ""
    assert acct.alipay_public_key().public_numbers() == ALIPAY.key.public_key().public_numbers()


def test_certificate_mode_computes_sns() -> None:
    acct = make_account(ALIPAY, KEY, mode="certificate", certs=CERTS)
    assert acct.app_cert_sn == sign.cert_sn(CERTS.app_cert)
    assert acct.alipay_root_cert_sn == sign.cert_sn(CERTS.rsa_root)
    assert acct.alipay_public_key().public_numbers() == ALIPAY.key.public_key().public_numbers()


def fields(**kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "account_id": "ali1",
        "app_id": "2021000000000001",
        "private_key_pem": sign.private_key_pem(KEY),
        "alipay_public_key_pem": ALIPAY.public_key_pem,
    }
    out.update(kw)
    return out


@pytest.mark.parametrize(
    "changes",
    [
        {"private_key_pem": "nope"},
        {"alipay_public_key_pem": "nope"},
        {"alipay_public_key_pem": ""},
        {"app_id": "abc"},
        {"sign_type": "RSA"},
        {"base_url": "ftp://x"},
        {"enabled_methods": ["micropay"]},
        {"mode": "certificate"},
        {"mode": "certificate", "app_cert_pem": cert_pem(CERTS.app_cert)},
        {
            "mode": "certificate",
            "app_cert_pem": cert_pem(CERTS.alipay_cert),  # certifies another key
            "alipay_public_cert_pem": cert_pem(CERTS.alipay_cert),
            "alipay_root_cert_pem": CERTS.root_bundle_pem,
        },
        {
            "mode": "certificate",
            "app_cert_pem": cert_pem(CERTS.app_cert),
            "alipay_public_cert_pem": cert_pem(CERTS.alipay_cert),
            "alipay_root_cert_pem": cert_pem(CERTS.other_root),  # no RSA root
        },
        {"unknown": 1},
    ],
)
def test_invalid(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        AlipayAccount(**fields(**changes))


def test_secret_is_masked_and_write_only() -> None:
    acct = AlipayAccount(**fields())
    assert "PRIVATE" not in repr(acct)
    assert AlipayAccount.secret_fields() == ["private_key_pem"]
    schema = AlipayAccount.model_json_schema()
    prop = schema["properties"]["private_key_pem"]
    assert prop["writeOnly"] is True
    assert prop["format"] == "password"
    assert "private_key_pem" in schema["required"]


def test_registered() -> None:
    assert registry.channel_model("alipay") is AlipayAccount
    assert "alipay" in registry.schemas()
