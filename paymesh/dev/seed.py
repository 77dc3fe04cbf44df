"""Onboard demo merchants at the sandbox and write the matching config.

Used by `paymesh dev` and by the end-to-end tests, so both exercise the same setup an
operator would: register at the provider, store the channel account, create an app.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from paymesh.channels.alipay.config import AlipayAccount
from paymesh.channels.unionpay.config import UnionpayAccount
from paymesh.channels.wechat.config import WechatAccount
from paymesh.config.apps import AppConfig, RouteTarget, SignType
from paymesh.config.repository import ConfigRepository

DEMO_APP_ID = "demo"
WECHAT_ACCOUNT = "wechat-demo"
WECHAT_MCHID = "1900000109"
WECHAT_APPID = "wxd678efh567hg6787"
ALIPAY_ACCOUNT = "alipay-demo"
ALIPAY_APP_ID = "2021000000000001"
UNIONPAY_ACCOUNT = "unionpay-demo"
UNIONPAY_MER_ID = "777290058110048"


@dataclass(frozen=True)
class DemoApp:
    app_id: str
    sign_type: str
    secret: str

    def as_json(self) -> dict[str, str]:
        return {"app_id": self.app_id, "sign_type": self.sign_type, "secret": self.secret}


def private_key_pem(path: Path | None = None) -> str:
    """A 2048-bit RSA merchant key, kept at `path` when given so restarts reuse it."""
    if path is not None and path.exists():
        return path.read_text()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(pem)
        path.chmod(0o600)
    return pem


def public_key_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def key_serial(private_pem: str) -> str:
    """A stable certificate-style serial (40 uppercase hex) for a merchant key."""
    return hashlib.sha1(public_key_pem(private_pem).encode()).hexdigest().upper()  # noqa: S324


async def register_at_sandbox(
    sandbox_url: str,
    channel: str,
    merchant_id: str,
    app_id: str,
    private_pem: str,
    **extra: str,
) -> dict[str, Any]:
    """POST /_sandbox/merchants and return the sandbox's answer."""
    body = {
        "channel": channel,
        "merchant_id": merchant_id,
        "app_id": app_id,
        "public_key_pem": public_key_pem(private_pem),
        "serial_no": key_serial(private_pem),
        **extra,
    }
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{sandbox_url}/_sandbox/merchants", json=body) as r,
    ):
        r.raise_for_status()
        answer: dict[str, Any] = await r.json()
        return answer


async def seed_wechat(
    repo: ConfigRepository,
    sandbox_url: str,
    private_pem: str,
    account_id: str = WECHAT_ACCOUNT,
    *,
    mchid: str = WECHAT_MCHID,
    appid: str = WECHAT_APPID,
) -> WechatAccount:
    # Public-key mode (WeChat's current default): the platform signs with PUB_KEY_ID_...
    reg = await register_at_sandbox(
        sandbox_url,
        "wechat",
        mchid,
        appid,
        private_pem,
        platform_key_mode="public_key",
    )
    account = WechatAccount(
        account_id=account_id,
        base_url=sandbox_url,
        mchid=mchid,
        appid=appid,
        merchant_serial_no=reg["merchant_serial_no"],
        private_key_pem=SecretStr(private_pem),
        api_v3_key=SecretStr(reg["api_v3_key"]),
        platform_public_key_id=reg["platform_public_key_id"],
        platform_public_key_pem=reg["platform_public_key_pem"],
        # the cashier's WeChat OAuth (snsapi_base) at the sandbox too
        mp_app_secret=SecretStr(reg["mp_app_secret"]),
        oauth_base_url=sandbox_url,
        mp_api_base_url=sandbox_url,
    )
    await repo.put_channel_account(account)
    return account


