"""Cross-check against an independent implementation: python-alipay-sdk (`alipay`)."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest

from paymesh.channels.alipay import sign
from tests.channels.alipay.fakes import FakeAlipay, cert_pem, new_rsa_key

alipay_sdk: Any = importlib.import_module("alipay")  # python-alipay-sdk (dev extra, no stubs)

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
APP_KEY = new_rsa_key()
ALIPAY = FakeAlipay()


def sdk() -> Any:
    return alipay_sdk.AliPay(
        appid="2021000000000001",
        app_private_key_string=sign.private_key_pem(APP_KEY),
        alipay_public_key_string=ALIPAY.public_key_pem,
        sign_type="RSA2",
    )


def test_request_signature_equals_the_sdks() -> None:
    params = {
        "app_id": "2021000000000001",
        "method": "alipay.trade.precreate",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": "2026-11-22 12:00:00",
        "version": "1.0",
        "biz_content": '{"out_trade_no":"P1","total_amount":"0.01","subject":"中文 & = +"}',
        "notify_url": "https://paymesh.example/cb?a=1&b=2",
    }
    signed = dict(parse_qsl(sdk().sign_data(dict(params))))
    # PKCS#1 v1.5 is deterministic: the same canonical string gives the same bytes
    assert signed["sign"] == sign.sign_params(APP_KEY, params)


def test_sdk_verifies_our_notify_signature() -> None:
    params = ALIPAY.notify_params(
        {
            "notify_id": "2026112200222",
            "app_id": "2021000000000001",
            "out_trade_no": "P1",
            "trade_status": "TRADE_SUCCESS",
            "total_amount": "0.01",
            "subject": "中文",
            "gmt_payment": "2026-11-22 12:00:01",
        }
    )
    signature = params.pop("sign")
    assert sdk().verify(dict(params), signature)


@pytest.mark.parametrize(
    "raw",
    [
        '{"code":"10000","msg":"Success","out_trade_no":"P1"}',
        '{ "code" : "10000", "msg":"Success", "subject":"\\u8ba2\\u5355\\/x" }',
    ],
)
def test_sdk_accepts_our_signed_responses(raw: str) -> None:
    body = ALIPAY.body("alipay.trade.query", raw).decode()
    out = sdk()._verify_and_return_sync_response(body, "alipay_trade_query_response")
    assert out["code"] == "10000"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_cert_sns_equal_the_sdks() -> None:
    certs = ALIPAY.certificates(APP_KEY, NOW)
    dc = alipay_sdk.DCAliPay
    assert dc.get_cert_sn(cert_pem(certs.app_cert)) == sign.cert_sn(certs.app_cert)
    # the SDK splits the root bundle on blank lines
    bundle = cert_pem(certs.other_root) + "\n" + cert_pem(certs.rsa_root)
    assert dc.get_root_cert_sn(bundle) == sign.root_cert_sn(bundle)
