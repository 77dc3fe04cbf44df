"""ChannelServicer over a real grpc.aio server with the error interceptor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest

from paymesh.catalog import CHANNELS
from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channel.v1 import channel_service_pb2_grpc as svc_grpc
from paymesh.channels.registry import build_channels
from paymesh.channels.service import ChannelServicer
from paymesh.channels.transport import HttpRequest, HttpResponse, Transport
from paymesh.channels.wechat.channel import WechatChannel
from paymesh.config.models import ChannelAccountBase
from paymesh.errors import ConfigNotFound
from paymesh.runtime.interceptor import ErrorInterceptor
from paymesh.runtime.status import error_info
from tests.channels.wechat.fakes import FakePlatform, make_account, new_rsa_key
from tests.channels.wechat.test_wechat_channel import ScriptedTransport

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
PLATFORM = FakePlatform()
KEY = new_rsa_key()
ACCOUNTS: dict[tuple[str, str], ChannelAccountBase] = {
    ("wechat", "wx-on"): make_account(PLATFORM, KEY, account_id="wx-on"),
    ("wechat", "wx-off"): make_account(PLATFORM, KEY, account_id="wx-off", enabled=False),
    ("wechat", "wx-qr"): make_account(PLATFORM, KEY, account_id="wx-qr", enabled_methods=["qr"]),
}


class Source:
    async def get_channel_account(self, channel: str, account_id: str) -> ChannelAccountBase:
        try:
            return ACCOUNTS[(channel, account_id)]
        except KeyError:
            raise ConfigNotFound(f"no account {channel}/{account_id}") from None


def answer(r: HttpRequest) -> HttpResponse:
    if r.url.endswith("/native"):
        return PLATFORM.response(200, {"code_url": "weixin://wxpay/bizpayurl?pr=x"}, NOW)
    if "/out-trade-no/" in r.url:
        return PLATFORM.response(200, {"out_trade_no": "P1", "trade_state": "NOTPAY"}, NOW)
    return PLATFORM.response(400, {"code": "PARAM_ERROR", "message": "x"}, NOW)


@pytest.fixture
async def stub() -> AsyncIterator[Any]:
    channel = WechatChannel(ScriptedTransport(answer), clock=lambda: NOW)
    servicer = ChannelServicer(Source(), {"wechat": channel})
    server = grpc.aio.server(interceptors=[ErrorInterceptor()])
    svc_grpc.add_ChannelServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield svc_grpc.ChannelServiceStub(ch)
    await server.stop(None)


def ref(account_id: str, channel: str = "wechat") -> pb.AccountRef:
    return pb.AccountRef(channel=channel, account_id=account_id)


def pay(account_id: str, method: str = "qr", channel: str = "wechat") -> svc.PayRequest:
    return svc.PayRequest(
        account=ref(account_id, channel),
        method=method,
        order_id="P1",
        amount=100,
        subject="s",
        notify_url="https://x/cb",
        client_ip="203.0.113.1",
    )


async def reason_of(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await call
    info = error_info(e.value)
    assert info is not None
    return e.value.code(), info.reason


async def test_pay_and_query(stub: Any) -> None:
    out = await stub.Pay(pay("wx-on"))
    assert out.pay_data.code_url.startswith("weixin://")
    assert out.trade.state == pb.TRADE_STATE_PENDING
    assert len(out.exchanges) == 1
    q = await stub.Query(svc.QueryRequest(account=ref("wx-on"), order_id="P1"))
    assert q.trade.provider_state == "NOTPAY"
    assert len(q.exchanges) == 1


async def test_unknown_channel(stub: Any) -> None:
    code, reason = await reason_of(stub.Pay(pay("a1", channel="paypal")))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CHANNEL_NOT_ENABLED")


async def test_unknown_account(stub: Any) -> None:
    code, reason = await reason_of(stub.Pay(pay("nope")))
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "CONFIG_NOT_FOUND")


async def test_disabled_account_takes_no_payments_but_settles(stub: Any) -> None:
    _, reason = await reason_of(stub.Pay(pay("wx-off")))
    assert reason == "CHANNEL_NOT_ENABLED"
    refund = svc.RefundRequest(
        account=ref("wx-off"), order_id="P1", refund_id="R1", amount=1, total_amount=1
    )
    _, reason = await reason_of(stub.Refund(refund))
    assert reason == "CHANNEL_NOT_ENABLED"
    q = await stub.Query(svc.QueryRequest(account=ref("wx-off"), order_id="P1"))
    assert q.trade.state == pb.TRADE_STATE_PENDING


async def test_method_not_enabled(stub: Any) -> None:
    _, reason = await reason_of(stub.Pay(pay("wx-qr", method="h5")))
    assert reason == "CHANNEL_NOT_ENABLED"
    _, reason = await reason_of(stub.Pay(pay("wx-on", method="barcode")))
    assert reason == "CHANNEL_NOT_ENABLED"
    out = await stub.Pay(pay("wx-qr", method="qr"))
    assert out.pay_data.code_url


async def test_provider_refusal_is_channel_error(stub: Any) -> None:
    req = svc.QueryRefundRequest(account=ref("wx-on"), order_id="P1", refund_id="R1")
    code, reason = await reason_of(stub.QueryRefund(req))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CHANNEL_ERROR")


async def test_parse_notify_over_grpc(stub: Any) -> None:
    resource = {
        "mchid": "1900000109",
        "out_trade_no": "P1",
        "trade_state": "SUCCESS",
        "transaction_id": "42",
        "amount": {"total": 100, "currency": "CNY"},
    }
    # the channel's clock is NOW; sign with NOW so the window holds
    headers, body = PLATFORM.callback("TRANSACTION.SUCCESS", resource, "transaction", NOW)
    req = svc.ParseNotifyRequest(
        account=ref("wx-on"), http_method="POST", headers=headers, body=body
    )
    out = await stub.ParseNotify(req)
    assert out.trade.state == pb.TRADE_STATE_PAID
    assert out.ack.http_status == 200
    headers["wechatpay-signature"] = "WECHATPAY/SIGNTEST/" + headers["wechatpay-signature"]
    req = svc.ParseNotifyRequest(
        account=ref("wx-on"), http_method="POST", headers=headers, body=body
    )
    out = await stub.ParseNotify(req)
    assert out.reject_reason
    assert out.nack.http_status == 401
    assert not out.HasField("trade")


async def test_registry_builds_every_catalog_channel() -> None:
    transport = Transport()
    servicer = ChannelServicer(Source(), build_channels(transport))
    assert set(servicer.channels) == {c.name for c in CHANNELS}
    await servicer.aclose()
