"""WechatChannel over a scripted transport: exchanges, certificate download and refresh."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.base import Channel
from paymesh.channels.transport import HttpRequest, HttpResponse, Transport, make_exchange
from paymesh.channels.wechat import sign
from paymesh.channels.wechat.channel import WechatChannel
from paymesh.channels.wechat.config import WechatAccount
from paymesh.channels.wechat.protocol import ResponseUnauthenticated, UnknownSerial
from paymesh.errors import ChannelUnavailable
from tests.channels.wechat.fakes import FakePlatform, make_account, new_rsa_key

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
MERCHANT_KEY = new_rsa_key()
REF = pb.AccountRef(channel="wechat", account_id="wx-test")

Handler = Callable[[HttpRequest], HttpResponse]


class ScriptedTransport(Transport):
    """Answers with `handler`, records requests; no network."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self.requests: list[HttpRequest] = []

    async def send(
        self,
        request: HttpRequest,
        *,
        timeout_seconds: float | None = None,
        exchanges: list[pb.Exchange] | None = None,
    ) -> HttpResponse:
        self.requests.append(request)
        response = self.handler(request)
        if exchanges is not None:
            exchanges.append(make_exchange(request, response))
        return response


def channel_for(handler: Handler) -> tuple[WechatChannel, ScriptedTransport]:
    transport = ScriptedTransport(handler)
    return WechatChannel(transport, clock=lambda: NOW, nonce=lambda: "NONCE"), transport


def test_is_a_channel() -> None:
    ch, _ = channel_for(lambda r: HttpResponse(500, {}, b""))
    typed: Channel[WechatAccount] = ch
    assert isinstance(typed, Channel)
    assert ch.name == "wechat"
    assert ch.methods == {"qr", "h5", "app", "jsapi"}


async def test_pay_fills_exchanges_with_redacted_bodies() -> None:
    platform = FakePlatform()
    account = make_account(platform, MERCHANT_KEY)
    ch, transport = channel_for(lambda r: platform.response(200, {"prepay_id": "wx2016"}, NOW))
    req = svc.PayRequest(
        account=REF,
        method="jsapi",
        order_id="P1",
        amount=100,
        subject="s",
        payer_id="oSECRETOPENID",
        notify_url="https://x/cb",
    )
    out = await ch.pay(account, req)
    assert out.pay_data.prepay_id == "wx2016"
    assert out.pay_data.app_params["package"] == "prepay_id=wx2016"
    assert len(out.exchanges) == 1
    ex = out.exchanges[0]
    assert ex.http_method == "POST"
    assert ex.http_status == 200
    assert ex.url.endswith("/v3/pay/transactions/jsapi")
    assert "oSECRETOPENID" not in ex.request_body
    assert json.loads(ex.request_body)["out_trade_no"] == "P1"
    assert "Authorization" not in ex.request_body
    assert transport.requests[0].headers["Authorization"].startswith(sign.SCHEME)


async def test_response_with_bad_signature_never_terminal() -> None:
    platform = FakePlatform()
    account = make_account(platform, MERCHANT_KEY)

    def forged(r: HttpRequest) -> HttpResponse:
        good = platform.response(200, {"out_trade_no": "P1", "trade_state": "NOTPAY"}, NOW)
        return HttpResponse(200, good.headers, good.body.replace(b"NOTPAY", b"SUCCESS"))

    ch, _ = channel_for(forged)
    with pytest.raises(ChannelUnavailable, match="signature invalid"):
        await ch.query(account, svc.QueryRequest(account=REF, order_id="P1"))


