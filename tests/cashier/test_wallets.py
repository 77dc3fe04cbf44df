"""Which way each wallet pays an app, from the app's routes (paymesh.core.cashier)."""

from __future__ import annotations

from pydantic import SecretStr

from paymesh.config.apps import AppConfig, RouteTarget, SignType
from paymesh.core.cashier import (
    Attempt,
    browser_wallets,
    in_app_wallet,
    offered_wallets,
    server_trade,
)

WX = RouteTarget(channel="wechat", account_id="wx")
ALI = RouteTarget(channel="alipay", account_id="ali")
UP = RouteTarget(channel="unionpay", account_id="up")


def app(routes: dict[str, RouteTarget]) -> AppConfig:
    return AppConfig(
        app_id="shop",
        name="Shop",
        sign_type=SignType.HMAC_SHA256,
        secret=SecretStr("s" * 32),
        routes=routes,
    )


def test_each_wallet_browser_uses_the_apps_routes() -> None:
    full = app({"jsapi": WX, "alipay:jsapi": ALI, "alipay:h5": ALI, "unionpay:page": UP})
    assert offered_wallets(full) == ["wechat", "alipay", "unionpay"]
    picked = [in_app_wallet(full, w) for w in ("wechat", "alipay", "unionpay")]
    assert [w.name if w else None for w in picked] == ["wechat", "alipay", "unionpay"]
    assert [w.name for w in browser_wallets(full)] == ["alipay-wap", "unionpay"]


def test_alipay_falls_back_to_wap_and_unrouted_wallets_are_not_offered() -> None:
    shop = app({"h5": ALI, "wechat:jsapi": WX})
    wallet = in_app_wallet(shop, "alipay")
    assert wallet is not None
    assert (wallet.name, wallet.method) == ("alipay-wap", "h5")
    assert in_app_wallet(shop, "unionpay") is None
    assert offered_wallets(shop) == ["wechat", "alipay"]
    # a route for the method on another channel does not count
    assert in_app_wallet(app({"jsapi": ALI}), "wechat") is None


def test_which_trades_a_close_settles_for_good() -> None:
    assert server_trade("wechat", "jsapi")
    assert server_trade("alipay", "jsapi")
    assert not server_trade("alipay", "h5")
    assert not server_trade("unionpay", "page")


def test_the_attempt_round_trips_through_pay_data() -> None:
    a = Attempt("wechat", "wx", "jsapi", "o1", 1.5, {"prepay_id": "p"}, ("alipay/ali",))
    assert Attempt.from_pay_data({"pay_url": "u", "_cashier": a.to_json()}) == a
    assert Attempt.from_pay_data({"pay_url": "u"}) is None
    assert Attempt.from_pay_data(None) is None
