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
    name: str  # wechat | alipay | unionpay: the channel it pays through
    method: str  # the channel method the cashier starts in this wallet
    title_zh: str
    title_en: str
    server_trade: bool  # the trade exists at the provider once Pay returns (closable)


WALLETS: Mapping[str, Wallet] = {
    w.name: w
    for w in (
        Wallet("wechat", "jsapi", "微信支付", "WeChat Pay", True),
        Wallet("alipay", "h5", "支付宝", "Alipay", False),
        Wallet("unionpay", "page", "云闪付 / 银联", "UnionPay QuickPass", False),
    )
}


def wallet_route(app: AppConfig, wallet: Wallet) -> RouteTarget | None:
    """The app's channel account for this wallet's method, if it has one."""
    target = app.routes.get(f"{wallet.name}:{wallet.method}") or app.routes.get(wallet.method)
    if target is None or target.channel != wallet.name:
        return None
    return target


def offered_wallets(app: AppConfig) -> list[Wallet]:
    return [w for w in WALLETS.values() if wallet_route(app, w) is not None]


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
    "WALLETS",
    "Attempt",
    "Wallet",
    "links_key",
    "offered_wallets",
    "order_pay_data",
    "static_url",
    "wallet_route",
]
