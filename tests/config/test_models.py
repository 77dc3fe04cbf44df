"""Config models: validation, JSON Schema for the ops console, secrets never shown."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import SecretStr, ValidationError

from paymesh.config import keys
from paymesh.config.apps import DEFAULT_RETRY_DELAYS, AppConfig, NotifyConfig, SignType
from paymesh.config.models import ChannelAccountBase
from paymesh.config.registry import channel_model, document_schemas, register_channel, schemas
from paymesh.config.repository import config_invalid, public_view
from paymesh.errors import ConfigNotFound

from .conftest import DemoAccount


def _pem(key: Any) -> str:
    pem: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode()


RSA_PEM = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _app(**kw: Any) -> AppConfig:
    base: dict[str, Any] = {
        "app_id": "app1",
        "name": "Shop",
        "sign_type": "HMAC-SHA256",
        "secret": "merchant-secret-0123456789abcd-1234",
    }
    return AppConfig.model_validate(base | kw)


def test_app_defaults_and_routes() -> None:
    app = _app(routes={"qr": {"channel": "wechat", "account_id": "m1"}})
    assert app.enabled
    assert app.sign_type is SignType.HMAC_SHA256
    assert app.routes["qr"].channel == "wechat"
    assert not app.allow_private_notify_urls
    assert app.retry_delays(NotifyConfig()) == list(DEFAULT_RETRY_DELAYS)
    assert _app(notify_retry_delays=[1, 2]).retry_delays(NotifyConfig()) == [1, 2]


def test_default_retry_schedule_matches_design() -> None:
    # 15s 15s 30s 3m 10m 20m 30m 30m 30m 60m 3h 3h 3h 6h 6h (about 24 h)
    d = NotifyConfig().retry_delays
    assert d[:4] == [15, 15, 30, 180]
    assert len(d) == 15
    assert 23 * 3600 < sum(d) < 26 * 3600
    assert NotifyConfig().attempt_timeout_seconds > 0


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"secret": None}, "secret"),
        ({"sign_type": "MD5", "secret": None}, "secret"),
        ({"sign_type": "RSA2", "secret": None}, "public_key_pem"),
        ({"sign_type": "SM3"}, "sign_type"),
        ({"app_id": "bad id!"}, "app_id"),
        ({"routes": {"teleport": {"channel": "wechat", "account_id": "m1"}}}, "routes"),
        ({"routes": {"qr": {"channel": "wechat"}}}, "routes.qr.account_id"),
        ({"notify_url": "ftp://x"}, "notify_url"),
        ({"notify_retry_delays": [-1]}, "notify_retry_delays.0"),
        ({"public_key_pem": "not a key"}, "public_key_pem"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_app_validation_names_fields(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        _app(**kw)
    err = config_invalid("app config", info.value)
    assert field in err.message
    if kw.get("secret", "") is None:  # model-level check: named in the message
        return
    assert field in err.metadata["fields"].split(",")


def test_rsa2_needs_rsa_public_key() -> None:
    app = _app(sign_type="RSA2", secret=None, public_key_pem=RSA_PEM)
    assert app.public_key_pem is not None
    assert app.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")
    ec_pem = _pem(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ValidationError, match="RSA"):
        _app(sign_type="RSA2", secret=None, public_key_pem=ec_pem)


def test_errors_never_echo_secret() -> None:
    with pytest.raises(ValidationError) as info:
        _app(secret="short")  # below min length
    err = config_invalid("app config", info.value)
    assert "short" not in err.message.replace("should have at least", "")
    assert "secret" in err.metadata["fields"]


def test_repr_and_view_hide_secrets() -> None:
    app = _app()
    assert "merchant-secret-0123456789abcd-1234" not in repr(app)
    assert "merchant-secret-0123456789abcd-1234" not in str(app)
    view = public_view(app)
    assert view["secret"] == "****1234"
    assert "merchant-secret-0123456789abcd-1234" not in str(view)
    account = DemoAccount(
        account_id="a1", base_url="http://x", merchant_id="m", api_key=SecretStr("k" * 20)
    )
    assert "k" * 20 not in repr(account)
    assert public_view(account)["private_key_pem"] is None


def test_short_secret_is_fully_masked() -> None:
    account = DemoAccount(
        account_id="a1",
        base_url="http://x",
        merchant_id="m",
        api_key=SecretStr("k" * 16),
        private_key_pem=SecretStr("12345678"),
    )
    assert public_view(account)["private_key_pem"] == "****"


def test_app_secrets_shorter_than_32_characters_are_a_config_error() -> None:
    _app(secret="s" * 32)
    with pytest.raises(ValidationError) as info:
        _app(secret="s" * 31)
    err = config_invalid("app config", info.value)
    assert err.metadata["fields"] == "secret"
    assert "32" in err.message
    assert "s" * 31 not in err.message


def test_app_schema_marks_secret_write_only() -> None:
    schema = document_schemas()["app"]
    secret = schema["properties"]["secret"]
    assert secret["writeOnly"] is True
    assert secret["format"] == "password"
    assert schema["properties"]["name"]["title"] == "Name"
    assert "notify" in document_schemas()


def test_channel_registry(demo_channel: type[DemoAccount]) -> None:
    assert channel_model("demo") is DemoAccount
    schema = schemas()["demo"]
    props = schema["properties"]
    assert props["api_key"]["writeOnly"] is True
    assert props["private_key_pem"]["writeOnly"] is True
    assert "writeOnly" not in props["merchant_id"]
    assert props["merchant_id"]["description"] == "Provider's merchant number."
    assert props["base_url"]["title"] == "Provider base URL"
    assert DemoAccount.secret_fields() == ["api_key", "private_key_pem"]
    register_channel(DemoAccount)  # idempotent

    class Other(ChannelAccountBase):
        channel: ClassVar[str] = "demo"

    with pytest.raises(ValueError, match="already registered"):
        register_channel(Other)

    class Nameless(ChannelAccountBase):
        pass

    with pytest.raises(ValueError, match="channel"):
        register_channel(Nameless)
    with pytest.raises(ConfigNotFound):
        channel_model("nope")


def test_key_layout() -> None:
    p = "/paymesh/config/"
    assert keys.app_key(p, "a1") == "/paymesh/config/apps/a1"
    assert keys.channel_account_key(p, "wechat", "m1") == "/paymesh/config/channels/wechat/m1"
    assert keys.notify_key(p) == "/paymesh/config/notify"
    assert keys.parse_key(p, "/paymesh/config/channels/wechat/m1") == keys.ParsedKey(
        "channel_account", channel="wechat", account_id="m1"
    )
    assert keys.parse_key(p, "/paymesh/config/apps/a1") == keys.ParsedKey("app", app_id="a1")
    assert keys.parse_key(p, "/paymesh/config/notify") == keys.ParsedKey("notify")
    assert keys.parse_key(p, "/other/apps/a1") is None
    with pytest.raises(ValueError, match="app_id"):
        keys.app_key(p, "../x")
