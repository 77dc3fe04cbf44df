"""The cashier's pure parts: wallet detection, yuan, amounts, pages, WeChat OAuth."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from paymesh.cashier import pages
from paymesh.cashier.wallets import USER_AGENTS, detect
from paymesh.cashier.web import parse_yuan
from paymesh.channels.transport import HttpResponse
from paymesh.channels.wechat import oauth
from paymesh.channels.wechat.config import WechatAccount
from paymesh.dev.seed import private_key_pem, public_key_pem
from paymesh.errors import ChannelError, ChannelNotEnabled, ChannelUnavailable
from paymesh.money import yuan


@pytest.mark.parametrize(
    ("ua", "wallet"),
    [
        (USER_AGENTS["wechat"], "wechat"),
        (USER_AGENTS["alipay"], "alipay"),
        (USER_AGENTS["unionpay"], "unionpay"),
        (
            "Mozilla/5.0 (iPhone) AppleWebKit Mobile/15E148 MicroMessenger/8.0.50(0x1800323a)",
            "wechat",
        ),
        ("Mozilla/5.0 (iPhone) Mobile/15E148 AliApp(AP/10.5.0) AlipayClient/10.5.0.6000", "alipay"),
        ("Mozilla/5.0 (Linux; Android 13) (UnionPay/1.0 CloudPay)", "unionpay"),
        ("Mozilla/5.0 (Linux; Android 14) Chrome/130.0 Mobile Safari/537.36", None),
        ("", None),
    ],
)
def test_wallet_from_user_agent(ua: str, wallet: str | None) -> None:
    assert detect(ua) == wallet


@pytest.mark.parametrize(
    ("fen", "text"),
    [(1, "0.01"), (10, "0.10"), (1234, "12.34"), (100000, "1000.00"), (-5, "-0.05")],
)
def test_yuan(fen: int, text: str) -> None:
    assert yuan(fen) == text


@pytest.mark.parametrize(
    ("text", "fen"),
    [("12.34", 1234), ("0.01", 1), ("5", 500), ("5.5", 550), (" 7.00 ", 700), ("0", None),
     ("0.00", None), ("-1", None), ("1.234", None), ("1e3", None), ("abc", None), ("", None),
     ("1000001", None), ("1,00", None)],
)  # fmt: skip
def test_entered_amounts(text: str, fen: int | None) -> None:
    assert parse_yuan(text) == fen


def test_pages_escape_what_merchants_and_payers_wrote() -> None:
    view = pages.OrderView("<b>shop</b>", '"><script>x()</script>', 100, "P1")
    html = pages.result_page(view, "PAID", "http://e/cashier/o/t/result")
    assert "<script>x()" not in html
    assert "&lt;b&gt;shop" in html
    assert 'lang="zh-CN"' in html
    assert "支付成功" in html
    assert "Payment successful" in html


def test_the_wechat_page_embeds_params_as_data_only() -> None:
    view = pages.OrderView("m", "s", 1, "P1")
    params = {"appId": "wx1", "package": "prepay_id=</script><script>alert(1)</script>"}
    html = pages.wechat_pay_page(view, params, "http://e/r")
    assert "</script><script>alert(1)" not in html
    start = html.index("var p=") + len("var p=")
    assert json.loads(html[start : html.index(",done=")].replace("<\\/", "</")) == params


def test_pending_results_refresh_without_javascript() -> None:
    view = pages.OrderView("m", "s", 1, "P1")
    assert 'http-equiv="refresh"' in pages.result_page(view, "PENDING", "u")
    assert 'http-equiv="refresh"' not in pages.result_page(view, "PAID", "u")


def _account(**kw: object) -> WechatAccount:
    pem = private_key_pem()
    return WechatAccount(
        account_id="w",
        base_url="https://api.mch.weixin.qq.com",
        mchid="1900000001",
        appid="wx8888888888888888",
        merchant_serial_no="ABC",
        private_key_pem=SecretStr(pem),
        api_v3_key=SecretStr("k" * 32),
        platform_public_key_id="PUB_KEY_ID_1",
        platform_public_key_pem=public_key_pem(pem),
        **kw,
    )


def test_wechat_authorize_url_is_the_documented_one() -> None:
    url = oauth.authorize_url(_account(), "https://pay.example.com/cashier/o/T?as=x", "abc123")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "open.weixin.qq.com",
        "/connect/oauth2/authorize",
    )
    assert parts.fragment == "wechat_redirect"
    assert list(parse_qs(parts.query)) == [
        "appid",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
    ]
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q == {"appid": "wx8888888888888888", "redirect_uri": "https://pay.example.com/cashier/o/T?as=x",
                 "response_type": "code", "scope": "snsapi_base", "state": "abc123"}  # fmt: skip
    with pytest.raises(ValueError, match="state"):
        oauth.authorize_url(_account(), "https://x", "not-alnum!")


def test_wechat_code_exchange_request_and_answers() -> None:
    with pytest.raises(ChannelNotEnabled):
        oauth.build_access_token_request(_account(), "CODE")
    req = oauth.build_access_token_request(_account(mp_app_secret=SecretStr("s" * 32)), "CODE")
    parts = urlsplit(req.url)
    assert (req.method, parts.netloc, parts.path) == (
        "GET",
        "api.weixin.qq.com",
        "/sns/oauth2/access_token",
    )
    assert parse_qs(parts.query) == {"appid": ["wx8888888888888888"], "secret": ["s" * 32],
                                     "code": ["CODE"], "grant_type": ["authorization_code"]}  # fmt: skip
    assert "secret" in req.redact_keys

    def answer(body: object, status: int = 200) -> HttpResponse:
        return HttpResponse(status, {}, json.dumps(body).encode())

    ok = {
        "access_token": "AT",
        "expires_in": 7200,
        "refresh_token": "RT",
        "openid": "oABC",
        "scope": "snsapi_base",
    }
    assert oauth.parse_access_token_response(answer(ok)) == "oABC"
    with pytest.raises(ChannelError):
        oauth.parse_access_token_response(answer({"errcode": 40029, "errmsg": "invalid code"}))
    with pytest.raises(ChannelError):
        oauth.parse_access_token_response(answer({"errcode": 40163, "errmsg": "code been used"}))
    for unclear in (answer({"errcode": -1, "errmsg": "system error"}), answer(ok, 502),
                    HttpResponse(200, {}, b"<html>"), answer({"scope": "x"})):  # fmt: skip
        with pytest.raises(ChannelUnavailable):
            oauth.parse_access_token_response(unclear)


def test_a_paid_result_links_back_to_the_merchant_only_over_http() -> None:
    view = pages.OrderView("m", "s", 1, "P1")
    back = pages.result_page(view, "PAID", "u", "https://shop.example/done?o=1")
    assert 'href="https://shop.example/done?o=1"' in back
    assert "返回商户" in back
    assert "javascript" not in pages.result_page(view, "PAID", "u", "javascript:alert(1)")
    assert "返回商户" not in pages.result_page(view, "PENDING", "u", "https://shop.example/")
