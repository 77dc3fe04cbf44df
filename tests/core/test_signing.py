"""Merchant signature scheme with hand-computed vectors."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.protobuf import json_format

from paymesh.core import signing
from paymesh.errors import AppDisabled, SignatureInvalid, TimestampExpired
from paymesh.merchant.v1 import pay_service_pb2, query_service_pb2

SECRET = "s3cr3t-key"
NOW = 1_763_769_600


def _order(**kw: object) -> pay_service_pb2.CreateOrderRequest:
    base: dict[str, object] = {
        "app_id": "app1",
        "out_trade_no": "T-001",
        "amount": 12345,
        "subject": "咖啡 Coffee",
        "method": "qr",
        "metadata": {"z": "last", "a": "第一", "m": "mid"},
        "timestamp": NOW,
        "sign_type": "HMAC-SHA256",
    }
    base.update(kw)
    return pay_service_pb2.CreateOrderRequest(**base)  # type: ignore[arg-type]


EXPECTED = (
    "amount=12345&app_id=app1"
    '&metadata={"a":"第一","m":"mid","z":"last"}'
    "&method=qr&out_trade_no=T-001&sign_type=HMAC-SHA256&subject=咖啡 Coffee"
    f"&timestamp={NOW}"
)


def test_canonical_from_message_known_string() -> None:
    assert signing.canonical_from_message(_order(sign="ignored")) == EXPECTED


def test_defaults_are_omitted() -> None:
    msg = _order(description="", expire_seconds=0, metadata={})
    assert "description" not in signing.canonical_from_message(msg)
    assert "metadata" not in signing.canonical_from_message(msg)
    q = query_service_pb2.QueryOrderRequest(order_id="P1", sync=False, timestamp=NOW)
    assert signing.canonical_from_message(q) == f"order_id=P1&timestamp={NOW}"
    q.sync = True
    assert signing.canonical_from_message(q) == f"order_id=P1&sync=true&timestamp={NOW}"


@pytest.mark.parametrize("ints_as_strings", [True, False])
def test_message_and_json_body_agree(ints_as_strings: bool) -> None:
    msg = _order(sign="X", description="", client_ip="1.2.3.4")
    body = json_format.MessageToDict(
        msg, preserving_proto_field_name=True, always_print_fields_with_no_presence=False
    )
    assert body["amount"] == "12345"  # int64 as JSON string
    if not ints_as_strings:
        body["amount"] = 12345
        body["timestamp"] = NOW
    body["description"] = ""  # merchants may send empties; both sides omit them
    body["expire_seconds"] = 0
    expected = signing.canonical_from_message(msg)
    assert signing.canonical_from_mapping(body) == expected
    typed = signing.canonical_from_mapping(body, pay_service_pb2.CreateOrderRequest)
    assert typed == expected


def test_metadata_key_order_does_not_matter() -> None:
    a = _order(metadata={"b": "2", "a": "1"})
    b = _order(metadata={"a": "1", "b": "2"})
    assert signing.canonical_from_message(a) == signing.canonical_from_message(b)
    body = {"metadata": {"b": "2", "a": "1"}, "app_id": "x"}
    assert signing.canonical_from_mapping(body) == 'app_id=x&metadata={"a":"1","b":"2"}'


def test_get_params_with_message_type() -> None:
    got = signing.canonical_from_params(
        {"order_id": "P123"},
        {"app_id": "app1", "sync": "false", "timestamp": str(NOW)},
        query_service_pb2.QueryOrderRequest,
    )
    assert got == f"app_id=app1&order_id=P123&timestamp={NOW}"
    got = signing.canonical_from_params({}, {"app_id": "a", "sync": "true", "timestamp": "5"})
    assert got == "app_id=a&sync=true&timestamp=5"


def test_non_ascii_subject_is_kept() -> None:
    canonical = signing.canonical_from_message(_order(subject="测试商品"))
    assert "subject=测试商品" in canonical
    assert "\\u" not in canonical


def test_hmac_and_md5_vectors() -> None:
    c = "amount=1&app_id=a"
    want_hmac = hmac.new(SECRET.encode(), c.encode(), hashlib.sha256).hexdigest().upper()
    assert signing.sign(c, "HMAC-SHA256", SECRET) == want_hmac
    want_md5 = hashlib.md5(f"{c}&key={SECRET}".encode(), usedforsecurity=False).hexdigest().upper()
    assert signing.sign(c, "MD5", SECRET) == want_md5
    # Fixed vectors so a change of scheme is caught even if both sides change together.
    assert (
        signing.sign("a=1", "MD5", "k")
        == hashlib.md5(b"a=1&key=k", usedforsecurity=False).hexdigest().upper()
    )
    assert (
        signing.sign("", "HMAC-SHA256", "key")
        == "5D5D139563C95B5967B9BD9A8C9B233A9DEDB45072794CD232DC1B74832607D0"
    )
    for st in ("HMAC-SHA256", "MD5"):
        s = signing.sign(c, st, SECRET)
        assert signing.verify(c, st, s, SECRET)
        assert signing.verify(c, st, s.lower(), SECRET)
        assert not signing.verify(c + "x", st, s, SECRET)
        assert not signing.verify(c, st, s, "other")
        assert not signing.verify(c, st, "", SECRET)


def test_rsa2_roundtrip() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    priv = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    pub = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    c = signing.canonical_from_message(_order(sign_type="RSA2"))
    s = signing.sign(c, "RSA2", priv)
    assert len(base64.b64decode(s)) == 256
    assert signing.verify(c, "RSA2", s, pub)
    assert not signing.verify(c + "&x=1", "RSA2", s, pub)
    assert not signing.verify(c, "RSA2", "not base64!!", pub)


def test_unknown_sign_type() -> None:
    with pytest.raises(SignatureInvalid):
        signing.sign("a=1", "SHA1", SECRET)


def test_check_timestamp() -> None:
    signing.check_timestamp(NOW, NOW + 300)
    signing.check_timestamp(NOW, float(NOW - 300))
    for ts in (NOW - 301, NOW + 301, 0):
        with pytest.raises(TimestampExpired):
            signing.check_timestamp(ts, NOW)


@dataclass
class App:
    enabled: bool = True
    sign_type: str = "HMAC-SHA256"
    secret: str | None = SECRET
    public_key_pem: str | None = None


def test_authenticate() -> None:
    msg = _order()
    msg.sign = signing.sign(signing.canonical_from_message(msg), "HMAC-SHA256", SECRET)
    signing.authenticate(msg, App(), NOW + 10)
    with pytest.raises(AppDisabled):
        signing.authenticate(msg, App(enabled=False), NOW)
    with pytest.raises(TimestampExpired):
        signing.authenticate(msg, App(), NOW + 1000)
    with pytest.raises(SignatureInvalid):
        signing.authenticate(msg, App(secret="wrong"), NOW)
    with pytest.raises(SignatureInvalid):
        signing.authenticate(msg, App(sign_type="MD5"), NOW)
    tampered = _order(amount=1)
    tampered.sign = msg.sign
    with pytest.raises(SignatureInvalid):
        signing.authenticate(tampered, App(), NOW)
    unsigned = _order()
    with pytest.raises(SignatureInvalid):
        signing.authenticate(unsigned, App(), NOW)


def test_a_disabled_app_is_reported_only_after_the_signature_verified() -> None:
    msg = _order()
    msg.sign = signing.sign(signing.canonical_from_message(msg), "HMAC-SHA256", SECRET)
    with pytest.raises(AppDisabled):
        signing.authenticate(msg, App(enabled=False), NOW)
    forged = _order()
    forged.sign = signing.sign(signing.canonical_from_message(forged), "HMAC-SHA256", "guess")
    with pytest.raises(SignatureInvalid):
        signing.authenticate(forged, App(enabled=False), NOW)
    with pytest.raises(TimestampExpired):
        signing.authenticate(msg, App(enabled=False), NOW + 1000)
