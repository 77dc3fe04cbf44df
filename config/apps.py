"""Merchant app config (`{prefix}/apps/{app_id}`) and notifier defaults (`{prefix}/notify`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from paymesh.config.models import secret_field

PAY_METHODS = ("qr", "h5", "page", "app", "jsapi", "barcode")
# Route keys: a pay method, "transfer" (payouts), or "<channel>:<method>" when an app offers
# the same method through several channels (the request's `channel` picks one).
ROUTE_KINDS = (*PAY_METHODS, "transfer")

# The merchant notification schedule: 15s 15s 30s 3m 10m 20m 30m 30m 30m 60m 3h 3h 3h 6h 6h (about 24 h).
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (
    15,
    15,
    30,
    3 * 60,
    10 * 60,
    20 * 60,
    30 * 60,
    30 * 60,
    30 * 60,
    60 * 60,
    3 * 3600,
    3 * 3600,
    3 * 3600,
    6 * 3600,
    6 * 3600,
)

_ID = r"^[A-Za-z0-9_-]{1,64}$"
Delay = Annotated[float, Field(gt=0, le=7 * 24 * 3600)]


class LatePaymentPolicy(StrEnum):
    """What a late payment becomes."""

    REFUND = "refund"
    ACCEPT = "accept"


class SignType(StrEnum):
    HMAC_SHA256 = "HMAC-SHA256"
    MD5 = "MD5"
    RSA2 = "RSA2"


class RouteTarget(BaseModel):
    """The channel account that serves one pay method for an app."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str = Field(title="Channel", description="wechat, alipay, unionpay, ...", pattern=_ID)
    account_id: str = Field(
        title="Channel account", description="Account id under the channel.", pattern=_ID
    )


def _check_http_url(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    return value


MIN_SECRET_LENGTH = 32
"""Shorter app secrets are a config error: HMAC/MD5 keys must not be guessable."""


class AppConfig(BaseModel):
    """A merchant app: how its requests are verified and where its payments go."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, title="Merchant app")

    app_id: str = Field(title="App id", description="Public id the merchant sends.", pattern=_ID)
    name: str = Field(title="Name", min_length=1, max_length=128)
    enabled: bool = Field(True, title="Enabled", description="Disabled apps are refused.")
    sign_type: SignType = Field(
        title="Signature type",
        description="HMAC-SHA256 or MD5 use the app secret; RSA2 uses the merchant public key.",
    )
    secret: SecretStr | None = secret_field(
        "App secret",
        "Shared key for HMAC-SHA256 / MD5 signatures, at least 32 characters (e.g. 16 random "
        "bytes in hex). Write-only.",
        default=None,
        min_length=MIN_SECRET_LENGTH,
    )
    public_key_pem: str | None = Field(
        None,
        title="Merchant RSA public key",
        description="PEM public key verifying the merchant's RSA2 signatures.",
        json_schema_extra={"format": "textarea"},
    )
    routes: dict[str, RouteTarget] = Field(
        default_factory=dict,
        title="Routes",
        description=(
            "Pay method (qr, h5, page, app, jsapi, barcode) or transfer -> channel account; "
            "<channel>:<method> keys let one app offer a method through several channels."
        ),
    )
    notify_url: str | None = Field(
        None,
        title="Default notify URL",
        description="Used when a request carries no notify_url.",
        json_schema_extra={"format": "uri"},
    )
    allow_private_notify_urls: bool = Field(
        False,
        title="Allow private notify URLs",
        description="Allow loopback/private addresses as notify_url (SSRF guard off). Dev only.",
    )
    notify_retry_delays: list[Delay] | None = Field(
        None,
        title="Notify retry delays (s)",
        description="Overrides the default notification retry schedule for this app.",
        min_length=1,
        max_length=50,
    )
    late_payment: LatePaymentPolicy = Field(
        LatePaymentPolicy.REFUND,
        title="Late payments",
        description="A payment reported for an order already closed or failed: refund it in "
        "full (reason 'late payment') or accept it (the order becomes PAID). The merchant is "
        "notified with order.late_paid either way.",
    )

    _check_notify_url = field_validator("notify_url")(_check_http_url)

    @field_validator("routes")
    @classmethod
    def _check_routes(cls, routes: dict[str, RouteTarget]) -> dict[str, RouteTarget]:
        unknown = sorted(k for k in routes if k.rpartition(":")[2] not in ROUTE_KINDS)
        if unknown:
            raise ValueError(
                f"unknown route keys {unknown}; expected one of {list(ROUTE_KINDS)}"
                " or <channel>:<method>"
            )
        for key, target in routes.items():
            channel, sep, _ = key.partition(":")
            if sep and channel != target.channel:
                raise ValueError(f"route {key!r} must name a {channel} account")
        return routes

    @field_validator("public_key_pem")
    @classmethod
    def _check_public_key(cls, pem: str | None) -> str | None:
        if pem is None or not pem.strip():
            return None
        try:
            key = load_pem_public_key(pem.strip().encode("ascii"))
        except (ValueError, UnicodeEncodeError) as e:
            raise ValueError("not a PEM public key") from e
        if not isinstance(key, RSAPublicKey) or key.key_size < 2048:
            raise ValueError("must be an RSA public key of at least 2048 bits")
        return pem.strip() + "\n"

    @model_validator(mode="after")
    def _check_key_material(self) -> Self:
        if self.sign_type in (SignType.HMAC_SHA256, SignType.MD5) and self.secret is None:
            raise ValueError(f"secret is required for sign_type {self.sign_type.value}")
        if self.sign_type is SignType.RSA2 and self.public_key_pem is None:
            raise ValueError("public_key_pem is required for sign_type RSA2")
        return self

    def retry_delays(self, notify: NotifyConfig) -> list[float]:
        """This app's notification schedule: its override, else the notifier default."""
        return list(self.notify_retry_delays or notify.retry_delays)


class NotifyConfig(BaseModel):
    """Notifier defaults: retry schedule and per-attempt timeout."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, title="Notifications")

    retry_delays: list[Delay] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_DELAYS),
        title="Retry delays (s)",
        description="Wait before each retry after a failed delivery; then the event fails.",
        min_length=1,
        max_length=50,
    )
    attempt_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=120,
        title="Attempt timeout (s)",
        description="How long one POST to the merchant may take.",
    )


__all__ = [
    "DEFAULT_RETRY_DELAYS",
    "PAY_METHODS",
    "AppConfig",
    "LatePaymentPolicy",
    "NotifyConfig",
    "RouteTarget",
    "SignType",
]