async def test_download_mode_fetches_caches_and_refreshes_certificates() -> None:
    old = FakePlatform.with_certificate(NOW)
    new = FakePlatform.with_certificate(NOW, api_v3_key=old.api_v3_key)
    account = make_account(old, MERCHANT_KEY, mode="download")
    signer = {"current": old}
    downloads = []

    def handler(r: HttpRequest) -> HttpResponse:
        p = signer["current"]
        if r.url.endswith("/v3/certificates"):
            downloads.append(r)
            return p.response(200, p.certificates_body(NOW), NOW)
        return p.response(200, {"out_trade_no": "P1", "trade_state": "NOTPAY"}, NOW)

    ch, _ = channel_for(handler)
    q = svc.QueryRequest(account=REF, order_id="P1")
    out = await ch.query(account, q)
    assert out.trade.state == pb.TRADE_STATE_PENDING
    assert len(downloads) == 1
    assert [e.url.rsplit("/", 1)[-1] for e in out.exchanges][-1] == "certificates"
    await ch.query(account, q)
    assert len(downloads) == 1  # cached

    # the platform rotates: an unknown serial triggers a refresh, rate-limited per minute
    signer["current"] = new
    with pytest.raises(UnknownSerial):
        await ch.query(account, q)  # refreshed less than a minute ago: not again
    assert len(downloads) == 1
    for cache in ch._certs.values():
        cache.fetched_at -= 120
    out = await ch.query(account, q)
    assert out.trade.provider_state == "NOTPAY"
    assert len(downloads) == 2


async def test_certificate_download_with_wrong_apiv3_key_fails_closed() -> None:
    platform = FakePlatform.with_certificate(NOW)
    account = make_account(platform, MERCHANT_KEY, mode="download", api_v3_key="b" * 32)
    ch, _ = channel_for(lambda r: platform.response(200, platform.certificates_body(NOW), NOW))
    with pytest.raises(ChannelUnavailable, match="decrypted"):
        await ch.query(account, svc.QueryRequest(account=REF, order_id="P1"))


async def test_certificate_response_must_be_signed_by_a_downloaded_cert() -> None:
    platform = FakePlatform.with_certificate(NOW)
    impostor = FakePlatform.with_certificate(NOW, api_v3_key=platform.api_v3_key)
    account = make_account(platform, MERCHANT_KEY, mode="download")

    def handler(r: HttpRequest) -> HttpResponse:
        body = json.dumps(platform.certificates_body(NOW)).encode()
        headers = impostor.signed_headers(body, NOW, serial=platform.serial)
        return HttpResponse(200, headers, body)

    ch, _ = channel_for(handler)
    with pytest.raises(ResponseUnauthenticated):
        await ch.query(account, svc.QueryRequest(account=REF, order_id="P1"))


async def test_parse_notify_refreshes_on_unknown_serial() -> None:
    old = FakePlatform.with_certificate(NOW)
    new = FakePlatform.with_certificate(NOW, api_v3_key=old.api_v3_key)
    account = make_account(old, MERCHANT_KEY, mode="download")
    signer = {"current": old}
    ch, _ = channel_for(
        lambda r: signer["current"].response(200, signer["current"].certificates_body(NOW), NOW)
    )
    resource = {
        "mchid": account.mchid,
        "out_trade_no": "P1",
        "trade_state": "SUCCESS",
        "transaction_id": "42",
        "amount": {"total": 100, "currency": "CNY"},
    }
    headers, body = old.callback("TRANSACTION.SUCCESS", resource, "transaction", NOW)
    req = svc.ParseNotifyRequest(account=REF, http_method="POST", headers=headers, body=body)
    out = await ch.parse_notify(account, req)
    assert out.trade.state == pb.TRADE_STATE_PAID

    signer["current"] = new
    for cache in ch._certs.values():
        cache.fetched_at -= 120
    headers, body = new.callback("TRANSACTION.SUCCESS", resource, "transaction", NOW)
    req = svc.ParseNotifyRequest(account=REF, http_method="POST", headers=headers, body=body)
    out = await ch.parse_notify(account, req)
    assert out.reject_reason == ""
    assert out.trade.amount == 100

    stranger = FakePlatform.with_certificate(NOW, api_v3_key=old.api_v3_key)
    headers, body = stranger.callback("TRANSACTION.SUCCESS", resource, "transaction", NOW)
    req = svc.ParseNotifyRequest(account=REF, http_method="POST", headers=headers, body=body)
    out = await ch.parse_notify(account, req)
    assert out.reject_reason
    assert out.WhichOneof("event") is None
