"""AlipayChannel over a scripted transport: dispatch, exchanges, barcode settlement."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import grpc
import pytest

from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.alipay import sign
from paymesh.channels.alipay.channel import AlipayChannel
from paymesh.channels.alipay.config import AlipayAccount
from paymesh.channels.base import Channel
from paymesh.channels.registry import load_channel_class
from paymesh.channels.transport import HttpRequest, HttpResponse, Transport, make_exchange
from paymesh.errors import ChannelError, ChannelNotEnabled, ChannelUnavailable
from tests.channels.alipay.fakes import FakeAlipay, make_account, new_rsa_key

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
APP_KEY = new_rsa_key()
ALIPAY = FakeAlipay()
ACCOUNT = make_account(ALIPAY, APP_KEY)
CERT_ACCOUNT = make_account(
    ALIPAY, APP_KEY, mode="certificate", certs=ALIPAY.certificates(APP_KEY, NOW)
)
REF = pb.AccountRef(channel="alipay", account_id="ali-test")
ORDER = "P1"

Answer = HttpResponse | Exception
Script = dict[str, list[Answer]]


class ScriptedTransport(Transport):
    """Answers each Alipay method from a queue; records the methods called."""

    def __init__(self, script: Script) -> None:
        super().__init__()
        self.script = script
        self.calls: list[str] = []

    async def send(
        self,
        request: HttpRequest,
        *,
        timeout_seconds: float | None = None,
        exchanges: list[pb.Exchange] | None = None,
    ) -> HttpResponse:
        params = dict(parse_qsl(request.body.decode()))
        assert sign.verify_params(APP_KEY.public_key(), params)
        method = params["method"]
        self.calls.append(method)
        answer = self.script[method].pop(0)
        if isinstance(answer, Exception):
            if exchanges is not None:
                exchanges.append(make_exchange(request, error=str(answer)))
            raise answer
        if exchanges is not None:
            exchanges.append(make_exchange(request, answer))
        return answer


def channel_for(script: Script) -> tuple[AlipayChannel, ScriptedTransport]:
    transport = ScriptedTransport(script)
    return AlipayChannel(transport, clock=lambda: NOW), transport


def ok(method: str, **content: Any) -> HttpResponse:
    return ALIPAY.response(method, {"code": "10000", "msg": "Success", **content})


def fail(method: str, code: str, sub_code: str = "", **content: Any) -> HttpResponse:
    return ALIPAY.response(method, {"code": code, "sub_code": sub_code, **content})


def barcode() -> svc.PayRequest:
    return svc.PayRequest(
        account=REF, method="barcode", order_id=ORDER, amount=100, subject="s", auth_code="2876"
    )


def test_is_a_channel_and_registered() -> None:
    ch, _ = channel_for({})
    typed: Channel[AlipayAccount] = ch
    assert isinstance(typed, Channel)
    assert ch.name == "alipay"
    assert ch.account_model is AlipayAccount
    assert ch.methods == {"qr", "page", "h5", "app", "barcode", "jsapi"}
    assert load_channel_class("alipay") is AlipayChannel


async def test_client_side_methods_make_no_call() -> None:
    ch, transport = channel_for({})
    for method in ("page", "h5", "app"):
        req = svc.PayRequest(account=REF, method=method, order_id=ORDER, amount=1, subject="s")
        out = await ch.pay(ACCOUNT, req)
        assert out.trade.state == pb.TRADE_STATE_PENDING
        assert out.pay_data.pay_url or out.pay_data.app_params["order_string"]
        assert not out.exchanges
    assert transport.calls == []


async def test_qr_fills_exchanges_with_redacted_bodies() -> None:
    ch, _ = channel_for(
        {
            "alipay.trade.precreate": [
                ok("alipay.trade.precreate", out_trade_no=ORDER, qr_code="https://qr.alipay.com/x")
            ]
        }
    )
    req = svc.PayRequest(account=REF, method="qr", order_id=ORDER, amount=1, subject="s")
    out = await ch.pay(ACCOUNT, req)
    assert out.pay_data.code_url == "https://qr.alipay.com/x"
    assert len(out.exchanges) == 1
    assert out.exchanges[0].http_status == 200
    assert "PRIVATE" not in out.exchanges[0].request_body


async def test_barcode_paid_at_once() -> None:
    ch, transport = channel_for(
        {"alipay.trade.pay": [ok("alipay.trade.pay", out_trade_no=ORDER, total_amount="1.00")]}
    )
    out = await ch.pay(ACCOUNT, barcode())
    assert out.trade.state == pb.TRADE_STATE_PAID
    assert transport.calls == ["alipay.trade.pay"]


UNKNOWN: list[Answer] = [
    fail("alipay.trade.pay", "20000", "isp.unknow-error"),
    ChannelUnavailable("provider timed out after 10s"),
]


@pytest.mark.parametrize("first", UNKNOWN, ids=["20000", "timeout"])
async def test_barcode_unknown_then_query_paid(first: Answer) -> None:
    ch, transport = channel_for(
        {
            "alipay.trade.pay": [first],
            "alipay.trade.query": [
                ok("alipay.trade.query", out_trade_no=ORDER, trade_status="TRADE_SUCCESS",
                   total_amount="1.00", trade_no="2026")
            ],
        }
    )  # fmt: skip
    out = await ch.pay(ACCOUNT, barcode())
    assert out.trade.state == pb.TRADE_STATE_PAID
    assert out.trade.channel_trade_no == "2026"
    assert transport.calls == ["alipay.trade.pay", "alipay.trade.query"]
    assert len(out.exchanges) == 2


async def test_barcode_unknown_waiting_buyer_stays_pending() -> None:
    ch, transport = channel_for(
        {
            "alipay.trade.pay": [fail("alipay.trade.pay", "20000")],
            "alipay.trade.query": [
                ok("alipay.trade.query", out_trade_no=ORDER, trade_status="WAIT_BUYER_PAY")
            ],
        }
    )
    out = await ch.pay(ACCOUNT, barcode())
    assert out.trade.state == pb.TRADE_STATE_PENDING
    assert transport.calls == ["alipay.trade.pay", "alipay.trade.query"]


@pytest.mark.parametrize(
    "query_answer",
    [
        fail("alipay.trade.query", "40004", "ACQ.TRADE_NOT_EXIST"),
        ChannelUnavailable("timeout"),
        fail("alipay.trade.query", "20000"),
    ],
    ids=["not_exist", "timeout", "20000"],
)
async def test_barcode_still_unknown_is_cancelled(query_answer: Answer) -> None:
    ch, transport = channel_for(
        {
            "alipay.trade.pay": [fail("alipay.trade.pay", "40004", "ACQ.SYSTEM_ERROR")],
            "alipay.trade.query": [query_answer],
            "alipay.trade.cancel": [
                ok("alipay.trade.cancel", out_trade_no=ORDER, retry_flag="N", action="close")
            ],
        }
    )
    out = await ch.pay(ACCOUNT, barcode())
    assert out.trade.state == pb.TRADE_STATE_CLOSED
    assert transport.calls == ["alipay.trade.pay", "alipay.trade.query", "alipay.trade.cancel"]
    assert len(out.exchanges) == 3


async def test_barcode_cancel_failing_leaves_outcome_unknown() -> None:
    ch, _ = channel_for(
        {
            "alipay.trade.pay": [ChannelUnavailable("timeout")],
            "alipay.trade.query": [ChannelUnavailable("timeout")],
            "alipay.trade.cancel": [ChannelUnavailable("timeout")],
        }
    )
    with pytest.raises(ChannelUnavailable, match="cancel did not go through"):
        await ch.pay(ACCOUNT, barcode())


async def test_barcode_refused_is_channel_error_without_query() -> None:
    ch, transport = channel_for(
        {"alipay.trade.pay": [fail("alipay.trade.pay", "40004", "ACQ.PAYMENT_AUTH_CODE_INVALID")]}
    )
    with pytest.raises(ChannelError):
        await ch.pay(ACCOUNT, barcode())
    assert transport.calls == ["alipay.trade.pay"]


async def test_qr_unknown_is_not_settled_by_the_channel() -> None:
    ch, transport = channel_for({"alipay.trade.precreate": [ChannelUnavailable("timeout")]})
    req = svc.PayRequest(account=REF, method="qr", order_id=ORDER, amount=1, subject="s")
    with pytest.raises(ChannelUnavailable):
        await ch.pay(ACCOUNT, req)
    assert transport.calls == ["alipay.trade.precreate"]


FOLLOW_UPS: list[tuple[str, HttpResponse, Callable[[AlipayChannel], Any]]] = [
    (
        "alipay.trade.query",
        ok("alipay.trade.query", out_trade_no=ORDER, trade_status="TRADE_CLOSED"),
        lambda ch: ch.query(ACCOUNT, svc.QueryRequest(account=REF, order_id=ORDER)),
    ),
    (
        "alipay.trade.close",
        ok("alipay.trade.close", out_trade_no=ORDER),
        lambda ch: ch.close(ACCOUNT, svc.CloseRequest(account=REF, order_id=ORDER)),
    ),
    (
        "alipay.trade.refund",
        ok("alipay.trade.refund", out_trade_no=ORDER, fund_change="Y"),
        lambda ch: ch.refund(
            ACCOUNT, svc.RefundRequest(account=REF, order_id=ORDER, refund_id="R1", amount=1)
        ),
    ),
    (
        "alipay.trade.fastpay.refund.query",
        ok(
            "alipay.trade.fastpay.refund.query", out_request_no="R1", refund_status="REFUND_SUCCESS"
        ),
        lambda ch: ch.query_refund(
            ACCOUNT, svc.QueryRefundRequest(account=REF, order_id=ORDER, refund_id="R1")
        ),
    ),
    (
        "alipay.fund.trans.uni.transfer",
        ok("alipay.fund.trans.uni.transfer", out_biz_no="T1", status="SUCCESS"),
        lambda ch: ch.transfer(
            CERT_ACCOUNT,
            svc.TransferRequest(
                account=REF, transfer_id="T1", amount=1, payee_id="2088102177846880"
            ),
        ),
    ),
    (
        "alipay.fund.trans.common.query",
        ok("alipay.fund.trans.common.query", out_biz_no="T1", status="DEALING"),
        lambda ch: ch.query_transfer(
            ACCOUNT, svc.QueryTransferRequest(account=REF, transfer_id="T1")
        ),
    ),
]


@pytest.mark.parametrize(("method", "answer", "call"), FOLLOW_UPS, ids=[f[0] for f in FOLLOW_UPS])
async def test_follow_ups(
    method: str, answer: HttpResponse, call: Callable[[AlipayChannel], Any]
) -> None:
    ch, transport = channel_for({method: [answer]})
    out = await call(ch)
    assert transport.calls == [method]
    assert len(out.exchanges) == 1


async def test_transfer_on_a_public_key_account_is_refused_before_any_call() -> None:
    """Alipay requires certificate mode for its fund transfers (docs.open.alipay.com/309/106236)."""
    ch, transport = channel_for({})
    request = svc.TransferRequest(
        account=REF, transfer_id="T2", amount=1, payee_id="2088102177846880"
    )
    with pytest.raises(ChannelNotEnabled) as refused:
        await ch.transfer(ACCOUNT, request)
    assert refused.value.metadata["required_mode"] == "certificate"
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert transport.calls == []


async def test_parse_notify() -> None:
    ch, _ = channel_for({})
    body = ALIPAY.notify_body(
        {"notify_id": "n1", "app_id": ACCOUNT.app_id, "out_trade_no": ORDER,
         "trade_status": "TRADE_SUCCESS", "total_amount": "0.01"}
    )  # fmt: skip
    out = await ch.parse_notify(
        ACCOUNT, svc.ParseNotifyRequest(account=REF, http_method="POST", body=body)
    )
    assert out.trade.state == pb.TRADE_STATE_PAID
    bad = await ch.parse_notify(
        ACCOUNT, svc.ParseNotifyRequest(account=REF, http_method="POST", body=body + b"x")
    )
    assert bad.reject_reason
