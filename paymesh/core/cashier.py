"""What the cashier (method `cashier`) shares between the pay gateway and the cashier
service: the wallets it offers, the app route each uses, and the order's cashier record.

A cashier order is created with no channel. When the payer commits in a wallet, the order
is bound to that wallet's route (one conditional UPDATE, `paymesh.core.db.cashier`) and
the channel trade is started; the order's `pay_data` keeps the merchant-facing cashier
links (`pay_url`, `code_url`) and, under `CASHIER_KEY`, the live attempt (which the
merchant never sees: `pay_data` is read into the proto with unknown fields ignored).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from paymesh.config.apps import AppConfig, RouteTarget
from paymesh.config.crypto import MASTER_KEY_ENV
from paymesh.core import cashier_links

CASHIER_METHOD: Final = "cashier"
CASHIER_KEY: Final = "_cashier"


@dataclass(frozen=True)
class Wallet:
    """One way to pay: a wallet's channel and the channel method the cashier starts."""

    name: str  # the form value: wechat | alipay | alipay-wap | unionpay
    channel: str
    method: str
    title_zh: str
    title_en: str
    server_trade: bool  # the trade exists at the provider once Pay returns (closable)
    oauth: bool = False  # needs the payer's id from the wallet's OAuth first


WALLETS: Mapping[str, Wallet] = {
    w.name: w
    for w in (
        Wallet("wechat", "wechat", "jsapi", "微信支付", "WeChat Pay", True, oauth=True),
        Wallet("alipay", "alipay", "jsapi", "支付宝", "Alipay", True, oauth=True),
        Wallet("alipay-wap", "alipay", "h5", "支付宝", "Alipay", False),
        Wallet("unionpay", "unionpay", "page", "云闪付 / 银联", "UnionPay QuickPass", False),
    )
}
# In a wallet's own browser: the ways it pays, preferred first (Alipay's JSAPI needs an
# alipay:jsapi route; without one Alipay's browser pays with wap).
IN_APP: Mapping[str, tuple[str, ...]] = {
    "wechat": ("wechat",),
    "alipay": ("alipay", "alipay-wap"),
    "unionpay": ("unionpay",),
}
# What any browser can pay with (the chooser's buttons).
IN_BROWSER: tuple[str, ...] = ("alipay-wap", "unionpay")


def wallet_route(app: AppConfig, wallet: Wallet) -> RouteTarget | None:
    """The app's channel account for this wallet's method, if it has one."""
    target = app.routes.get(f"{wallet.channel}:{wallet.method}") or app.routes.get(wallet.method)
    if target is None or target.channel != wallet.channel:
        return None
    return target


def in_app_wallet(app: AppConfig, detected: str) -> Wallet | None:
    """How the app is paid in the browser of the wallet `detected` (None: it is not)."""
    for name in IN_APP.get(detected, ()):
        if wallet_route(app, WALLETS[name]) is not None:
            return WALLETS[name]
    return None


def offered_wallets(app: AppConfig) -> list[str]:
    """The wallets (wechat, alipay, unionpay) whose browsers can pay this app."""
    return [name for name in IN_APP if in_app_wallet(app, name) is not None]


def browser_wallets(app: AppConfig) -> list[Wallet]:
    return [WALLETS[n] for n in IN_BROWSER if wallet_route(app, WALLETS[n]) is not None]


def server_trade(channel: str, method: str) -> bool:
    """Whether a trade started with this channel method exists at the provider (so a close
    is definitive), rather than in a signed URL or form the payer's browser completes."""
    return any(
        w.server_trade for w in WALLETS.values() if (w.channel, w.method) == (channel, method)
    )


@functools.cache
def _key(master: str) -> bytes:
    return cashier_links.key_from_env()


def links_key() -> bytes:
    """The HMAC key of cashier links (derived from the master key; MasterKeyError if unset)."""
    return _key(os.environ.get(MASTER_KEY_ENV, ""))


def order_pay_data(base_url: str, app_id: str, order_id: str, expire: datetime) -> dict[str, Any]:
    """The merchant-facing pay_data of a cashier order: its signed link, as a URL to open
    and as the content of a QR code any wallet can scan."""
    link = cashier_links.url(
        base_url, cashier_links.order_link(app_id, order_id, expire), links_key()
    )
    return {"pay_url": link, "code_url": link}


def static_url(base_url: str, app_id: str, expires: datetime) -> str:
    """An app's counter code (a fixed link: the payer enters the amount), valid until
    `expires`; only paymesh's key makes one (`paymesh cashier-link`)."""
    return cashier_links.url(base_url, cashier_links.static_link(app_id, expires), links_key())


@dataclass(frozen=True)
class Attempt:
    """The order's live channel attempt (what the cashier started, and until when the
    provider may still take money on it)."""

    channel: str
    account_id: str
    method: str
    payer_id: str
    live_until: float  # unix seconds
    pay_data: Mapping[str, Any]
    closed: tuple[str, ...] = ()  # "channel/account_id" of trades closed on a switch

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "account_id": self.account_id,
            "method": self.method,
            "payer_id": self.payer_id,
            "live_until": self.live_until,
            "pay_data": dict(self.pay_data),
            "closed": list(self.closed),
        }

    @classmethod
    def from_pay_data(cls, pay_data: Mapping[str, Any] | None) -> Attempt | None:
        raw = (pay_data or {}).get(CASHIER_KEY)
        if not isinstance(raw, dict):
            return None
        return cls(
            channel=str(raw.get("channel", "")),
            account_id=str(raw.get("account_id", "")),
            method=str(raw.get("method", "")),
            payer_id=str(raw.get("payer_id", "")),
            live_until=float(raw.get("live_until", 0)),
            pay_data=dict(raw.get("pay_data") or {}),
            closed=tuple(str(c) for c in raw.get("closed") or ()),
        )


__all__ = [
    "CASHIER_KEY",
    "CASHIER_METHOD",
    "IN_APP",
    "IN_BROWSER",
    "WALLETS",
    "Attempt",
    "Wallet",
    "browser_wallets",
    "in_app_wallet",
    "links_key",
    "offered_wallets",
    "order_pay_data",
    "server_trade",
    "static_url",
    "wallet_route",
]
