"""UnionPay adapter and notify parsing from signed answers made here (table-driven):
k=v parsing, respCode / origRespCode maps, answers for another order, notify checks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

import pytest

from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.sandbox.unionpay_pki import UnionpayPKI
from paymesh.channels.transport import HttpResponse
from paymesh.channels.unionpay import adapter, protocol, sign
from paymesh.channels.unionpay.config import UnionpayAccount
from paymesh.channels.unionpay.notify import parse_notify
from paymesh.channels.unionpay.transformers import encode_kv, parse_kv, txn_time_of
from paymesh.core.ids import IdGenerator
from paymesh.errors import ChannelError, ChannelUnavailable, InvalidArgument
from tests.channels.unionpay.fakes import MER_ID, account_for
from tests.channels.unionpay.fakes import answer as fake_answer

REF = pb.AccountRef(channel="unionpay", account_id="up")
IDS = IdGenerator(1, 2)
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def pki() -> UnionpayPKI:
    return UnionpayPKI()


@pytest.fixture(scope="module")
def account(pki: UnionpayPKI) -> UnionpayAccount:
    return account_for(pki)


def answer(pki: UnionpayPKI, fields: Mapping[str, str], status: int = 200) -> HttpResponse:
    return fake_answer(pki, fields, status)


# --- k=v ------------------------------------------------------------------------------------


def test_parse_kv_keeps_braced_values_and_equals_signs() -> None:
    text = "a=1&reqReserved={x=1&y=2}&signPubKeyCert=-----BEGIN==\r\nX==&b="
    assert parse_kv(text) == {
        "a": "1", "reqReserved": "{x=1&y=2}", "signPubKeyCert": "-----BEGIN==\r\nX==", "b": "",
    }  # fmt: skip


@pytest.mark.parametrize("text", ["", "a=1&a=2", "novalue", "=x"])
def test_parse_kv_refuses_malformed(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        parse_kv(text)


def test_txn_time_is_the_time_inside_the_id() -> None:
    oid = IDS.order_id()
    got = dt.datetime.strptime(txn_time_of(oid), "%Y%m%d%H%M%S")
    china_now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None)
    assert abs((china_now - got).total_seconds()) < 5
    assert txn_time_of(oid) == txn_time_of(oid)
    with pytest.raises(ValueError, match="paymesh id"):
        txn_time_of("shop-order-1")


# --- requests ---------------------------------------------------------------------------------


def test_app_request_is_a_signed_consume(account: UnionpayAccount) -> None:
    oid = IDS.order_id()
    req = svc.PayRequest(account=REF, method="app", order_id=oid, amount=1999)
    http = adapter.build_app_request(req, account, NOW)
    assert http.url == "https://gateway.test.95516.com/gateway/api/appTransReq.do"
    fields = dict(parse_qsl(http.body.decode()))
    assert fields["txnAmt"] == "1999"
    assert fields["currencyCode"] == "156"
    assert fields["txnTime"] == txn_time_of(oid)
    assert fields["backUrl"] == "https://shop.example/n"
    assert fields["certId"] == account.signing_cert().cert_id
    assert sign.verify_fields(account.signing_cert().cert.public_key(), fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"amount": 0}, "amount"), ({"currency": "USD"}, "currency"),
     ({"order_id": "shop_order_1"}, "order_id"), ({"order_id": ""}, "order_id")],
)  # fmt: skip
def test_bad_pay_requests_are_invalid_arguments(
    account: UnionpayAccount, change: dict[str, object], field: str
) -> None:
    req = svc.PayRequest(account=REF, method="app", order_id=IDS.order_id(), amount=1)
    for k, v in change.items():
        setattr(req, k, v)
    with pytest.raises(InvalidArgument) as err:
        adapter.build_app_request(req, account, NOW)
    assert err.value.metadata["field"] == field


# --- answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("orig", "state"),
    [("00", pb.TRADE_STATE_PAID), ("A6", pb.TRADE_STATE_PAID), ("03", pb.TRADE_STATE_PENDING),
     ("04", pb.TRADE_STATE_PENDING), ("05", pb.TRADE_STATE_PENDING),
     ("30", pb.TRADE_STATE_PENDING), ("XX", pb.TRADE_STATE_PENDING)],
)  # fmt: skip
def test_query_maps_orig_resp_code(
    pki: UnionpayPKI, account: UnionpayAccount, orig: str, state: int
) -> None:
    oid = IDS.order_id()
    resp = answer(pki, {"respCode": "00", "orderId": oid, "origRespCode": orig, "txnAmt": "5",
                        "queryId": "1" * 21})  # fmt: skip
    trade = adapter.parse_query_response(
        svc.QueryRequest(account=REF, order_id=oid), account, resp, NOW
    ).trade
    assert trade.state == state
    assert trade.provider_state == orig
    assert trade.amount == 5


@pytest.mark.parametrize(
    ("fields", "error"),
    [({"respCode": "03"}, ChannelUnavailable), ({"respCode": "05"}, ChannelUnavailable),
     ({"respCode": "00"}, ChannelUnavailable),  # no origRespCode
     ({"respCode": "12"}, ChannelError), ({"respCode": "00", "origRespCode": "00",
                                            "orderId": "P999999999"}, ChannelUnavailable)],
)  # fmt: skip
def test_query_refusals_and_unknowns(
    pki: UnionpayPKI, account: UnionpayAccount, fields: dict[str, str], error: type[Exception]
) -> None:
    req = svc.QueryRequest(account=REF, order_id=IDS.order_id())
    with pytest.raises(error):
        adapter.parse_query_response(req, account, answer(pki, fields), NOW)


def test_query_not_found_is_pending(pki: UnionpayPKI, account: UnionpayAccount) -> None:
    req = svc.QueryRequest(account=REF, order_id=IDS.order_id())
    trade = adapter.parse_query_response(req, account, answer(pki, {"respCode": "34"}), NOW).trade
    assert (trade.state, trade.provider_state) == (pb.TRADE_STATE_PENDING, "34")


@pytest.mark.parametrize(
    ("orig", "state"),
    [("00", pb.RESULT_STATE_SUCCEEDED), ("05", pb.RESULT_STATE_PENDING),
     ("30", pb.RESULT_STATE_FAILED)],
)  # fmt: skip
def test_refund_query_maps_orig_resp_code(
    pki: UnionpayPKI, account: UnionpayAccount, orig: str, state: int
) -> None:
    rid = IDS.refund_id()
    resp = answer(pki, {"respCode": "00", "orderId": rid, "origRespCode": orig, "txnAmt": "9"})
    refund = adapter.parse_query_refund_response(
        svc.QueryRefundRequest(account=REF, order_id="P1", refund_id=rid), account, resp, NOW
    ).refund
    assert (refund.state, refund.amount) == (state, 9)


def test_refund_accepted_is_pending_and_unknown_is_unavailable(
    pki: UnionpayPKI, account: UnionpayAccount
) -> None:
    rid = IDS.refund_id()
    req = svc.RefundRequest(account=REF, order_id="P1", refund_id=rid, amount=3)
    ok = adapter.parse_refund_response(req, account, answer(pki, {"respCode": "00"}), NOW)
    assert ok.refund.state == pb.RESULT_STATE_PENDING
    with pytest.raises(ChannelUnavailable):
        adapter.parse_refund_response(req, account, answer(pki, {"respCode": "04"}), NOW)
    with pytest.raises(ChannelError) as err:
        adapter.parse_refund_response(req, account, answer(pki, {"respCode": "35"}), NOW)
    assert err.value.metadata["provider_code"] == "35"


@pytest.mark.parametrize("status", [500, 502, 404])
def test_http_errors_are_unknown(pki: UnionpayPKI, account: UnionpayAccount, status: int) -> None:
    req = svc.QueryRequest(account=REF, order_id=IDS.order_id())
    with pytest.raises(ChannelUnavailable):
        adapter.parse_query_response(req, account, answer(pki, {"respCode": "00"}, status), NOW)


def test_answers_that_do_not_authenticate_are_unknown(
    pki: UnionpayPKI, account: UnionpayAccount
) -> None:
    req = svc.QueryRequest(account=REF, order_id=IDS.order_id())
    fields = pki.sign_as_unionpay({"merId": MER_ID, "respCode": "12"})
    tampered = HttpResponse(200, {}, encode_kv({**fields, "respCode": "13"}).encode())
    with pytest.raises(protocol.ResponseUnauthenticated):
        adapter.parse_query_response(req, account, tampered, NOW)
    unsigned = HttpResponse(200, {}, b"respCode=12&respMsg=x")
    with pytest.raises(protocol.ResponseUnauthenticated):
        adapter.parse_query_response(req, account, unsigned, NOW)
    other_mer = answer(pki, {"respCode": "00", "merId": "777290058119999"})
    with pytest.raises(ChannelUnavailable, match="merId"):
        adapter.parse_query_response(req, account, other_mer, NOW)


# --- notifies ---------------------------------------------------------------------------------


def _notify(pki: UnionpayPKI, signer: object = None, **fields: str) -> svc.ParseNotifyRequest:
    base = {"merId": MER_ID, "txnType": "01", "txnSubType": "01", "orderId": "P0123456789",
            "txnAmt": "1999", "queryId": "7" * 21, "respCode": "00", **fields}  # fmt: skip
    signed = pki.sign_as_unionpay(base, signer)  # type: ignore[arg-type]
    return svc.ParseNotifyRequest(account=REF, http_method="POST", body=urlencode(signed).encode())


def test_notify_paid(pki: UnionpayPKI, account: UnionpayAccount) -> None:
    out = parse_notify(_notify(pki), account, NOW)
    assert not out.reject_reason
    assert (out.trade.state, out.trade.order_id, out.trade.amount) == (
        pb.TRADE_STATE_PAID, "P0123456789", 1999,
    )  # fmt: skip
    assert out.provider_event_id == "01:" + "7" * 21
    assert out.ack.http_status == 200


def test_notify_refund_and_cancel(pki: UnionpayPKI, account: UnionpayAccount) -> None:
    out = parse_notify(_notify(pki, txnType="04", txnSubType="00", orderId="R0123456789",
                               txnAmt="500"), account, NOW)  # fmt: skip
    assert (out.refund.state, out.refund.refund_id, out.refund.amount) == (
        pb.RESULT_STATE_SUCCEEDED, "R0123456789", 500,
    )  # fmt: skip
    cancel = parse_notify(_notify(pki, txnType="31", txnSubType="00"), account, NOW)
    assert not cancel.reject_reason
    assert cancel.WhichOneof("event") is None


def test_notify_rejections(pki: UnionpayPKI, account: UnionpayAccount) -> None:
    expired = pki.issue_unionpay(expired=True)
    foreign = UnionpayPKI("foreign")
    cases = {
        "another merId": _notify(pki, merId="777290058119999"),
        "expired": _notify(pki, signer=expired),
        "chain": _notify(foreign),
        "CN": _notify(pki, signer=pki.issue_merchant(MER_ID)),
    }
    for reason, req in cases.items():
        out = parse_notify(req, account, NOW)
        assert reason in out.reject_reason, (reason, out.reject_reason)
        assert out.WhichOneof("event") is None
        assert out.nack.http_status == 500
    good = _notify(pki)
    tampered = good.body.replace(b"txnAmt=1999", b"txnAmt=1")
    out = parse_notify(svc.ParseNotifyRequest(account=REF, body=tampered), account, NOW)
    assert "signature" in out.reject_reason
    get = svc.ParseNotifyRequest(account=REF, http_method="GET", body=good.body)
    assert parse_notify(get, account, NOW).reject_reason == "notifies must be POST"
