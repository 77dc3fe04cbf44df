"""Alipay signing: canonical strings, RSA2, exact-bytes response verification, cert SNs."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization

from paymesh.channels.alipay import sign
from tests.channels.alipay.fakes import FakeAlipay, cert_pem, new_rsa_key

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
APP_KEY = new_rsa_key()
ALIPAY = FakeAlipay()
METHOD = "alipay.trade.query"


def test_canonical_drops_sign_and_empty_values_and_sorts() -> None:
    params = {
        "method": "alipay.trade.query",
        "app_id": "2021",
        "sign": "xxx",
        "notify_url": "",
        "biz_content": '{"out_trade_no":"P1","subject":"a&b=c 中文"}',
        "charset": "utf-8",
    }
    assert sign.canonical(params) == (
        'app_id=2021&biz_content={"out_trade_no":"P1","subject":"a&b=c 中文"}'
        "&charset=utf-8&method=alipay.trade.query"
    )


def test_notify_canonical_also_drops_sign_type() -> None:
    params = {"b": "2", "a": "1", "sign": "s", "sign_type": "RSA2", "empty": ""}
    assert sign.notify_canonical(params) == "a=1&b=2"
    assert sign.canonical(params) == "a=1&b=2&sign_type=RSA2"


def test_sign_and_verify_params() -> None:
    params = {"app_id": "2021", "method": "m", "timestamp": "2026-11-22 12:00:00"}
    params["sign"] = sign.sign_params(APP_KEY, params)
    assert sign.verify_params(APP_KEY.public_key(), params)
    assert not sign.verify_params(APP_KEY.public_key(), {**params, "method": "n"})
    assert not sign.verify_params(new_rsa_key().public_key(), params)
    assert not sign.verify_params(APP_KEY.public_key(), {**params, "sign": "!!notbase64"})
    assert not sign.verify_params(APP_KEY.public_key(), {**params, "sign": ""})


def test_keys_load_from_pem_and_bare_base64() -> None:
    pem = sign.private_key_pem(APP_KEY)
    der = APP_KEY.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    bare = base64.b64encode(der).decode()
    assert sign.load_private_key(bare).private_numbers() == APP_KEY.private_numbers()
    assert sign.load_private_key(pem).private_numbers() == APP_KEY.private_numbers()
    pub_der = APP_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pub = sign.load_public_key(base64.b64encode(pub_der).decode())
    assert pub.public_numbers() == APP_KEY.public_key().public_numbers()
    with pytest.raises(ValueError, match="neither PEM nor base64"):
        sign.load_private_key("not a key!")


# --- responses: exact bytes ----------------------------------------------------------------

CONTENT_VARIANTS = [
    # compact, as json.dumps would write it
    '{"code":"10000","msg":"Success","out_trade_no":"P1","trade_status":"TRADE_SUCCESS"}',
    # spaces and newlines: re-serialising would drop them
    '{ "code" : "10000",\n  "msg": "Success", "out_trade_no": "P1" }',
    # unicode escapes and an escaped slash: re-serialising would turn them into UTF-8 / "/"
    '{"code":"10000","msg":"Success","subject":"\\u8ba2\\u5355 \\/ \\"x\\"","out_trade_no":"P1"}',
    # raw UTF-8, braces inside strings, nested objects and arrays
    '{"code":"10000","msg":"Success","subject":"中文 {not} a } brace","fund_bill_list":'
    '[{"amount":"0.01","fund_channel":"ALIPAYACCOUNT"}],"out_trade_no":"P1"}',
]


@pytest.mark.parametrize("raw", CONTENT_VARIANTS)
def test_response_verifies_over_the_exact_raw_bytes(raw: str) -> None:
    body = ALIPAY.body(METHOD, raw)
    signed = sign.split_response(body, METHOD)
    assert signed.key == "alipay_trade_query_response"
    assert signed.raw == raw.encode("utf-8")
    assert signed.content == json.loads(raw)
    assert sign.verify_response(ALIPAY.key.public_key(), signed)
    # the same content re-serialised is not what Alipay signed (except the compact form)
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":"))
    if reserialised != raw:
        assert not sign.rsa_verify(ALIPAY.key.public_key(), reserialised, signed.sign)


def test_response_with_sign_first_whitespace_and_cert_sn() -> None:
    raw = '{"code":"10000", "msg":"Success"}'
    signature = sign.rsa_sign(ALIPAY.key, raw)
    body = (
        '\n{ "sign" : "' + signature + '" ,\n "alipay_cert_sn":"abc",'
        ' "alipay_trade_query_response" : ' + raw + " }\n"
    ).encode()
    signed = sign.split_response(body, METHOD)
    assert signed.raw == raw.encode()
    assert signed.cert_sn == "abc"
    assert sign.verify_response(ALIPAY.key.public_key(), signed)


def test_error_response_is_found_and_verified() -> None:
    raw = '{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id"}'
    signed = sign.split_response(ALIPAY.body(METHOD, raw, error=True), METHOD)
    assert signed.key == "error_response"
    assert sign.verify_response(ALIPAY.key.public_key(), signed)


def test_tampered_response_fails() -> None:
    body = ALIPAY.body(METHOD, '{"code":"10000","total_amount":"0.01"}')
    tampered = body.replace(b"0.01", b"9.01")
    assert not sign.verify_response(ALIPAY.key.public_key(), sign.split_response(tampered, METHOD))


def test_response_key_inside_a_string_is_not_matched() -> None:
    raw = '{"code":"10000","note":"\\"alipay_trade_query_response\\":{}"}'
    body = (
        '{"other_response":{"x":"\\"alipay_trade_query_response\\":{\\"code\\":1}"},'
        '"alipay_trade_query_response":' + raw + ',"sign":"' + sign.rsa_sign(ALIPAY.key, raw)
    ).encode() + b'"}'
    signed = sign.split_response(body, METHOD)
    assert signed.raw == raw.encode()
    assert sign.verify_response(ALIPAY.key.public_key(), signed)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html>502</html>",
        b"[1,2]",
        b'{"sign":"x"}',
        b'{"alipay_trade_query_response":"str","sign":"x"}',
        b'{"alipay_trade_query_response":{},"sign":"x"} trailing',
        b'{"alipay_trade_query_response":{}, "alipay_trade_query_response":{}}',
        b'{"alipay_trade_query_response":{',
    ],
)
def test_malformed_bodies_raise_value_error(body: bytes) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        sign.split_response(body, METHOD)


# --- certificate SNs ---------------------------------------------------------------------


def test_cert_sn_is_md5_of_issuer_dn_and_decimal_serial() -> None:
    import hashlib

    certs = ALIPAY.certificates(APP_KEY, NOW)
    issuer = (
        "CN=Ant Financial Certification Authority R1,OU=Certification Authority,"
        "O=Ant Financial test,C=CN"
    )
    expected = hashlib.md5(  # noqa: S324
        (issuer + str(certs.app_cert.serial_number)).encode()
    ).hexdigest()
    assert sign.cert_sn(certs.app_cert) == expected
    assert sign.cert_sn(cert_pem(certs.app_cert)) == expected


def test_root_cert_sn_skips_non_rsa_roots() -> None:
    certs = ALIPAY.certificates(APP_KEY, NOW)
    assert sign.root_cert_sn(certs.root_bundle_pem) == sign.cert_sn(certs.rsa_root)
    two = cert_pem(certs.rsa_root) + cert_pem(certs.other_root) + cert_pem(certs.app_cert)
    assert sign.root_cert_sn(two) == (
        sign.cert_sn(certs.rsa_root) + "_" + sign.cert_sn(certs.app_cert)
    )
    with pytest.raises(ValueError, match="no RSA-signed"):
        sign.root_cert_sn(cert_pem(certs.other_root))
