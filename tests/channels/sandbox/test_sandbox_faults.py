"""Faults armed through `POST /_sandbox/faults`."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from paymesh.channels.sandbox import SandboxServer
from tests.channels.sandbox.conftest import (
    Receiver,
    WeChatClient,
    WeChatMerchant,
    unique,
    verify_platform_signature,
)
from tests.channels.sandbox.test_sandbox_wechat_api import decrypt


async def arm(http: aiohttp.ClientSession, sandbox: SandboxServer, **fault: Any) -> Any:
    async with http.post(
        sandbox.url + "/_sandbox/faults", json={"channel": "wechat", **fault}
    ) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def pay(http: aiohttp.ClientSession, sandbox: SandboxServer, no: str) -> None:
    body = {"channel": "wechat", "out_trade_no": no}
    async with http.post(sandbox.url + "/_sandbox/pay", json=body) as resp:
        assert resp.status == 200, await resp.text()


async def new_trade(client: WeChatClient, url: str, total: int = 100) -> str:
    no = unique()
    a = await client.call(
        "POST", "/v3/pay/transactions/native", client.native_order(no, total, url)
    )
    assert a.status == 200, a.body
    return no


async def test_http_500_then_recovers(
    client: WeChatClient,
    merchant: WeChatMerchant,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
) -> None:
    await arm(http, sandbox, fault="http_500", count=2, path="/v3/pay/transactions/native")
    order = client.native_order(unique(), 100, "https://example.invalid/n")
    for _ in range(2):
        a = await client.call("POST", "/v3/pay/transactions/native", order)
        assert a.status == 500
        assert a.json()["code"] == "SYSTEM_ERROR"
        assert verify_platform_signature(a.headers, a.body, merchant.registration)
    assert sandbox.state.find_trades("wechat", order["out_trade_no"]) == []
    ok = await client.call("POST", "/v3/pay/transactions/native", order)
    assert ok.status == 200


async def test_http_500_after_processing(
    client: WeChatClient, http: aiohttp.ClientSession, sandbox: SandboxServer
) -> None:
    await arm(http, sandbox, fault="http_500", process=True, status=503)
    order = client.native_order(unique(), 100, "https://example.invalid/n")
    a = await client.call("POST", "/v3/pay/transactions/native", order)
    assert a.status == 503
    [trade] = sandbox.state.find_trades("wechat", order["out_trade_no"])
    assert trade.status == "PENDING"


async def test_delay(
    client: WeChatClient, http: aiohttp.ClientSession, sandbox: SandboxServer
) -> None:
    await arm(http, sandbox, fault="delay", seconds=0.5, method="GET")
    started = time.monotonic()
    a = await client.call("GET", "/v3/certificates")
    assert a.status == 200
    assert time.monotonic() - started >= 0.45
    started = time.monotonic()
    await client.call("GET", "/v3/certificates")
    assert time.monotonic() - started < 0.45  # count 1: disarmed


async def test_timeout_processes_then_hangs(
    client: WeChatClient,
    merchant: WeChatMerchant,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
) -> None:
    await arm(http, sandbox, fault="timeout", seconds=30)
    order = client.native_order(unique(), 100, "https://example.invalid/n")
    with pytest.raises(TimeoutError):
        await client.call("POST", "/v3/pay/transactions/native", order, client_timeout=0.5)
    # the order exists at the provider although the client never heard back
    path = f"/v3/pay/transactions/out-trade-no/{order['out_trade_no']}?mchid={merchant.mchid}"
    q = await client.call("GET", path)
    assert q.json()["trade_state"] == "NOTPAY"


async def test_timeout_without_processing_released_by_clear(
    client: WeChatClient, http: aiohttp.ClientSession, sandbox: SandboxServer
) -> None:
    await arm(http, sandbox, fault="timeout", seconds=30, process=False)
    order = client.native_order(unique(), 100, "https://example.invalid/n")
    call = asyncio.create_task(client.call("POST", "/v3/pay/transactions/native", order))
    await asyncio.sleep(0.3)
    assert not call.done()
    async with http.delete(sandbox.url + "/_sandbox/faults") as resp:
        assert resp.status == 200
    a = await asyncio.wait_for(call, 5)
    assert a.status == 504
    assert sandbox.state.find_trades("wechat", order["out_trade_no"]) == []


async def test_duplicate_callbacks(
    client: WeChatClient,
    merchant: WeChatMerchant,
    receiver: Receiver,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
) -> None:
    no = await new_trade(client, receiver.url)
    await arm(http, sandbox, fault="duplicate_callbacks", times=3)
    await pay(http, sandbox, no)
    got = await receiver.wait_for(3)
    ids = {json.loads(g.body)["id"] for g in got}
    assert len(ids) == 1
    for g in got:
        assert verify_platform_signature(g.headers, g.body, merchant.registration)
    async with http.get(sandbox.url + "/_sandbox/callbacks", params={"subject": no}) as resp:
        deliveries = (await resp.json())["callbacks"]
    assert len(deliveries) == 3
    assert all(d["delivered"] for d in deliveries)


async def test_probe_callback_has_invalid_signature(
    client: WeChatClient,
    merchant: WeChatMerchant,
    receiver: Receiver,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
) -> None:
    no = await new_trade(client, receiver.url)
    answer = await arm(http, sandbox, fault="probe_callback", out_trade_no=no)
    [delivery] = answer["deliveries"]
    assert delivery["probe"] is True
    assert delivery["attempts"][0]["status"] == 204
    [probe] = receiver.got
    assert not verify_platform_signature(probe.headers, probe.body, merchant.registration)
    # the body itself is well-formed and claims success: only the signature gives it away
    assert decrypt(probe.body, merchant.api_v3_key)["trade_state"] == "SUCCESS"
    assert sandbox.state.find_trades("wechat", no)[0].status == "PENDING"


async def test_amount_mismatch(
    client: WeChatClient,
    merchant: WeChatMerchant,
    receiver: Receiver,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
) -> None:
    no = await new_trade(client, receiver.url, total=500)
    await arm(http, sandbox, fault="amount_mismatch", delta=-499)
    await pay(http, sandbox, no)
    [cb] = await receiver.wait_for(1)
    assert verify_platform_signature(cb.headers, cb.body, merchant.registration)
    assert decrypt(cb.body, merchant.api_v3_key)["amount"]["total"] == 1
    # the next callback is honest again
    other = await new_trade(client, receiver.url, total=500)
    await pay(http, sandbox, other)
    [_, cb2] = await receiver.wait_for(2)
    assert decrypt(cb2.body, merchant.api_v3_key)["amount"]["total"] == 500


async def test_drop_callbacks(
    client: WeChatClient, receiver: Receiver, http: aiohttp.ClientSession, sandbox: SandboxServer
) -> None:
    no = await new_trade(client, receiver.url)
    await arm(http, sandbox, fault="drop_callbacks")
    await pay(http, sandbox, no)
    await sandbox.state.idle()
    assert receiver.got == []
    async with http.get(sandbox.url + "/_sandbox/callbacks", params={"subject": no}) as resp:
        [d] = (await resp.json())["callbacks"]
    assert d["dropped"] is True
    assert d["attempts"] == []


async def test_callback_retried_until_2xx(
    client: WeChatClient, receiver: Receiver, http: aiohttp.ClientSession, sandbox: SandboxServer
) -> None:
    no = await new_trade(client, receiver.url)
    receiver.fail_next = 2
    await pay(http, sandbox, no)
    await receiver.wait_for(3)
    await sandbox.state.idle()
    async with http.get(sandbox.url + "/_sandbox/callbacks", params={"subject": no}) as resp:
        [d] = (await resp.json())["callbacks"]
    assert [a["status"] for a in d["attempts"]] == [500, 500, 204]
    assert d["delivered"] is True
    assert "try again" in d["attempts"][0]["body"]


async def test_fault_api_validation_and_listing(
    http: aiohttp.ClientSession, sandbox: SandboxServer
) -> None:
    for bad in (
        {"channel": "wechat", "fault": "nope"},
        {"channel": "nope", "fault": "delay"},
        {"channel": "wechat", "fault": "delay", "seconds": "x"},
        {"channel": "wechat", "fault": "duplicate_callbacks", "times": 1},
    ):
        async with http.post(sandbox.url + "/_sandbox/faults", json=bad) as resp:
            assert resp.status == 400, bad
            assert (await resp.json())["error"]
    await arm(http, sandbox, fault="drop_callbacks")
    async with http.get(sandbox.url + "/_sandbox/faults") as resp:
        [f] = (await resp.json())["faults"]
    assert f["fault"] == "drop_callbacks"
    assert f["count"] is None
    async with http.delete(sandbox.url + "/_sandbox/faults", params={"channel": "wechat"}) as resp:
        assert (await resp.json())["cleared"] == 1


async def test_delay_callbacks(
    client: WeChatClient, receiver: Receiver, http: aiohttp.ClientSession, sandbox: SandboxServer
) -> None:
    no = await new_trade(client, receiver.url)
    await arm(http, sandbox, fault="delay_callbacks", seconds=0.6)
    started = time.monotonic()
    await pay(http, sandbox, no)
    await asyncio.sleep(0.3)
    assert receiver.got == []
    await receiver.wait_for(1)
    assert time.monotonic() - started >= 0.55


async def test_fail_refunds_and_transfers(
    client: WeChatClient,
    merchant: WeChatMerchant,
    receiver: Receiver,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
) -> None:
    no = await new_trade(client, receiver.url, total=100)
    await pay(http, sandbox, no)
    await receiver.wait_for(1)
    await arm(http, sandbox, fault="fail_refunds")
    refund = {
        "out_trade_no": no,
        "out_refund_no": "R" + no,
        "notify_url": receiver.url,
        "amount": {"refund": 100, "total": 100, "currency": "CNY"},
    }
    assert (await client.call("POST", "/v3/refund/domestic/refunds", refund)).status == 200
    [_, rcb] = await receiver.wait_for(2)
    assert json.loads(rcb.body)["event_type"] == "REFUND.ABNORMAL"
    assert decrypt(rcb.body, merchant.api_v3_key)["refund_status"] == "ABNORMAL"
    q = await client.call("GET", f"/v3/refund/domestic/refunds/R{no}")
    assert q.json()["status"] == "ABNORMAL"
    # the failed refund gave the amount back: a new full refund is accepted
    again = {**refund, "out_refund_no": "S" + no}
    assert (await client.call("POST", "/v3/refund/domestic/refunds", again)).status == 200

    await arm(http, sandbox, fault="fail_transfers", reason="NAME_NOT_CORRECT")
    bill = unique("B")
    body = {
        "appid": merchant.appid,
        "out_bill_no": bill,
        "transfer_scene_id": "1000",
        "openid": "o-payee",
        "transfer_amount": 30,
        "transfer_remark": "r",
        "notify_url": receiver.url,
        "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "r"}],
    }
    assert (
        await client.call("POST", "/v3/fund-app/mch-transfer/transfer-bills", body)
    ).status == 200
    got = await receiver.wait_for(4)
    [tcb] = [g for g in got if b"MCHTRANSFER" in g.body]
    res = decrypt(tcb.body, merchant.api_v3_key)
    assert (res["state"], res["fail_reason"]) == ("FAIL", "NAME_NOT_CORRECT")


async def test_pay_during_close(
    client: WeChatClient,
    merchant: WeChatMerchant,
    receiver: Receiver,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
) -> None:
    """The close is answered 204, yet the payment in flight goes through and is notified;
    without the fault a closed trade can no longer be paid."""
    plain = await new_trade(client, receiver.url)
    close = {"mchid": merchant.mchid}
    path = "/v3/pay/transactions/out-trade-no/{}/close"
    assert (await client.call("POST", path.format(plain), close)).status == 204
    async with http.post(
        sandbox.url + "/_sandbox/pay", json={"channel": "wechat", "out_trade_no": plain}
    ) as resp:
        assert resp.status >= 400

    no = await new_trade(client, receiver.url, total=700)
    await arm(http, sandbox, fault="pay_during_close", seconds=0.1, out_trade_no=no)
    assert (await client.call("POST", path.format(no), close)).status == 204
    [cb] = await receiver.wait_for(1)
    assert json.loads(cb.body)["event_type"] == "TRANSACTION.SUCCESS"
    paid = decrypt(cb.body, merchant.api_v3_key)
    assert (paid["out_trade_no"], paid["trade_state"], paid["amount"]["total"]) == (
        no,
        "SUCCESS",
        700,
    )
    q = await client.call("GET", f"/v3/pay/transactions/out-trade-no/{no}?mchid={merchant.mchid}")
    assert q.json()["trade_state"] == "SUCCESS"
    async with http.post(
        sandbox.url + "/_sandbox/faults", json={"channel": "alipay", "fault": "pay_during_close"}
    ) as resp:
        assert resp.status == 400  # WeChat's close only
