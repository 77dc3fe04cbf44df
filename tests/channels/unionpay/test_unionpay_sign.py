"""UnionPay ACP 5.1.0 signing: the published vector, the double hash, certificate chains."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from paymesh.channels.sandbox.unionpay_pki import UnionpayPKI
from paymesh.channels.unionpay import sign
from paymesh.channels.unionpay.sign import CertificateRejected

VECTOR = Path("/work/shared/vectors/unionpay/consume-response.json")
# The vector's own signing certificate was valid 2020-07-31 .. 2025-07-31.
VECTOR_TIME = dt.datetime(2022, 9, 8, 5, 22, 6, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def vector() -> dict[str, Any]:
    if VECTOR.exists():
        data: dict[str, Any] = json.loads(VECTOR.read_text("utf-8"))
    else:  # a fresh clone without the shared folder: the copy kept beside the tests
        data = json.loads((Path(__file__).parent / "consume-response.json").read_text("utf-8"))
    return data


def _fields(vector: dict[str, Any]) -> dict[str, str]:
    return {**vector["fields"], "signature": vector["signature"]}


def _vector_key(vector: dict[str, Any]) -> rsa.RSAPublicKey:
    cert = sign.load_certificates(vector["fields"]["signPubKeyCert"])[0]
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def test_canonical_string_sorts_skips_empty_and_signature() -> None:
    fields = {"txnType": "01", "accessType": "0", "reqReserved": "", "signature": "x", "a": "1"}
    assert sign.canonical(fields) == "a=1&accessType=0&txnType=01"


def test_vector_canonical_sha256_matches_the_published_digest(vector: dict[str, Any]) -> None:
    assert sign.digest_hex(_fields(vector)) == vector["canonical_sha256_hex"]


def test_vector_verifies(vector: dict[str, Any]) -> None:
    assert sign.verify_fields(_vector_key(vector), _fields(vector))


def test_vector_cert_identity_is_unionpay(vector: dict[str, Any]) -> None:
    cert = sign.load_certificates(vector["fields"]["signPubKeyCert"])[0]
    assert sign.identity(cert) == sign.UNIONPAY_CN_NAME


def test_vector_is_a_double_hash_not_a_single_sha256withrsa(vector: dict[str, Any]) -> None:
    fields = _fields(vector)
    raw = base64.b64decode(fields["signature"])
    key = _vector_key(vector)
    canonical = sign.canonical(fields).encode("utf-8")
    # the RSA signature covers the lowercase hex digest ...
    hex_digest = hashlib.sha256(canonical).hexdigest().encode("ascii")
    key.verify(raw, hex_digest, padding.PKCS1v15(), hashes.SHA256())
    # ... not the canonical string itself, nor the uppercase hex
    with pytest.raises(Exception, match=r".*"):
        key.verify(raw, canonical, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(Exception, match=r".*"):
        key.verify(raw, hex_digest.upper(), padding.PKCS1v15(), hashes.SHA256())


def _mutate(value: str, i: int) -> str:
    c = value[i]
    return value[:i] + ("B" if c != "B" else "C") + value[i + 1 :]


def test_vector_rejected_after_any_one_byte_change(vector: dict[str, Any]) -> None:
    key = _vector_key(vector)
    fields = _fields(vector)
    changed = 0
    for name, value in fields.items():
        if name == "signature":
            continue
        for i in range(len(value)):
            tampered = {**fields, name: _mutate(value, i)}
            assert not sign.verify_fields(key, tampered), (name, i)
            changed += 1
    raw = bytearray(base64.b64decode(fields["signature"]))
    for i in range(len(raw)):
        bad = bytearray(raw)
        bad[i] ^= 0x01
        tampered = {**fields, "signature": base64.b64encode(bytes(bad)).decode()}
        assert not sign.verify_fields(key, tampered), ("signature", i)
    assert changed > 2000
    # a dropped field, an added one, and a missing signature are changes too
    assert not sign.verify_fields(key, {k: v for k, v in fields.items() if k != "traceNo"})
    assert not sign.verify_fields(key, {**fields, "reqReserved": "x"})
    assert not sign.verify_fields(key, {k: v for k, v in fields.items() if k != "signature"})
    assert not sign.verify_fields(key, {**fields, "signature": "not base64!"})


def test_sign_then_verify_round_trip_uses_the_double_hash() -> None:
    pki = UnionpayPKI()
    merchant = pki.issue_merchant("777290058110048")
    fields = {"merId": "777290058110048", "orderId": "P0001", "txnAmt": "1", "empty": ""}
    signature = sign.sign_fields(merchant.key, fields)
    pub = merchant.key.public_key()
    pub.verify(
        base64.b64decode(signature),
        sign.digest_hex(fields).encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    assert sign.verify_fields(pub, {**fields, "signature": signature})


# --- PKCS#12 -----------------------------------------------------------------------------


def test_pkcs12_round_trip_and_cert_id_is_decimal_serial() -> None:
    pki = UnionpayPKI()
    merchant = pki.issue_merchant("777290058110048")
    p12 = sign.export_pkcs12(merchant.cert, merchant.key, "000000")
    loaded = sign.load_pkcs12(p12, "000000")
    assert loaded.cert_id == str(merchant.cert.serial_number)
    assert loaded.cert_id.isdigit()
    with pytest.raises(ValueError, match="password"):
        sign.load_pkcs12(p12, "wrong")
    with pytest.raises(ValueError, match="base64"):
        sign.load_pkcs12_b64("%%%", "000000")


# --- certificate chain -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki() -> UnionpayPKI:
    return UnionpayPKI()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _roots(pki: UnionpayPKI) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    return [pki.root.cert], [pki.intermediate.cert]


def test_chain_accepted(pki: UnionpayPKI) -> None:
    roots, inter = _roots(pki)
    msg = pki.sign_as_unionpay({"respCode": "00", "orderId": "P1"})
    sign.verify_message(msg, roots, inter, _now())


def test_chain_with_crlf_or_lf_pem_accepted(pki: UnionpayPKI) -> None:
    roots, inter = _roots(pki)
    msg = pki.sign_as_unionpay({"respCode": "00"})
    assert "\r\n" in msg["signPubKeyCert"]  # as UnionPay sends it
    sign.verify_message(msg, roots, inter, _now())
    msg["signPubKeyCert"] = msg["signPubKeyCert"].replace("\r\n", "\n")
    msg["signature"] = sign.sign_fields(pki.unionpay.key, msg)
    sign.verify_message(msg, roots, inter, _now())


def test_wrong_root_rejected(pki: UnionpayPKI) -> None:
    other = UnionpayPKI("another CA")
    msg = other.sign_as_unionpay({"respCode": "00"})
    roots, inter = _roots(pki)
    with pytest.raises(CertificateRejected, match="chain"):
        sign.verify_message(msg, roots, inter, _now())
    # nor does the foreign intermediate help when only our root is trusted
    with pytest.raises(CertificateRejected, match="chain"):
        sign.verify_message(msg, roots, [*inter, other.intermediate.cert], _now())


def test_missing_intermediate_rejected(pki: UnionpayPKI) -> None:
    msg = pki.sign_as_unionpay({"respCode": "00"})
    with pytest.raises(CertificateRejected, match="chain"):
        sign.verify_message(msg, [pki.root.cert], [], _now())


def test_expired_signing_cert_rejected(pki: UnionpayPKI) -> None:
    expired = pki.issue_unionpay(expired=True)
    msg = pki.sign_as_unionpay({"respCode": "00"}, signer=expired)
    roots, inter = _roots(pki)
    with pytest.raises(CertificateRejected, match="expired"):
        sign.verify_message(msg, roots, inter, _now())
    # the same message was fine while the certificate was valid
    sign.verify_message(msg, roots, inter, expired.cert.not_valid_after_utc - dt.timedelta(1))


def test_wrong_cn_rejected(pki: UnionpayPKI) -> None:
    roots, inter = _roots(pki)
    for signer in (
        pki.issue_unionpay(owner="中国银联股份有限公司x"),
        pki.issue("041@8310000000083040@00040000:SIGN@00016495"),
        pki.issue("中国银联股份有限公司"),
        pki.issue_merchant("777290058110048"),
    ):
        msg = pki.sign_as_unionpay({"respCode": "00"}, signer=signer)
        with pytest.raises(CertificateRejected, match="CN"):
            sign.verify_message(msg, roots, inter, _now())


def test_leaf_posing_as_intermediate_rejected(pki: UnionpayPKI) -> None:
    # a merchant certificate (not a CA) cannot issue a "UnionPay" certificate
    merchant = pki.issue_merchant("777290058110048")
    from paymesh.channels.sandbox.unionpay_pki import make_cert, new_key

    forged = make_cert(
        pki.unionpay.cert.subject, new_key(), merchant, ca=False,
        not_before=_now() - dt.timedelta(days=1), not_after=_now() + dt.timedelta(days=30),
    )  # fmt: skip
    msg = pki.sign_as_unionpay({"respCode": "00"}, signer=forged)
    roots, inter = _roots(pki)
    with pytest.raises(CertificateRejected, match="chain"):
        sign.verify_message(msg, roots, [*inter, merchant.cert], _now())


def test_valid_cert_bad_signature_rejected(pki: UnionpayPKI) -> None:
    roots, inter = _roots(pki)
    msg = pki.sign_as_unionpay({"respCode": "00", "txnAmt": "100"})
    msg["txnAmt"] = "101"
    with pytest.raises(ValueError, match="signature"):
        sign.verify_message(msg, roots, inter, _now())
    msg = pki.sign_as_unionpay({"respCode": "00"})
    del msg["signPubKeyCert"]
    with pytest.raises(ValueError, match="signPubKeyCert"):
        sign.verify_message(msg, roots, inter, _now())


def test_vector_cert_rejected_after_expiry_and_without_its_chain(vector: dict[str, Any]) -> None:
    pki = UnionpayPKI()
    fields = _fields(vector)
    with pytest.raises(CertificateRejected, match="chain"):
        sign.verify_message(fields, [pki.root.cert], [pki.intermediate.cert], VECTOR_TIME)
    with pytest.raises(CertificateRejected, match="expired"):
        sign.verify_message(fields, [pki.root.cert], [pki.intermediate.cert], _now())
