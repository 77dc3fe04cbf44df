"""WeChat Pay API v3 merchant account config (`{prefix}/channels/wechat/{account_id}`).

The platform side (to verify responses and callbacks) is configured in one of three ways:
- public-key mode (WeChat's newer scheme): `platform_public_key_id` (`PUB_KEY_ID_...`) and
  `platform_public_key_pem`;
- certificate mode: `platform_certificates`, PEM certificates named by their serial;
- download mode: `download_certificates`, fetch `/v3/certificates` and decrypt them with the
  APIv3 key (refreshed when an unknown serial shows up).
Public-key and certificate entries may be combined (during WeChat's migration both serials
sign); download mode adds to whatever is configured.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from paymesh.channels.wechat import sign
from paymesh.config.models import (
    ChannelAccountBase,
    RsaPrivateKey,
    RsaPublicKeyOrEmpty,
    secret_field,
)

WechatMethod = Literal["qr", "h5", "app", "jsapi"]

DEFAULT_BASE_URL = "https://api.mch.weixin.qq.com"
# WeChat web authorization (网页授权) hosts: the payer's browser goes to the first, the
# code is exchanged at the second (developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/
# Wechat_webpage_authorization.html).
DEFAULT_OAUTH_BASE_URL = "https://open.weixin.qq.com"
DEFAULT_MP_API_BASE_URL = "https://api.weixin.qq.com"
WECHAT_METHODS: tuple[WechatMethod, ...] = ("qr", "h5", "app", "jsapi")


class TransferSceneReportInfo(BaseModel):
    """One `transfer_scene_report_infos` entry WeChat requires for the transfer scene."""

    model_config = ConfigDict(extra="forbid")

    info_type: str = Field(title="Info type", description="e.g. 活动名称, 奖励说明.")
    info_content: str = Field(title="Info content", description="Text reported for the type.")


class WechatAccount(ChannelAccountBase):
    """A WeChat Pay merchant (直连商户) using API v3."""

    model_config = ConfigDict(title="WeChat Pay account")  # extra=forbid etc.: the base's

    channel: ClassVar[str] = "wechat"

    base_url: str = Field(
        DEFAULT_BASE_URL,
        title="Provider base URL",
        description="WeChat Pay API root; point it at the sandbox for testing.",
        pattern=r"^https?://[^\s]+$",
    )
    enabled_methods: list[WechatMethod] = Field(  # type: ignore[assignment]
        default_factory=lambda: list(WECHAT_METHODS),
        title="Enabled methods",
        description="Pay methods this account offers: qr (Native), h5, app, jsapi.",
    )
    mchid: str = Field(
        title="Merchant id (mchid)",
        description="The merchant number WeChat Pay assigned.",
        pattern=r"^[0-9]{1,32}$",
    )
    appid: str = Field(
        title="AppID",
        description="The official account / mini program / app id bound to the merchant.",
        min_length=1,
        max_length=32,
    )
    merchant_serial_no: str = Field(
        title="Merchant certificate serial",
        description="Serial number (hex) of the merchant API certificate whose key signs.",
        pattern=r"^[0-9A-Fa-f]{1,64}$",
    )
    private_key_pem: RsaPrivateKey = secret_field(
        "Merchant private key",
        "PEM of the merchant API private key (apiclient_key.pem).",
    )
    api_v3_key: SecretStr = secret_field(
        "APIv3 key",
        "The 32-character APIv3 key that decrypts callbacks and platform certificates.",
        min_length=32,
        max_length=32,
    )
    platform_public_key_id: str = Field(
        "",
        title="Platform public key id",
        description="Public-key mode: the key id, starting with PUB_KEY_ID_.",
        pattern=r"^(PUB_KEY_ID_[0-9A-Za-z_]+)?$",
    )
    platform_public_key_pem: RsaPublicKeyOrEmpty = Field(
        "",
        title="Platform public key",
        description="Public-key mode: the WeChat Pay public key (PEM).",
        json_schema_extra={"format": "textarea"},
    )
    platform_certificates: list[str] = Field(
        default_factory=list,
        title="Platform certificates",
        description="Certificate mode: WeChat Pay platform certificates (PEM), one per entry.",
    )
    download_certificates: bool = Field(
        False,
        title="Download platform certificates",
        description="Fetch /v3/certificates and decrypt them with the APIv3 key.",
    )
    mp_app_secret: SecretStr | None = secret_field(
        "Official account AppSecret",
        "AppSecret of the AppID (公众号): the cashier exchanges WeChat's OAuth code for the "
        "payer's openid with it (sns/oauth2/access_token). Empty: no WeChat in the cashier.",
        default=None,
    )
    oauth_base_url: str = Field(
        DEFAULT_OAUTH_BASE_URL,
        title="OAuth page base URL",
        description="Where payers authorize (connect/oauth2/authorize); the sandbox for tests.",
        pattern=r"^https?://[^\s]+$",
    )
    mp_api_base_url: str = Field(
        DEFAULT_MP_API_BASE_URL,
        title="Official account API base URL",
        description="Where OAuth codes are exchanged (sns/oauth2/access_token).",
        pattern=r"^https?://[^\s]+$",
    )
    h5_type: Literal["Wap", "iOS", "Android"] = Field(
        "Wap",
        title="H5 scene type",
        description="scene_info.h5_info.type sent for h5 payments.",
    )
    transfer_scene_id: str = Field(
        "1000",
        title="Transfer scene id",
        description="transfer_scene_id of 商家转账 (1000 = 现金营销).",
        pattern=r"^[0-9]{1,10}$",
    )
    transfer_scene_report_infos: list[TransferSceneReportInfo] = Field(
        default_factory=list,
        title="Transfer scene report infos",
        description=(
            "Scene report entries sent with every transfer (WeChat requires them). Empty: "
            "the scene's required types (1000: 活动名称, 奖励说明; 1005: 岗位类型, 报酬说明) "
            "described by the transfer's remark."
        ),
    )
    transfer_user_recv_perception: str = Field(
        "",
        title="Payee perception",
        description=(
            "user_recv_perception shown to the payee; empty: the scene's default "
            "(1000: 现金奖励, 1005: 劳务报酬)."
        ),
        max_length=32,
    )

    @model_validator(mode="after")
    def _check_transfer_scene(self) -> WechatAccount:
        if self.transfer_scene_id not in ("1000", "1005") and not self.transfer_scene_report_infos:
            raise ValueError(
                f"transfer scene {self.transfer_scene_id} has no default report infos: "
                "configure transfer_scene_report_infos (WeChat requires them)"
            )
        return self

    @field_validator("platform_certificates")
    @classmethod
    def _check_certificates(cls, v: list[str]) -> list[str]:
        for i, pem in enumerate(v):
            try:
                sign.public_key_of(sign.load_certificate(pem))
            except (ValueError, TypeError) as e:
                raise ValueError(f"platform_certificates[{i}] is not an RSA certificate") from e
        return v

    @model_validator(mode="after")
    def _check_platform_keys(self) -> WechatAccount:
        if bool(self.platform_public_key_id) != bool(self.platform_public_key_pem):
            raise ValueError("platform_public_key_id and platform_public_key_pem go together")
        if not (
            self.platform_public_key_id or self.platform_certificates or self.download_certificates
        ):
            raise ValueError(
                "configure a platform public key, platform certificates, "
                "or enable download_certificates"
            )
        return self


def register() -> None:
    """Register the model with the config schema registry (idempotent)."""
    from paymesh.config.registry import register_channel

    register_channel(WechatAccount)


register()

__all__ = [
    "DEFAULT_BASE_URL",
    "WECHAT_METHODS",
    "TransferSceneReportInfo",
    "WechatAccount",
    "WechatMethod",
]
