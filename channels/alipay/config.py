"""Alipay OpenAPI app account config (`{prefix}/channels/alipay/{account_id}`).

Two ways to trust Alipay's answers, as Alipay's open platform offers them:
- `public_key` mode: `alipay_public_key_pem` (the "支付宝公钥");
- `certificate` mode: `app_cert_pem` (appCertPublicKey), `alipay_public_cert_pem`
  (alipayCertPublicKey_RSA2) and `alipay_root_cert_pem` (alipayRootCert); every request then
  carries `app_cert_sn` and `alipay_root_cert_sn`, computed here once at validation.
Keys may be PEM or the bare base64 Alipay's key tool prints.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ConfigDict, Field, PrivateAttr, model_validator

from paymesh.channels.alipay import sign
from paymesh.config.models import (
    ChannelAccountBase,
    RsaPrivateKey,
    RsaPublicKeyOrEmpty,
    secret_field,
)

AlipayMethod = Literal["qr", "page", "h5", "app", "barcode", "jsapi"]

DEFAULT_BASE_URL = "https://openapi.alipay.com/gateway.do"
# Where payers authorize an app in Alipay's browser (auth_base: the buyer's user id).
DEFAULT_OAUTH_BASE_URL = "https://openauth.alipay.com"
ALIPAY_METHODS: tuple[AlipayMethod, ...] = ("qr", "page", "h5", "app", "barcode", "jsapi")


class AlipayAccount(ChannelAccountBase):
    """An Alipay open-platform application (自研/直连商户应用) signing with RSA2."""

    model_config = ConfigDict(title="Alipay account")  # extra=forbid etc.: the base's

    channel: ClassVar[str] = "alipay"

    base_url: str = Field(
        DEFAULT_BASE_URL,
        title="Gateway URL",
        description="Alipay's gateway.do URL; point it at the sandbox for testing.",
        pattern=r"^https?://[^\s?#]+$",
    )
    enabled_methods: list[AlipayMethod] = Field(  # type: ignore[assignment]
        default_factory=lambda: list(ALIPAY_METHODS),
        title="Enabled methods",
        description="Pay methods this account offers: qr (precreate), page, h5 (wap), app, "
        "barcode, jsapi (alipay.trade.create for a buyer in Alipay's browser).",
    )
    oauth_base_url: str = Field(
        DEFAULT_OAUTH_BASE_URL,
        title="OAuth page base URL",
        description="Where payers authorize in Alipay's browser "
        "(oauth2/publicAppAuthorize.htm); the sandbox for tests.",
        pattern=r"^https?://[^\s?#]+$",
    )
    app_id: str = Field(
        title="App id",
        description="The Alipay open-platform application id.",
        pattern=r"^[0-9]{1,32}$",
    )
    private_key_pem: RsaPrivateKey = secret_field(
        "App private key",
        "The application's RSA2 private key (PEM, or the bare base64 of Alipay's key tool).",
    )
    sign_type: Literal["RSA2"] = Field(
        "RSA2", title="Sign type", description="Only RSA2 (SHA256withRSA) is supported."
    )
    mode: Literal["public_key", "certificate"] = Field(
        "public_key",
        title="Key mode",
        description="public_key: trust the Alipay public key; certificate: public-key "
        "certificates (公钥证书).",
    )
    alipay_public_key_pem: RsaPublicKeyOrEmpty = Field(
        "",
        title="Alipay public key",
        description="public_key mode: the Alipay public key (PEM or bare base64).",
        json_schema_extra={"format": "textarea"},
    )
    app_cert_pem: str = Field(
        "",
        title="App public-key certificate",
        description="certificate mode: appCertPublicKey_<app_id>.crt (PEM).",
        json_schema_extra={"format": "textarea"},
    )
    alipay_public_cert_pem: str = Field(
        "",
        title="Alipay public-key certificate",
        description="certificate mode: alipayCertPublicKey_RSA2.crt (PEM).",
        json_schema_extra={"format": "textarea"},
    )
    alipay_root_cert_pem: str = Field(
        "",
        title="Alipay root certificate",
        description="certificate mode: alipayRootCert.crt (PEM bundle).",
        json_schema_extra={"format": "textarea"},
    )
    seller_id: str = Field(
        "",
        title="Seller id (PID)",
        description="The merchant's Alipay user id (2088..., 16 digits). When set, a notify "
        "whose seller_id differs is refused.",
        pattern=r"^(2088[0-9]{12})?$",
    )
    transfer_order_title: str = Field(
        "transfer",
        title="Transfer title",
        description="order_title sent with alipay.fund.trans.uni.transfer.",
        max_length=64,
    )

    _app_cert_sn: str = PrivateAttr("")
    _alipay_root_cert_sn: str = PrivateAttr("")
    _alipay_cert_sn: str = PrivateAttr("")

    @model_validator(mode="after")
    def _check_mode(self) -> AlipayAccount:
        if self.mode == "public_key":
            if not self.alipay_public_key_pem:
                raise ValueError("public_key mode needs alipay_public_key_pem")
            self._app_cert_sn = ""
            self._alipay_root_cert_sn = ""
            self._alipay_cert_sn = ""
            return self
        missing = [
            n
            for n in ("app_cert_pem", "alipay_public_cert_pem", "alipay_root_cert_pem")
            if not getattr(self, n)
        ]
        if missing:
            raise ValueError(f"certificate mode needs {', '.join(missing)}")
        try:
            app_cert = sign.load_certificates(self.app_cert_pem)[0]
            self._app_cert_sn = sign.cert_sn(app_cert)
        except (ValueError, IndexError) as e:
            raise ValueError("app_cert_pem is not a certificate") from e
        try:
            alipay_cert = sign.load_certificates(self.alipay_public_cert_pem)[0]
            sign.public_key_of(alipay_cert)
            self._alipay_cert_sn = sign.cert_sn(alipay_cert)
        except (ValueError, IndexError) as e:
            raise ValueError("alipay_public_cert_pem is not an RSA certificate") from e
        try:
            self._alipay_root_cert_sn = sign.root_cert_sn(self.alipay_root_cert_pem)
        except ValueError as e:
            raise ValueError("alipay_root_cert_pem holds no RSA-signed certificate") from e
        app_key = sign.public_key_of(app_cert)
        own = sign.load_private_key(self.private_key_pem.get_secret_value()).public_key()
        if app_key.public_numbers() != own.public_numbers():
            raise ValueError("app_cert_pem does not certify private_key_pem")
        return self

    @property
    def app_cert_sn(self) -> str:
        """certificate mode: `app_cert_sn` request parameter ("" in public_key mode)."""
        return self._app_cert_sn

    @property
    def alipay_root_cert_sn(self) -> str:
        """certificate mode: `alipay_root_cert_sn` request parameter."""
        return self._alipay_root_cert_sn

    @property
    def alipay_cert_sn(self) -> str:
        """certificate mode: the configured Alipay certificate's SN (answers signed under
        another `alipay_cert_sn` follow a rotation: `certs`)."""
        return self._alipay_cert_sn

    def app_private_key(self) -> rsa.RSAPrivateKey:
        return sign.load_private_key(self.private_key_pem.get_secret_value())

    def alipay_public_key(self) -> rsa.RSAPublicKey:
        """The key that verifies Alipay's responses and notifies."""
        if self.mode == "certificate":
            return sign.load_public_key(self.alipay_public_cert_pem)  # cached per PEM
        return sign.load_public_key(self.alipay_public_key_pem)


def register() -> None:
    """Register the model with the config schema registry (idempotent)."""
    from paymesh.config.registry import register_channel

    register_channel(AlipayAccount)


register()

__all__ = ["ALIPAY_METHODS", "DEFAULT_BASE_URL", "AlipayAccount", "AlipayMethod"]
