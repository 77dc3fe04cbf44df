"""The UnionPay account model: validation, write-only secrets, JSON Schema."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import ValidationError

from paymesh.channels.sandbox.unionpay_pki import UnionpayPKI
from paymesh.channels.unionpay import sign
from paymesh.channels.unionpay.config import UnionpayAccount
from paymesh.config.registry import channel_model


@pytest.fixture(scope="module")
def pki() -> UnionpayPKI:
    return UnionpayPKI()


def _fields(pki: UnionpayPKI, password: str = "s3cret") -> dict[str, str]:  # noqa: S107
    merchant = pki.issue_merchant("777290058110048")
    p12 = sign.export_pkcs12(merchant.cert, merchant.key, password)
    return {
        "account_id": "up-1",
        "mer_id": "777290058110048",
        "sign_cert_p12": base64.b64encode(p12).decode(),
        "sign_cert_password": password,
        "root_cert_pem": pki.root_pem,
        "middle_cert_pem": pki.intermediate_pem,
    }


def test_valid_account_and_cert_id(pki: UnionpayPKI) -> None:
    fields = _fields(pki)
    account = UnionpayAccount(**fields)
    assert account.base_url == "https://gateway.95516.com"
    assert account.url("queryTrans.do") == "https://gateway.95516.com/gateway/api/queryTrans.do"
    assert account.enabled_methods == ["page", "h5", "app"]
    assert account.signing_cert().cert_id.isdigit()
    assert channel_model("unionpay") is UnionpayAccount
    # secrets are masked
    assert fields["sign_cert_password"] not in repr(account)
    assert fields["sign_cert_p12"][:40] not in repr(account)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sign_cert_password": "wrong"}, "password"),
        ({"sign_cert_p12": "bm90IGEgcGZ4"}, "PKCS#12"),
        ({"root_cert_pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"}, "PEM"),
        ({"mer_id": "12345"}, "mer_id"),
        ({"base_url": "https://gateway.95516.com/"}, "base_url"),
        ({"enabled_methods": ["qr"]}, "enabled_methods"),
    ],
)
def test_invalid_accounts_rejected(pki: UnionpayPKI, change: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        UnionpayAccount(**{**_fields(pki), **change})


def test_json_schema_marks_secrets_write_only() -> None:
    schema = UnionpayAccount.model_json_schema()
    props = schema["properties"]
    for secret in ("sign_cert_p12", "sign_cert_password"):
        assert props[secret]["writeOnly"] is True
        assert props[secret]["format"] == "password"
    assert set(UnionpayAccount.secret_fields()) == {"sign_cert_p12", "sign_cert_password"}
    assert props["root_cert_pem"]["format"] == "textarea"
    assert set(schema["required"]) >= {"mer_id", "sign_cert_p12", "root_cert_pem"}
    json.dumps(schema)