async def seed_alipay(
    repo: ConfigRepository,
    sandbox_url: str,
    private_pem: str,
    account_id: str = ALIPAY_ACCOUNT,
    *,
    app_id: str = ALIPAY_APP_ID,
) -> AlipayAccount:
    reg = await register_at_sandbox(sandbox_url, "alipay", app_id, app_id, private_pem)
    account = AlipayAccount(
        account_id=account_id,
        base_url=sandbox_url + reg.get("gateway_path", "/gateway.do"),
        app_id=app_id,
        seller_id=reg.get("seller_id", ""),
        private_key_pem=SecretStr(private_pem),
        mode="public_key",
        alipay_public_key_pem=reg["alipay_public_key_pem"],
        oauth_base_url=sandbox_url,  # the cashier's Alipay OAuth (auth_base) at the sandbox
    )
    await repo.put_channel_account(account)
    return account


async def seed_unionpay(
    repo: ConfigRepository,
    sandbox_url: str,
    account_id: str = UNIONPAY_ACCOUNT,
    *,
    mer_id: str = UNIONPAY_MER_ID,
) -> UnionpayAccount:
    """Register the merchant at the sandbox (it issues the PKCS#12 signing certificate and
    answers its trust roots) and store the account."""
    body = {"channel": "unionpay", "merchant_id": mer_id, "app_id": mer_id}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sandbox_url}/_sandbox/merchants", json=body) as resp,
    ):
        if resp.status != 200:
            raise RuntimeError(f"sandbox registration failed: {resp.status} {await resp.text()}")
        reg: dict[str, Any] = await resp.json()
    account = UnionpayAccount(
        account_id=account_id,
        base_url=sandbox_url,
        file_base_url=sandbox_url,
        mer_id=mer_id,
        sign_cert_p12=SecretStr(reg["sign_cert_p12"]),
        sign_cert_password=SecretStr(reg["sign_cert_password"]),
        root_cert_pem=reg["root_cert_pem"],
        middle_cert_pem=reg["middle_cert_pem"],
    )
    await repo.put_channel_account(account)
    return account


async def seed_app(
    repo: ConfigRepository,
    *,
    app_id: str = DEMO_APP_ID,
    secret: str | None = None,
    sign_type: SignType = SignType.HMAC_SHA256,
    public_key_pem: str | None = None,
    notify_url: str | None = None,
    wechat_account: str = WECHAT_ACCOUNT,
    alipay_account: str | None = ALIPAY_ACCOUNT,
    unionpay_account: str | None = None,
    enabled: bool = True,
) -> DemoApp:
    secret = secret or secrets.token_hex(16)
    wechat = RouteTarget(channel="wechat", account_id=wechat_account)
    routes = {
        "qr": wechat,
        "h5": wechat,
        "app": wechat,
        "jsapi": wechat,
        "wechat:qr": wechat,
        "wechat:h5": wechat,
        "wechat:app": wechat,
        "transfer": wechat,
    }
    if alipay_account:
        alipay = RouteTarget(channel="alipay", account_id=alipay_account)
        routes |= {
            "page": alipay,
            "barcode": alipay,
            **{
                f"alipay:{m}": alipay
                # no "transfer": the demo Alipay account is in public-key mode, and Alipay's
                # transfers need certificate mode (the channel refuses them)
                for m in ("qr", "page", "h5", "app", "barcode", "jsapi")
            },
        }
    if unionpay_account:
        unionpay = RouteTarget(channel="unionpay", account_id=unionpay_account)
        routes |= {f"unionpay:{m}": unionpay for m in ("page", "h5", "app")}
    app = AppConfig(
        app_id=app_id,
        name=f"{app_id} app",
        enabled=enabled,
        sign_type=sign_type,
        secret=SecretStr(secret) if sign_type is not SignType.RSA2 else None,
        public_key_pem=public_key_pem,
        routes=routes,
        notify_url=notify_url,
        allow_private_notify_urls=True,
    )
    await repo.put_app(app)
    return DemoApp(app_id, sign_type.value, secret)
