from __future__ import annotations

import io
import json

from paymesh.runtime import logging as plog

KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"


def test_json_lines_with_fixed_keys_and_redaction() -> None:
    out = io.StringIO()
    plog.configure("INFO", stream=out)
    plog.get_logger("t").info(
        "charged",
        order_id="P2026112200000000001",
        api_v3_key="0123456789abcdef0123456789abcdef",
        account={"mchid": "1900000001", "private_key_pem": KEY, "nested": {"secret": "s3"}},
        note=f"key follows {KEY} and card 4111111111111111 ends",
        amount=100,
    )
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert line["event"] == "charged"
    assert line["level"] == "info"
    assert line["logger_name"] == "t"
    assert "ts" in line
    assert line["order_id"] == "P2026112200000000001"
    assert line["amount"] == 100
    assert line["api_v3_key"] == plog.REDACTED
    assert line["account"]["mchid"] == "1900000001"
    assert line["account"]["private_key_pem"] == plog.REDACTED
    assert line["account"]["nested"]["secret"] == plog.REDACTED
    assert "BEGIN PRIVATE KEY" not in line["note"]
    assert "4111111111111111" not in line["note"]


def test_digit_runs_that_fail_luhn_are_kept() -> None:
    # Provider trade numbers are long digit runs; only card-like (Luhn-valid) ones are masked.
    assert plog.redact_text("4200001234202611220000") == "4200001234202611220000"
    assert plog.redact_text("pan 4111111111111111") == f"pan {plog.REDACTED}"


def test_stdlib_loggers_are_json_and_redacted_too() -> None:
    import logging

    out = io.StringIO()
    plog.configure("INFO", stream=out)
    logging.getLogger("some.library").warning(
        "connecting with %s", "password=hunter2 card 4111111111111111"
    )
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert line["level"] == "warning"
    assert line["logger_name"] == "some.library"
    assert "4111111111111111" not in line["event"]
    assert "ts" in line


PEM = "-----BEGIN PRIVATE KEY-----\nMIIEv...\n-----END PRIVATE KEY-----"


def test_redact_body_json_by_key_and_provider_keys_at_any_depth() -> None:
    body = json.dumps(
        {
            "user_name": "张三",
            "openid": "o1",
            "private_key": PEM,
            "api_v3_key": "k",
            "nested": {"openid": "o2", "token": "t"},
            "amount": 1,
        }
    ).encode()
    out = json.loads(plog.redact_body(body, frozenset({"user_name", "openid"})))
    assert out == {
        "user_name": plog.REDACTED,
        "openid": plog.REDACTED,
        "private_key": plog.REDACTED,
        "api_v3_key": plog.REDACTED,
        "nested": {"openid": plog.REDACTED, "token": plog.REDACTED},
        "amount": 1,
    }
    # str and bytes give the same answer; without provider keys only secret names go
    text = '{"mchid":"1","api_v3_key":"k","openid":"o"}'
    assert plog.redact_body(text) == plog.redact_body(text.encode())
    assert json.loads(plog.redact_body(text)) == {
        "mchid": "1",
        "api_v3_key": plog.REDACTED,
        "openid": "o",
    }


def test_redact_body_forms_and_free_text() -> None:
    form = plog.redact_body(
        b"app_id=1&sign=abc&auth_code=28763443825664394&total_amount=0.01", frozenset({"sign"})
    )
    assert "abc" not in form
    assert "28763443825664394" not in form
    assert "app_id=1" in form
    assert "total_amount=0.01" in form
    assert plog.redact_body("a=1&sign=abc") == "a=1&sign=abc"  # sign is not a secret name
    # a form by its content type, even with a space; not a form by shape with one
    assert (
        plog.redact_body("token=t x", content_type="application/x-www-form-urlencoded")
        == f"token={plog.REDACTED}"
    )
    assert plog.redact_body("token=t x") == f"token={plog.REDACTED}"
    assert plog.redact_body("error: x=1 token=t") == "error: x=1 token=t"  # prose, not a form
    # UnionPay answers are forms whose values hold raw PEM (spaces, newlines)
    cert = "-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----"
    answer = f"respCode=00&signPubKeyCert={cert}&signature=c2ln"
    out = plog.redact_body(answer, frozenset({"signPubKeyCert"}))
    assert "BEGIN CERTIFICATE" not in out
    assert out.startswith("respCode=00&")
    assert PEM not in plog.redact_body(f"key is {PEM}")
    assert "4111111111111111" not in plog.redact_body(b"card 4111111111111111 used")
    assert plog.redact_body(b"") == ""
    assert plog.redact_body("<xml><a>1</a></xml>") == "<xml><a>1</a></xml>"


def test_redact_body_is_cut_to_the_limit() -> None:
    assert len(plog.redact_body("x" * (plog.MAX_BODY_CHARS + 10))) == plog.MAX_BODY_CHARS
    assert plog.redact_body('{"a":"' + "y" * 100 + '"}', limit=20) == '{"a":"' + "y" * 14
