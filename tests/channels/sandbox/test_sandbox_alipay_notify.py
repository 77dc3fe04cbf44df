"""Alipay async notifies (retried until the body is exactly `success`) and the shared faults
armed with `"channel": "alipay"`."""

from __future__ import annotations

from typing import Any

import aiohttp

from paymesh.channels.sandbox import SandboxServer
from tests.channels.sandbox.conftest import unique
from tests.channels.sandbox.test_sandbox_alipay import (
    AlipayApp,
    AlipayClient,
    AlipayReceiver,
    ali_receiver,
    app,
    check_notify,
    check_signed,
    client,
    content,
    control,
    order,
    verify,
)

__all__ = ["ali_receiver", "app", "client"]  # fixtures


async def callbacks(http: aiohttp.ClientSession, sandbox: SandboxServer, no: str) -> Any:
    params = {"channel": "alipay", "subject": no}
    async with http.get(sandbox.url + "/_sandbox/callbacks", params=params) as resp:
        return (await resp.json())["callbacks"]


async def new_trade(client: AlipayClient, receiver: AlipayReceiver, amount: str = "3.00") -> str:
    no = unique("N")
    r = await client.call("alipay.trade.precreate", order(no, amount), notify_url=receiver.url)
    assert r.data["code"] == "10000"
    return no


async def test_notify_retried_until_success(
    client: AlipayClient,
    app: AlipayApp,
    ali_receiver: AlipayReceiver,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
) -> None:
    no = await new_trade(client, ali_receiver)
    ali_receiver.replies = ["fail", "ok", " success"]  # only exactly `success` is taken
    await control(http, sandbox, "/_sandbox/pay", out_trade_no=no)
    await sandbox.state.idle()
    got = ali_receiver.got
    retry_delays = sandbox.state.callback_retry_delays
    assert len(got) == min(4, len(retry_delays) + 1)
    assert all(g == got[0] for g in got)  # the same notify (and notify_id) each time
    check_notify(got[0], app)
    [delivery] = await callbacks(http, sandbox, no)
    assert delivery["event_type"] == "trade_status_sync"
    assert delivery["event_id"] == got[0]["notify_id"]
    assert [a["body"] for a in delivery["attempts"]][:3] == ["fail", "ok", " success"]
    assert delivery["delivered"] is (len(got) == 4)


async def test_notify_taken_at_first_success(
    client: AlipayClient,
    ali_receiver: AlipayReceiver,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
) -> None:
    no = await new_trade(client, ali_receiver)
    ali_receiver.replies = ["fail"]
    await control(http, sandbox, "/_sandbox/pay", out_trade_no=no)
    await sandbox.state.idle()
    assert len(ali_receiver.got) == 2
    [delivery] = await callbacks(http, sandbox, no)
    assert delivery["delivered"] is True
    assert len(delivery["attempts"]) == 2


async def test_http_500_fault_answers_system_error(
    client: AlipayClient,
    app: AlipayApp,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
) -> None:
    status, _ = await control(http, sandbox, "/_sandbox/faults", fault="http_500", count=2)
    assert status == 200
    no = unique("H")
    for via in ("GET", "POST"):
        params = client.params("alipay.trade.precreate", order(no))
        send = http.get if via == "GET" else http.post
        kw: dict[str, Any] = {"params": params} if via == "GET" else {"data": params}
        async with send(client.url, **kw) as resp:
            assert resp.status == 500
            raw = await resp.read()
        r = check_signed(raw, app.alipay_pem)
        assert r.key in ("alipay_trade_precreate_response", "error_response")
        assert (r.data["code"], r.data["msg"]) == ("20000", "Service Currently Unavailable")
    assert sandbox.state.find_trades("alipay", no) == []
    # process: true: the trade is created, only the answer is lost
    await control(http, sandbox, "/_sandbox/faults", fault="http_500", process=True)
    async with http.get(
        client.url, params=client.params("alipay.trade.precreate", order(no))
    ) as resp:
        assert resp.status == 500
        r = check_signed(await resp.read(), app.alipay_pem)
        assert r.key == "alipay_trade_precreate_response"
    q = await client.call("alipay.trade.query", {"out_trade_no": no})
    assert q.data["trade_status"] == "WAIT_BUYER_PAY"


async def test_callback_faults(
    client: AlipayClient,
    app: AlipayApp,
    ali_receiver: AlipayReceiver,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
) -> None:
    await control(http, sandbox, "/_sandbox/faults", fault="duplicate_callbacks", times=3)
    no = await new_trade(client, ali_receiver)
    await control(http, sandbox, "/_sandbox/pay", out_trade_no=no)
    await sandbox.state.idle()
    assert len(ali_receiver.got) == 3
    for g in ali_receiver.got:
        check_notify(g, app)
    async with http.delete(sandbox.url + "/_sandbox/faults", params={"channel": "alipay"}):
        pass

    ali_receiver.got.clear()
    await control(http, sandbox, "/_sandbox/faults", fault="drop_callbacks", count=1)
    dropped = await new_trade(client, ali_receiver)
    await control(http, sandbox, "/_sandbox/pay", out_trade_no=dropped)
    await sandbox.state.idle()
    assert ali_receiver.got == []
    [d] = await callbacks(http, sandbox, dropped)
    assert d["dropped"] is True

    await control(http, sandbox, "/_sandbox/faults", fault="amount_mismatch", delta=-299)
    cheap = await new_trade(client, ali_receiver)
    await control(http, sandbox, "/_sandbox/pay", out_trade_no=cheap)
    [notify] = await ali_receiver.wait_for(1)
    check_notify(notify, app)  # signed over the wrong amount: only the amount tells
    assert notify["total_amount"] == "0.01"
    q = await client.call("alipay.trade.query", {"out_trade_no": cheap})
    assert q.data["total_amount"] == "3.00"


async def test_probe_callback_has_a_bad_signature(
    client: AlipayClient,
    app: AlipayApp,
    ali_receiver: AlipayReceiver,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
) -> None:
    no = await new_trade(client, ali_receiver)
    status, answer = await control(http, sandbox, "/_sandbox/faults", fault="probe_callback",
                                   out_trade_no=no)  # fmt: skip
    assert status == 200, answer
    [delivery] = answer["deliveries"]
    assert delivery["probe"] is True
    [probe] = ali_receiver.got
    assert probe["trade_status"] == "TRADE_SUCCESS"
    assert probe["out_trade_no"] == no
    assert not verify(app.alipay_pem, content(probe, ("sign", "sign_type")), probe["sign"])
    # without a trade: a made-up order
    status, answer = await control(
        http, sandbox, "/_sandbox/faults", fault="probe_callback",
        merchant_id=app.app_id, notify_url=ali_receiver.url,
    )  # fmt: skip
    assert status == 200, answer
    body = ali_receiver.got[-1]
    assert body["app_id"] == app.app_id
    assert not verify(app.alipay_pem, content(body, ("sign", "sign_type")), body["sign"])
