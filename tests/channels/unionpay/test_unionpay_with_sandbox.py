"""paymesh's UnionPay channel against the provider sandbox (channels/sandbox/unionpay):
registration, page/h5 forms submitted to frontTransReq.do, app tn, pay, backUrl notifies,
query, refund, refund query, close (nothing to close / consume cancel), transfer refused,
and the sandbox's refusals (bad signature, unknown merchant) and faults."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from paymesh import cli
from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.sandbox import SandboxServer, SandboxState, start_sandbox
from paymesh.channels.sandbox.unionpay_pki import UnionpayPKI
from paymesh.channels.transport import Transport
from paymesh.channels.unionpay import protocol
from paymesh.channels.unionpay.channel import UnionpayChannel
from paymesh.channels.unionpay.config import UnionpayAccount
from paymesh.core.ids import IdGenerator
from paymesh.errors import ChannelError, ChannelUnavailable, OperationNotOffered

REF = pb.AccountRef(channel="unionpay", account_id="up-sandbox")
IDS = IdGenerator(3, 7)


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = await start_sandbox(state=SandboxState(refund_delay=0.2, callback_retry_delays=(0.1,)))
    yield server
    await server.close()


class Notifies:
    def __init__(self) -> None:
        self.url = ""
        self.got: list[bytes] = []
        self.event = asyncio.Event()

    async def wait_for(self, count: int, within: float = 5.0) -> list[bytes]:
        async with asyncio.timeout(within):
            while len(self.got) < count:
                self.event.clear()
                await self.event.wait()
        return list(self.got)


@pytest.fixture
async def notifies() -> AsyncIterator[Notifies]:
    rec = Notifies()

    async def handle(request: web.Request) -> web.Response:
        rec.got.append(await request.read())
        rec.event.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/notify", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/notify"
    yield rec
    await runner.cleanup()


@pytest.fixture
async def channel() -> AsyncIterator[UnionpayChannel]:
    ch = UnionpayChannel(Transport(timeout_seconds=5))
    yield ch
    await ch.aclose()


async def register(http: aiohttp.ClientSession, sandbox: SandboxServer) -> dict[str, Any]:
    mer_id = "777" + "".join(secrets.choice("0123456789") for _ in range(12))
    body = {"channel": "unionpay", "merchant_id": mer_id, "app_id": mer_id}
    async with http.post(sandbox.url + "/_sandbox/merchants", json=body) as resp:
        assert resp.status == 200, await resp.text()
        reg: dict[str, Any] = await resp.json()
    return reg


def account_of(reg: dict[str, Any], base_url: str, notify_url: str) -> UnionpayAccount:
    return UnionpayAccount(
        account_id=REF.account_id,
        base_url=base_url,
        mer_id=reg["mer_id"],
        sign_cert_p12=reg["sign_cert_p12"],
        sign_cert_password=reg["sign_cert_password"],
        root_cert_pem=reg["root_cert_pem"],
        middle_cert_pem=reg["middle_cert_pem"],
        notify_url=notify_url,
        front_url="http://127.0.0.1:1/return",
    )


async def pay_in_sandbox(http: aiohttp.ClientSession, sandbox: SandboxServer, order_id: str,
                         mer_id: str) -> None:  # fmt: skip
    body = {"channel": "unionpay", "out_trade_no": order_id, "merchant_id": mer_id}
    async with http.post(sandbox.url + "/_sandbox/pay", json=body) as resp:
        assert resp.status == 200, await resp.text()


def form_fields(form_html: str) -> tuple[str, dict[str, str]]:
    action = unescape(re.search(r'action="([^"]+)"', form_html).group(1))  # type: ignore[union-attr]
    fields = {
        unescape(k): unescape(v)
        for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', form_html)
    }
    return action, fields


def notify_request(body: bytes) -> svc.ParseNotifyRequest:
    return svc.ParseNotifyRequest(
        account=REF, http_method="POST", body=body,
        content_type="application/x-www-form-urlencoded",
    )  # fmt: skip


async def test_registration_answers_pkcs12_and_trust_roots(sandbox: SandboxServer) -> None:
    async with aiohttp.ClientSession() as http:
        reg = await register(http, sandbox)
        account = account_of(reg, sandbox.url, "")
        assert account.signing_cert().cert_id == reg["cert_id"]
        assert reg["trust_roots_pem"] == reg["root_cert_pem"] + reg["middle_cert_pem"]
        async with http.get(sandbox.url + "/_sandbox/unionpay/trust-roots") as resp:
            roots = await resp.json()
        assert roots == {
            "root_cert_pem": reg["root_cert_pem"],
            "middle_cert_pem": reg["middle_cert_pem"],
        }


@pytest.mark.parametrize("method", ["page", "h5"])
async def test_front_consume_pay_notify_query_refund(
    method: str, sandbox: SandboxServer, notifies: Notifies, channel: UnionpayChannel
) -> None:
    async with aiohttp.ClientSession() as http:
        reg = await register(http, sandbox)
        account = account_of(reg, sandbox.url, notifies.url)
        order_id = IDS.order_id()
        pay = await channel.pay(
            account, svc.PayRequest(account=REF, method=method, order_id=order_id, amount=1999)
        )
        assert pay.trade.state == pb.TRADE_STATE_PENDING
        assert not pay.exchanges  # a front consume is the payer's browser's request
        action, fields = form_fields(pay.pay_data.form_html)
        assert action == f"{sandbox.url}/gateway/api/frontTransReq.do"
        assert fields["channelType"] == {"page": "07", "h5": "08"}[method]
        assert (fields["txnType"], fields["txnSubType"], fields["bizType"]) == (
            "01", "01", "000201",
        )  # fmt: skip
        assert fields["certId"] == reg["cert_id"]

        # not submitted yet: UnionPay knows nothing (34) -> PENDING
        query = svc.QueryRequest(account=REF, order_id=order_id)
        assert (await channel.query(account, query)).trade.state == pb.TRADE_STATE_PENDING

        # the payer's browser posts the form and lands on the payer page
        async with http.post(action, data=fields, allow_redirects=False) as resp:
            assert resp.status == 303, await resp.text()
            assert f"/_sandbox/pay/unionpay/{order_id}" in resp.headers["Location"]
        # a tampered form is refused with UnionPay's respCode
        async with http.post(action, data={**fields, "txnAmt": "1"}) as resp:
            assert resp.status == 400
            assert "respCode=11" in await resp.text()

        await pay_in_sandbox(http, sandbox, order_id, account.mer_id)
        (body,) = await notifies.wait_for(1)
        event = await channel.parse_notify(account, notify_request(body))
        assert not event.reject_reason
        assert event.ack.http_status == 200
        assert event.WhichOneof("event") == "trade"
        assert event.trade.state == pb.TRADE_STATE_PAID
        assert (event.trade.order_id, event.trade.amount) == (order_id, 1999)

        found = await channel.query(account, query)
        assert found.trade.state == pb.TRADE_STATE_PAID
        assert found.trade.channel_trade_no == event.trade.channel_trade_no
        assert found.exchanges
        assert "BEGIN CERTIFICATE" not in found.exchanges[0].response_body

        refund_id = IDS.refund_id()
        refund = await channel.refund(
            account,
            svc.RefundRequest(account=REF, order_id=order_id, refund_id=refund_id, amount=500,
                              total_amount=1999, notify_url=notifies.url),
        )  # fmt: skip
        assert refund.refund.state == pb.RESULT_STATE_PENDING
        assert len(refund.exchanges) == 2  # the consume's queryId first, then the refund
        (_, rbody) = await notifies.wait_for(2)
        revent = await channel.parse_notify(account, notify_request(rbody))
        assert revent.refund.state == pb.RESULT_STATE_SUCCEEDED
        assert (revent.refund.refund_id, revent.refund.amount) == (refund_id, 500)

        q = await channel.query_refund(
            account, svc.QueryRefundRequest(account=REF, order_id=order_id, refund_id=refund_id)
        )
        assert q.refund.state == pb.RESULT_STATE_SUCCEEDED
        assert q.refund.amount == 500

        # more than is left is UnionPay's refusal
        with pytest.raises(ChannelError) as err:
            await channel.refund(
                account,
                svc.RefundRequest(account=REF, order_id=order_id, refund_id=IDS.refund_id(),
                                  amount=1500),
            )  # fmt: skip
        assert err.value.metadata["provider_code"] == "35"


async def test_app_tn_and_close_paths(
    sandbox: SandboxServer, notifies: Notifies, channel: UnionpayChannel
) -> None:
    async with aiohttp.ClientSession() as http:
        reg = await register(http, sandbox)
        account = account_of(reg, sandbox.url, notifies.url)

        # an unpaid order: nothing at UnionPay to close
        open_id = IDS.order_id()
        app = await channel.pay(
            account, svc.PayRequest(account=REF, method="app", order_id=open_id, amount=88)
        )
        assert app.pay_data.app_params["tn"].isdigit()
        assert len(app.exchanges) == 1
        closed = await channel.close(account, svc.CloseRequest(account=REF, order_id=open_id))
        assert len(closed.exchanges) == 1

        # a paid order, same day: closing it is a consume cancel (31/00) of the full amount
        paid_id = IDS.order_id()
        await channel.pay(
            account, svc.PayRequest(account=REF, method="app", order_id=paid_id, amount=300)
        )
        await pay_in_sandbox(http, sandbox, paid_id, account.mer_id)
        closed = await channel.close(account, svc.CloseRequest(account=REF, order_id=paid_id))
        assert len(closed.exchanges) == 2
        assert "txnType=31" in closed.exchanges[1].request_body
        async with http.get(sandbox.url + "/_sandbox/trades?channel=unionpay") as resp:
            trades = {t["out_trade_no"]: t for t in (await resp.json())["trades"]}
        assert trades[paid_id]["state"] == "CANCELLED"
        # nothing is left to refund
        with pytest.raises(ChannelError):
            await channel.refund(
                account,
                svc.RefundRequest(account=REF, order_id=paid_id, refund_id=IDS.refund_id(),
                                  amount=300),
            )  # fmt: skip


async def test_transfer_is_not_offered(sandbox: SandboxServer, channel: UnionpayChannel) -> None:
    async with aiohttp.ClientSession() as http:
        account = account_of(await register(http, sandbox), sandbox.url, "http://x/n")
    with pytest.raises(OperationNotOffered, match="no transfers"):
        await channel.transfer(
            account, svc.TransferRequest(account=REF, transfer_id=IDS.transfer_id(), amount=1)
        )
    with pytest.raises(OperationNotOffered):
        await channel.query_transfer(
            account, svc.QueryTransferRequest(account=REF, transfer_id=IDS.transfer_id())
        )


async def test_refusals_and_unauthenticated_answers(
    sandbox: SandboxServer, channel: UnionpayChannel
) -> None:
    async with aiohttp.ClientSession() as http:
        reg = await register(http, sandbox)
        other = await register(http, sandbox)
    pay = svc.PayRequest(account=REF, method="app", order_id=IDS.order_id(), amount=1)

    # signing with another merchant's certificate: respCode 11, signed by "UnionPay"
    wrong_key = account_of(
        {**reg, "sign_cert_p12": other["sign_cert_p12"],
         "sign_cert_password": other["sign_cert_password"]},
        sandbox.url, "http://127.0.0.1:1/n",
    )  # fmt: skip
    with pytest.raises(ChannelError) as err:
        await channel.pay(wrong_key, pay)
    assert err.value.metadata["provider_code"] == "11"

    # answers that do not chain to the configured roots are never believed
    foreign = UnionpayPKI("foreign CA")
    distrusting = account_of(
        {**reg, "root_cert_pem": foreign.root_pem, "middle_cert_pem": foreign.intermediate_pem},
        sandbox.url, "http://127.0.0.1:1/n",
    )  # fmt: skip
    with pytest.raises(protocol.ResponseUnauthenticated, match="chain"):
        await channel.pay(distrusting, pay)


async def test_faults_leave_the_outcome_unknown(
    sandbox: SandboxServer, channel: UnionpayChannel
) -> None:
    async with aiohttp.ClientSession() as http:
        account = account_of(await register(http, sandbox), sandbox.url, "http://127.0.0.1:1/n")
        fault = {"channel": "unionpay", "fault": "http_500", "path": "/gateway/api/appTransReq.do"}
        async with http.post(sandbox.url + "/_sandbox/faults", json=fault) as resp:
            assert resp.status == 200, await resp.text()
    pay = svc.PayRequest(account=REF, method="app", order_id=IDS.order_id(), amount=1)
    with pytest.raises(ChannelUnavailable):
        await channel.pay(account, pay)
    # the fault fired once: the same request now goes through
    assert (await channel.pay(account, pay)).pay_data.app_params["tn"]


async def test_forged_notify_rejected(
    sandbox: SandboxServer, notifies: Notifies, channel: UnionpayChannel
) -> None:
    async with aiohttp.ClientSession() as http:
        reg = await register(http, sandbox)
        account = account_of(reg, sandbox.url, notifies.url)
        order_id = IDS.order_id()
        await channel.pay(
            account, svc.PayRequest(account=REF, method="app", order_id=order_id, amount=5)
        )
        probe = {"channel": "unionpay", "fault": "probe_callback", "out_trade_no": order_id,
                 "merchant_id": account.mer_id}  # fmt: skip
        async with http.post(sandbox.url + "/_sandbox/faults", json=probe) as resp:
            assert resp.status == 200, await resp.text()
    (body,) = await notifies.wait_for(1)
    event = await channel.parse_notify(account, notify_request(body))
    assert "signature" in event.reject_reason
    assert event.WhichOneof("event") is None
    assert event.nack.http_status != 200


async def test_sandbox_roots_command_exports_the_chain(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    async with aiohttp.ClientSession() as http:
        reg = await register(http, sandbox)
    rc = await asyncio.to_thread(
        cli.main, ["sandbox-roots", "--url", sandbox.url, "--out", str(tmp_path)]
    )
    assert rc == 0
    assert (tmp_path / "acp_test_root.cer").read_text() == reg["root_cert_pem"]
    assert (tmp_path / "acp_test_middle.cer").read_text() == reg["middle_cert_pem"]


async def test_failed_refund_and_amount_mismatch_faults(
    sandbox: SandboxServer, notifies: Notifies, channel: UnionpayChannel
) -> None:
    async with aiohttp.ClientSession() as http:
        account = account_of(await register(http, sandbox), sandbox.url, notifies.url)
        order_id = IDS.order_id()
        await channel.pay(
            account, svc.PayRequest(account=REF, method="app", order_id=order_id, amount=800)
        )
        for fault in (
            {"channel": "unionpay", "fault": "amount_mismatch", "out_trade_no": order_id,
             "delta": 1},
            {"channel": "unionpay", "fault": "fail_refunds", "out_trade_no": order_id},
        ):  # fmt: skip
            async with http.post(sandbox.url + "/_sandbox/faults", json=fault) as resp:
                assert resp.status == 200, await resp.text()
        await pay_in_sandbox(http, sandbox, order_id, account.mer_id)
        (paid,) = await notifies.wait_for(1)
        event = await channel.parse_notify(account, notify_request(paid))
        assert event.trade.state == pb.TRADE_STATE_PAID
        assert event.trade.amount == 801  # authentic, but not the order's: the gateway refuses

        refund_id = IDS.refund_id()
        await channel.refund(
            account,
            svc.RefundRequest(account=REF, order_id=order_id, refund_id=refund_id, amount=100,
                              notify_url=notifies.url),
        )  # fmt: skip
        (_, failed) = await notifies.wait_for(2)
        revent = await channel.parse_notify(account, notify_request(failed))
        assert revent.refund.state == pb.RESULT_STATE_FAILED
        q = await channel.query_refund(
            account, svc.QueryRefundRequest(account=REF, order_id=order_id, refund_id=refund_id)
        )
        assert q.refund.state == pb.RESULT_STATE_FAILED
