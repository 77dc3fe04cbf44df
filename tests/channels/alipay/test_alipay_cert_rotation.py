"""Certificate mode follows an Alipay certificate rotation (issue #9): an answer signed under
an `alipay_cert_sn` the account does not hold makes the channel download that certificate
(alipay.open.app.alipaycert.download), check it chains to the configured root, cache it and
verify the answer with it, as alipay-sdk-java's AbstractAlipayClient.checkResponseCertSign
does. A certificate that does not chain, or a failed download, leaves the answer unverifiable
(ChannelUnavailable: never a definitive outcome)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from paymesh.channel.v1 import channel_pb2 as pb
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.alipay import adapter, certs, sign
from paymesh.channels.alipay.channel import AlipayChannel
from paymesh.channels.alipay.protocol import UnknownAlipayCert, verified_content
from paymesh.channels.sandbox import SandboxServer, SandboxState, start_sandbox
from paymesh.channels.transport import HttpResponse, Transport
from paymesh.errors import ChannelError, ChannelUnavailable
from tests.channels.alipay.conftest import Notifies
from tests.channels.alipay.fakes import FakeAlipay, cert_pem, issue, make_account, new_rsa_key
from tests.channels.alipay.test_alipay_with_sandbox import REF, account_for, unique

NOW = datetime.now(UTC)
ROOT_CN = "Ant Financial Certification Authority R1"


# --- pure: the chain check, the download answer, the answer's key ---------------------------


def _rotated(platform: FakeAlipay, app_key: Any) -> tuple[Any, Any, Any]:
    """A certificate-mode account trusting `platform`, its certificates and RSA root."""
    cs = platform.certificates(app_key, NOW)
    account = make_account(platform, app_key, mode="certificate", certs=cs)
    return account, cs, cs.rsa_root


def _download_body(platform: FakeAlipay, cert_text: str, code: str = "10000") -> HttpResponse:
    content: dict[str, str] = {"code": code, "msg": "Success" if code == "10000" else "Failed"}
    if code == "10000":
        content["alipay_cert_content"] = base64.b64encode(cert_text.encode()).decode()
    return platform.response(certs.M_CERT_DOWNLOAD, content)


def test_a_certificate_issued_by_the_root_is_trusted_and_others_are_not() -> None:
    root_key, other_key, leaf_key = new_rsa_key(), new_rsa_key(), new_rsa_key()
    root = issue(root_key.public_key(), ROOT_CN, root_key, ROOT_CN, NOW, ca=True)
    forged_root = issue(other_key.public_key(), ROOT_CN, other_key, ROOT_CN, NOW, ca=True)
    leaf = issue(leaf_key.public_key(), "支付宝", root_key, ROOT_CN, NOW)
    forged = issue(leaf_key.public_key(), "支付宝", other_key, ROOT_CN, NOW)  # same names
    assert certs.is_trusted([leaf], [root], NOW)
    assert not certs.is_trusted([forged], [root], NOW)
    assert not certs.is_trusted([leaf], [forged_root], NOW)
    assert not certs.is_trusted([leaf], [root], NOW + timedelta(days=400))  # expired
    assert not certs.is_trusted([leaf], [root], NOW - timedelta(days=2))  # not yet valid
    # a chain through an intermediate (alipayCertPublicKey_RSA2.crt holds leaf + class CA)
    mid_key = new_rsa_key()
    mid = issue(mid_key.public_key(), "Class 2 R1", root_key, ROOT_CN, NOW, ca=True)
    leaf2 = issue(leaf_key.public_key(), "支付宝", mid_key, "Class 2 R1", NOW)
    assert certs.is_trusted([leaf2, mid], [root], NOW)
    assert not certs.is_trusted([leaf2], [root], NOW)  # the intermediate is missing
    stray = issue(leaf_key.public_key(), "other", other_key, "elsewhere", NOW)
    assert not certs.is_trusted([leaf2, mid, stray], [root], NOW)  # not one chain


def test_parse_download_answer() -> None:
    platform, app_key = FakeAlipay(), new_rsa_key()
    account, cs, _ = _rotated(platform, app_key)
    root_key = new_rsa_key()  # not the account's root
    new_key = new_rsa_key()
    good = cs.alipay_cert  # issued by the account's root
    sn = sign.cert_sn(good)
    got = certs.parse_download_response(_download_body(platform, cert_pem(good)), account, sn, NOW)
    assert sign.cert_sn(got) == sn
    forged = issue(new_key.public_key(), "支付宝", root_key, ROOT_CN, NOW)
    forged_sn = sign.cert_sn(forged)
    for response, want in [
        (_download_body(platform, cert_pem(forged)), forged_sn),  # does not chain
        (_download_body(platform, cert_pem(good)), forged_sn),  # not the one asked for
        (_download_body(platform, "", code="40004"), sn),  # refused
        (_download_body(platform, "not a certificate"), sn),
        (HttpResponse(status=502, headers={}, body=b""), sn),
        (HttpResponse(status=200, headers={}, body=b"<html>"), sn),
    ]:
        with pytest.raises(certs.CertRefused):
            certs.parse_download_response(response, account, want, NOW)


def test_an_answer_under_another_cert_sn_needs_that_certificate() -> None:
    platform, app_key = FakeAlipay(), new_rsa_key()
    account, _, _ = _rotated(platform, app_key)
    rotated = FakeAlipay()  # Alipay's new key
    body = rotated.body("alipay.trade.query", '{"code":"10000","msg":"Success"}')
    raw = body[:-1] + b',"alipay_cert_sn":"' + b"f" * 32 + b'"}'
    resp = HttpResponse(status=200, headers={}, body=raw)
    with pytest.raises(UnknownAlipayCert) as info:
        verified_content(resp, account, "alipay.trade.query")
    assert info.value.cert_sn == "f" * 32
    assert isinstance(info.value, ChannelUnavailable)  # unverifiable, never definitive
    keys = {"f" * 32: rotated.key.public_key()}
    assert verified_content(resp, account, "alipay.trade.query", keys=keys)["code"] == "10000"
    keys = {"f" * 32: FakeAlipay().key.public_key()}  # a key that did not sign it
    with pytest.raises(ChannelUnavailable):
        verified_content(resp, account, "alipay.trade.query", keys=keys)
    # the configured certificate's SN: its key, as before
    same = body[:-1] + b',"alipay_cert_sn":"' + account.alipay_cert_sn.encode() + b'"}'
    with pytest.raises(ChannelUnavailable):  # signed by the new key: does not verify
        verified_content(
            HttpResponse(status=200, headers={}, body=same), account, "alipay.trade.query"
        )


def test_cache_is_bounded_and_drops_expired_certificates() -> None:
    platform, app_key = FakeAlipay(), new_rsa_key()
    account, _, _ = _rotated(platform, app_key)
    cache = certs.CertCache()
    root_key = new_rsa_key()
    added = [
        cache.add(account, issue(new_rsa_key().public_key(), f"c{i}", root_key, ROOT_CN, NOW))
        for i in range(certs.MAX_CERTS_PER_ACCOUNT + 2)
    ]
    keys = cache.keys(account, NOW)
    assert list(keys) == added[2:]
    assert cache.keys(account, NOW + timedelta(days=400)) == {}
    other = account.model_copy(update={"account_id": "ali-other"})
    assert cache.keys(other, NOW) == {}
    cache.refuse(account, "a" * 32, 100.0)
    assert cache.recently_refused(account, "a" * 32, 130.0)
    assert not cache.recently_refused(account, "a" * 32, 100.0 + certs.RETRY_AFTER_SECONDS)


# --- against the sandbox: its `rotate_cert` fault ----------------------------------------------


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = await start_sandbox(
        state=SandboxState(refund_delay=0.2, transfer_delay=0.2, callback_retry_delays=(0.1,))
    )
    yield server
    await server.close()


async def _control(
    http: aiohttp.ClientSession, method: str, url: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    async with http.request(method, url, json=body) as resp:
        assert resp.status == 200, await resp.text()
        out: dict[str, Any] = await resp.json()
        return out


async def _rotate(
    http: aiohttp.ClientSession, sandbox: SandboxServer, app_id: str, **flags: bool
) -> dict[str, Any]:
    body = {"channel": "alipay", "fault": "rotate_cert", "merchant_id": app_id, **flags}
    answer = await _control(http, "POST", sandbox.url + "/_sandbox/faults", body)
    fault: dict[str, Any] = answer["fault"]
    return fault


async def _downloads(http: aiohttp.ClientSession, sandbox: SandboxServer, fault_id: str) -> int:
    faults = await _control(http, "GET", sandbox.url + "/_sandbox/faults?channel=alipay")
    (fault,) = [f for f in faults["faults"] if f["id"] == fault_id]
    return int(fault["extra"]["downloads"])


@pytest.mark.parametrize("same_key", [False, True])
async def test_payments_refunds_and_queries_verify_after_a_rotation(
    same_key: bool, sandbox: SandboxServer, notifies: Notifies, channel: AlipayChannel
) -> None:
    async with aiohttp.ClientSession() as http:
        account = await account_for(http, sandbox, "certificate", notifies.url)
        fault = await _rotate(http, sandbox, account.app_id, same_key=same_key)

        order_id = unique("P")
        pay = await channel.pay(
            account,
            svc.PayRequest(account=REF, method="qr", order_id=order_id, amount=500, subject="s"),
        )
        assert pay.pay_data.code_url
        assert len(pay.exchanges) == 2  # the precreate, then the certificate download
        assert await _downloads(http, sandbox, fault["id"]) == 1

        await _control(
            http,
            "POST",
            sandbox.url + "/_sandbox/pay",
            {"channel": "alipay", "out_trade_no": order_id, "merchant_id": account.app_id},
        )
        body = (await notifies.wait_for(1))[0]
        parsed = await channel.parse_notify(
            account, svc.ParseNotifyRequest(account=REF, http_method="POST", body=body)
        )
        assert not parsed.reject_reason, parsed.reject_reason
        assert parsed.trade.state == pb.TRADE_STATE_PAID

        query = await channel.query(account, svc.QueryRequest(account=REF, order_id=order_id))
        assert query.trade.state == pb.TRADE_STATE_PAID
        assert len(query.exchanges) == 1  # cached: no second download
        refund_id = unique("R")
        refund = await channel.refund(
            account,
            svc.RefundRequest(
                account=REF, order_id=order_id, refund_id=refund_id, amount=100, total_amount=500
            ),
        )
        assert refund.refund.state in (pb.RESULT_STATE_SUCCEEDED, pb.RESULT_STATE_PENDING)
        await asyncio.sleep(0.3)
        queried = await channel.query_refund(
            account, svc.QueryRefundRequest(account=REF, order_id=order_id, refund_id=refund_id)
        )
        assert queried.refund.state == pb.RESULT_STATE_SUCCEEDED
        transfer_id = unique("T")
        await channel.transfer(
            account,
            svc.TransferRequest(
                account=REF, transfer_id=transfer_id, amount=100, payee_id="2088102177846880"
            ),
        )
        await asyncio.sleep(0.3)
        tq = await channel.query_transfer(
            account, svc.QueryTransferRequest(account=REF, transfer_id=transfer_id)
        )
        assert tq.transfer.state == pb.RESULT_STATE_SUCCEEDED
        assert await _downloads(http, sandbox, fault["id"]) == 1  # one download, then cached
        await _control(http, "DELETE", sandbox.url + "/_sandbox/faults?channel=alipay")


async def test_a_certificate_that_does_not_chain_leaves_every_outcome_unclear(
    sandbox: SandboxServer, notifies: Notifies, channel: AlipayChannel
) -> None:
    async with aiohttp.ClientSession() as http:
        account = await account_for(http, sandbox, "certificate", notifies.url)
        # a paid order first, under the configured certificate
        order_id = unique("P")
        await channel.pay(
            account,
            svc.PayRequest(account=REF, method="qr", order_id=order_id, amount=300, subject="s"),
        )
        await _control(
            http,
            "POST",
            sandbox.url + "/_sandbox/pay",
            {"channel": "alipay", "out_trade_no": order_id, "merchant_id": account.app_id},
        )
        await notifies.wait_for(1)
        fault = await _rotate(http, sandbox, account.app_id, foreign_root=True)

        with pytest.raises(ChannelUnavailable):  # never a ChannelError (a refusal)
            await channel.pay(
                account,
                svc.PayRequest(
                    account=REF, method="qr", order_id=unique("P"), amount=1, subject="s"
                ),
            )
        assert await _downloads(http, sandbox, fault["id"]) == 1
        with pytest.raises(ChannelUnavailable):
            await channel.query(account, svc.QueryRequest(account=REF, order_id=order_id))
        refund_id = unique("R")
        refund = svc.RefundRequest(
            account=REF, order_id=order_id, refund_id=refund_id, amount=100, total_amount=300
        )
        with pytest.raises(ChannelUnavailable) as info:
            await channel.refund(account, refund)
        assert not isinstance(info.value, ChannelError)
        # refused SNs are not downloaded again at once
        assert await _downloads(http, sandbox, fault["id"]) == 1
        # the notify of that refund (signed with the untrusted key) is rejected
        body = (await notifies.wait_for(2))[1]
        parsed = await channel.parse_notify(
            account, svc.ParseNotifyRequest(account=REF, http_method="POST", body=body)
        )
        assert parsed.reject_reason
        assert not parsed.HasField("refund")

        # once Alipay signs under the configured certificate again, the refund settles
        await _control(http, "DELETE", sandbox.url + "/_sandbox/faults?channel=alipay")
        queried = await channel.query_refund(
            account, svc.QueryRefundRequest(account=REF, order_id=order_id, refund_id=refund_id)
        )
        assert queried.refund.state == pb.RESULT_STATE_SUCCEEDED


async def test_public_key_accounts_and_other_apps_are_not_affected(
    sandbox: SandboxServer, channel: AlipayChannel
) -> None:
    async with aiohttp.ClientSession() as http:
        public = await account_for(http, sandbox, "public_key", "http://127.0.0.1:9/x")
        cert = await account_for(http, sandbox, "certificate", "http://127.0.0.1:9/x")
        other = await account_for(http, sandbox, "certificate", "http://127.0.0.1:9/x")
        await _rotate(http, sandbox, public.app_id)
        await _rotate(http, sandbox, other.app_id, foreign_root=True)
        for account in (public, cert):
            out = await channel.query(account, svc.QueryRequest(account=REF, order_id="P1"))
            assert out.trade.provider_state == "TRADE_NOT_EXIST"
            assert len(out.exchanges) == 1
        await _control(http, "DELETE", sandbox.url + "/_sandbox/faults?channel=alipay")


async def test_sandbox_serves_the_rotated_certificate(sandbox: SandboxServer) -> None:
    """The sandbox side, raw: the new SN in answers, the download, the foreign variant."""
    async with aiohttp.ClientSession() as http:
        account = await account_for(http, sandbox, "certificate", "http://127.0.0.1:9/x")
        now = datetime.now(UTC)
        roots = sign.load_certificates(account.alipay_root_cert_pem)
        for foreign in (False, True):
            await _rotate(http, sandbox, account.app_id, foreign_root=foreign)
            transport = Transport(timeout_seconds=5)
            try:
                query = svc.QueryRequest(account=REF, order_id="P1")
                answer = await transport.send(adapter.build_query_request(query, account, now))
                sn = sign.split_response(answer.body, "alipay.trade.query").cert_sn
                assert sn
                assert sn != account.alipay_cert_sn
                got = await transport.send(certs.build_download_request(account, sn, now))
                content = json.loads(got.body)["alipay_open_app_alipaycert_download_response"]
                pem = base64.b64decode(content["alipay_cert_content"])
                cert = sign.load_certificates(pem)[0]
                assert sign.cert_sn(cert) == sn
                assert certs.is_trusted([cert], roots, now) is not foreign
                missing = await transport.send(certs.build_download_request(account, "0" * 32, now))
                refused = json.loads(missing.body)["alipay_open_app_alipaycert_download_response"]
                assert refused["code"] == "40004"
            finally:
                await transport.close()
            await _control(http, "DELETE", sandbox.url + "/_sandbox/faults?channel=alipay")
        async with http.post(
            sandbox.url + "/_sandbox/faults",
            json={"channel": "wechat", "fault": "rotate_cert"},
        ) as resp:
            assert resp.status == 400
