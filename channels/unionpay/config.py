"""UnionPay online payment (ACP 5.1.0) merchant account (`{prefix}/channels/unionpay/{id}`).

What UnionPay hands a merchant at onboarding, as its SDK configuration names them
(`acp_sdk.properties`): the merchant number (`merId`), a signing certificate as PKCS#12
(`acpsdk.signCert.path` + `.pwd`; its decimal serial is the `certId` of every request),
and the certificates that verify UnionPay's `signPubKeyCert`: the root
(`acpsdk.rootCert.path`, acp_prod_root.cer) and the intermediate
(`acpsdk.middleCert.path`, acp_prod_middle.cer). The PKCS#12 file is stored base64.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from cryptography import x509
from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from paymesh.channels.unionpay import sign
from paymesh.config.models import ChannelAccountBase, secret_field

UnionpayMethod = Literal["page", "h5", "app"]

DEFAULT_BASE_URL = "https://gateway.95516.com"
DEFAULT_FILE_BASE_URL = "https://filedownload.95516.com"
UNIONPAY_METHODS: tuple[UnionpayMethod, ...] = ("page", "h5", "app")


class UnionpayAccount(ChannelAccountBase):
    """A UnionPay online-payment merchant (全渠道, ACP 5.1.0, signMethod 01)."""

    model_config = ConfigDict(title="UnionPay account")  # extra=forbid etc.: the base's

    channel: ClassVar[str] = "unionpay"

    base_url: str = Field(
        DEFAULT_BASE_URL,
        title="Gateway URL",
        description="UnionPay's gateway root (https://gateway.95516.com; test environment "
        "https://gateway.test.95516.com); requests go to {base_url}/gateway/api/…. Point it "
        "at the sandbox for testing.",
        pattern=r"^https?://[^\s?#]+[^/\s?#]$",
    )
    file_base_url: str = Field(
        DEFAULT_FILE_BASE_URL,
        title="File download URL",
        description="Host of the bill file transfer (fileTransfer.do).",
        pattern=r"^https?://[^\s?#]+[^/\s?#]$",
    )
    enabled_methods: list[UnionpayMethod] = Field(  # type: ignore[assignment]
        default_factory=lambda: list(UNIONPAY_METHODS),
        title="Enabled methods",
        description="page (PC gateway, channelType 07), h5 (mobile web, channelType 08), "
        "app (control tn for the UnionPay app SDK).",
    )
    mer_id: str = Field(
        title="Merchant number (merId)",
        description="The 15-character merchant number UnionPay assigned.",
        pattern=r"^[0-9A-Za-z]{15}$",
    )
    sign_cert_p12: SecretStr = secret_field(
        "Signing certificate (PKCS#12, base64)",
        "The merchant signing certificate file (.pfx) UnionPay issued, base64-encoded.",
    )
    sign_cert_password: SecretStr = secret_field(
        "Signing certificate password", "The password of the PKCS#12 file."
    )
    root_cert_pem: str = Field(
        title="UnionPay root certificate",
        description="acp_prod_root.cer (PEM): the root signPubKeyCert must chain to.",
        json_schema_extra={"format": "textarea"},
    )
    middle_cert_pem: str = Field(
        title="UnionPay intermediate certificate",
        description="acp_prod_middle.cer (PEM): the intermediate that issues UnionPay's "
        "signing certificate.",
        json_schema_extra={"format": "textarea"},
    )
    access_type: Literal["0"] = Field(
        "0", title="Access type", description="0: a merchant connected directly (商户直连)."
    )
    front_url: str = Field(
        "",
        title="Default frontUrl",
        description="Where the payer's browser returns when an order has no return URL.",
    )
    pay_timeout_minutes: int = Field(
        30,
        title="Pay timeout (minutes)",
        description="payTimeout of orders without an expiry time.",
        ge=1,
        le=1440,
    )

    @field_validator("root_cert_pem", "middle_cert_pem")
    @classmethod
    def _check_pem(cls, v: str) -> str:
        try:
            sign.load_certificates(v)
        except ValueError as e:
            raise ValueError("not a PEM certificate") from e
        return v

    @model_validator(mode="after")
    def _check_signing_cert(self) -> UnionpayAccount:
        try:
            self.signing_cert()
        except ValueError as e:
            raise ValueError(f"sign_cert_p12: {e}") from None
        return self

    def signing_cert(self) -> sign.SigningCert:
        """The private key and `certId` (cached per file and password)."""
        return sign.load_pkcs12_b64(
            self.sign_cert_p12.get_secret_value(), self.sign_cert_password.get_secret_value()
        )

    def trust_roots(self) -> tuple[x509.Certificate, ...]:
        return sign.load_certificates(self.root_cert_pem)

    def trust_intermediates(self) -> tuple[x509.Certificate, ...]:
        return sign.load_certificates(self.middle_cert_pem)

    def url(self, path: str) -> str:
        """`{base_url}/gateway/api/{path}`."""
        return f"{self.base_url}/gateway/api/{path}"


def register() -> None:
    """Register the model with the config schema registry (idempotent)."""
    from paymesh.config.registry import register_channel

    register_channel(UnionpayAccount)


register()

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_FILE_BASE_URL",
    "UNIONPAY_METHODS",
    "UnionpayAccount",
    "UnionpayMethod",
]
