"""Typed config models. Their JSON Schema drives the ops console's forms.

Secrets are `SecretStr` fields declared with `secret_field()`: masked in repr, marked
`writeOnly` in the schema, encrypted at rest, never returned by a read API.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from paymesh.rsa import load_private_key, load_public_key


def secret_field(title: str, description: str = "", **kw: Any) -> Any:
    """A write-only secret: masked in repr, `writeOnly` + `format: password` in JSON Schema."""
    return Field(
        title=title,
        description=description,
        json_schema_extra={"writeOnly": True, "format": "password"},
        **kw,
    )


def _rsa_private_key(v: SecretStr) -> SecretStr:
    try:
        load_private_key(v.get_secret_value())
    except (ValueError, TypeError) as e:
        raise ValueError("not an RSA private key (PEM or bare base64)") from e
    return v


def _rsa_public_key(v: str) -> str:
    if v:
        try:
            load_public_key(v)
        except (ValueError, TypeError) as e:
            raise ValueError("not an RSA public key (PEM or bare base64)") from e
    return v


# Key fields checked on save, so that a bad key fails in the console, not at the first call.
RsaPrivateKey = Annotated[SecretStr, AfterValidator(_rsa_private_key)]
RsaPublicKeyOrEmpty = Annotated[str, AfterValidator(_rsa_public_key)]


class ChannelAccountBase(BaseModel):
    """Fields every channel account has; each channel subclasses this with its credentials
    (its `model_config` only adds a title: forbidding extra fields and validating
    assignments are inherited).

    Stored at `{prefix}/channels/{channel}/{account_id}`.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    channel: ClassVar[str] = ""

    account_id: str = Field(
        title="Account id",
        description="Key of this account under the channel; routes name it.",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
    )
    enabled: bool = Field(True, title="Enabled", description="Disabled accounts take no payments.")
    base_url: str = Field(
        title="Provider base URL",
        description="The provider's API root; point it at the sandbox for testing.",
    )
    enabled_methods: list[str] = Field(
        default_factory=list,
        title="Enabled methods",
        description="Pay methods this account offers (qr, h5, page, app, jsapi, barcode).",
    )
    reconcile_at: str = Field(
        "10:00",
        title="Daily reconciliation time",
        description=(
            "China time (HH:MM) at which the previous day's bill is downloaded and reconciled "
            "(providers publish it from about 9:00); empty: no daily reconciliation."
        ),
        pattern=r"^(|([01][0-9]|2[0-3]):[0-5][0-9])$",
    )
    fee_rate_bp: int | None = Field(
        None,
        title="Agreed fee rate (basis points)",
        description=(
            "The provider's fee on payments in basis points (0.6 % = 60). When set, "
            "reconciliation flags bill lines whose fee is another rate (FEE_DIFFERS); "
            "empty: fees are recorded, not checked."
        ),
        ge=0,
        le=10_000,
    )
    request_timeout_seconds: float = Field(
        10.0,
        title="Request timeout (s)",
        description="Total time allowed for one call to the provider.",
        gt=0,
        le=60,
    )
    notify_url: str = Field(
        "",
        title="Default notify URL",
        description="The provider's notify (callback) URL when a request does not carry one.",
    )

    @classmethod
    def secret_fields(cls) -> list[str]:
        return secret_field_names(cls)


def secret_field_names(model: type[BaseModel]) -> list[str]:
    """Top-level fields of `model` typed `SecretStr` or `SecretStr | None`."""
    return [
        n
        for n, f in model.model_fields.items()
        if f.annotation is SecretStr or SecretStr in get_args(f.annotation)
    ]


__all__ = [
    "ChannelAccountBase",
    "RsaPrivateKey",
    "RsaPublicKeyOrEmpty",
    "SecretStr",
    "secret_field",
    "secret_field_names",
]
