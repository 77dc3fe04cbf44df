"""WechatAccount: validation, JSON Schema, registry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from paymesh.channels.wechat import sign
from paymesh.channels.wechat.config import WechatAccount
from paymesh.config import registry
from tests.channels.wechat.fakes import FakePlatform, cert_pem, make_account, new_rsa_key

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
KEY = new_rsa_key()
PLATFORM = FakePlatform.with_certificate(NOW)


def base_fields(**kw: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "account_id": "wx1",
        "mchid": "1900000109",
        "appid": "wxd678efh567hg6787",
        "merchant_serial_no": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        "private_key_pem": sign.private_key_pem(KEY),
        "api_v3_key": "a" * 32,
        "download_certificates": True,
    }
    fields.update(kw)
    return fields


def test_modes() -> None:
    for platform, mode in (
        (FakePlatform(), "public_key"),
        (PLATFORM, "certificates"),
        (PLATFORM, "download"),
    ):
        acct = make_account(platform, KEY, mode=mode)
        assert acct.channel == "wechat"
        assert acct.base_url == "https://api.mch.weixin.qq.com"
        assert acct.enabled_methods == ["qr", "h5", "app", "jsapi"]


@pytest.mark.parametrize(
    "changes",
    [
        {"api_v3_key": "short"},
        {"private_key_pem": "-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----"},
        {"download_certificates": False},  # no platform key at all
        {"platform_public_key_id": "PUB_KEY_ID_1"},  # id without key
        {"platform_public_key_id": "NOT_A_KEY_ID", "platform_public_key_pem": "x"},
        {"platform_certificates": ["garbage"]},
        {"enabled_methods": ["barcode"]},
        {"mchid": "abc"},
        {"unknown_field": 1},
    ],
)
def test_invalid(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        WechatAccount(**base_fields(**changes))


def test_certificate_mode_accepts_pem() -> None:
    assert PLATFORM.certificate is not None
    acct = WechatAccount(
        **base_fields(
            download_certificates=False, platform_certificates=[cert_pem(PLATFORM.certificate)]
        )
    )
    assert acct.platform_certificates


def test_secrets_masked_and_write_only() -> None:
    acct = WechatAccount(**base_fields())
    text = repr(acct) + str(acct.model_dump())
    assert "PRIVATE KEY" not in text
    assert "a" * 32 not in text
    schema = WechatAccount.model_json_schema()
    props = schema["properties"]
    for name in ("private_key_pem", "api_v3_key", "mp_app_secret"):
        assert props[name]["writeOnly"] is True
        assert props[name]["format"] == "password"
    assert set(WechatAccount.secret_fields()) == {"private_key_pem", "api_v3_key", "mp_app_secret"}
    for name, prop in props.items():
        assert prop.get("title"), name
    assert props["mchid"]["description"]


def test_registered_with_config_registry() -> None:
    assert registry.channel_model("wechat") is WechatAccount
