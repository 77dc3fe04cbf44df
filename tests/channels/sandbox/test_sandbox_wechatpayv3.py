"""Cross-check with an independent client: the `wechatpayv3` package (sync, run in threads).

Its gateway host is fixed in `Core.__init__`, so it is overridden afterwards through
`_core._gate_way` (TOOLING.md). wechatpayv3 verifies every 2xx answer's signature itself
and raises when it does not hold, so a passing call is a verified one.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from wechatpayv3 import WeChatPay, WeChatPayType

from paymesh.channels.sandbox import SandboxServer
from paymesh.channels.wechat import sign
from tests.channels.sandbox.conftest import Receiver, WeChatMerchant, register, unique


def make_client(
    m: WeChatMerchant,
    sandbox: SandboxServer,
    notify_url: str,
    cert_dir: Path | None,
    *,
    public_key: bool,
) -> Any:
    reg = m.registration
    kwargs: dict[str, Any] = {}
    if public_key:
        kwargs = {
            "public_key": reg["platform_public_key_pem"],
            "public_key_id": reg["platform_public_key_id"],
        }
    else:
        assert cert_dir is not None
        cert_dir.mkdir(exist_ok=True)
        (cert_dir / f"{reg['platform_serial_no']}.pem").write_text(reg["platform_certificate_pem"])
        kwargs = {"cert_dir": str(cert_dir)}
    wxpay = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=m.mchid,
        private_key=sign.private_key_pem(m.key),
        cert_serial_no=m.serial_no,
        appid=m.appid,
        apiv3_key=m.api_v3_key,
        notify_url=notify_url,
        timeout=(5, 5),
        **kwargs,
    )
    wxpay._core._gate_way = sandbox.url
    return wxpay


async def _sandbox_pay(http: aiohttp.ClientSession, sandbox: SandboxServer, no: str) -> None:
    body = {"channel": "wechat", "out_trade_no": no}
    async with http.post(sandbox.url + "/_sandbox/pay", json=body) as resp:
        assert resp.status == 200


@pytest.mark.parametrize("public_key", [False, True], ids=["certificate", "public_key"])
async def test_wechatpayv3_end_to_end(
    public_key: bool,
    tmp_path: Path,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
    receiver: Receiver,
) -> None:
    m = await register(
        http, sandbox, platform_key_mode="public_key" if public_key else "certificate"
    )
    wxpay = make_client(m, sandbox, receiver.url, tmp_path / "certs", public_key=public_key)
    no = unique()

    code, text = await asyncio.to_thread(
        wxpay.pay, description="商品", out_trade_no=no, amount={"total": 300, "currency": "CNY"}
    )
    assert code == 200, text
    assert json.loads(text)["code_url"].startswith(sandbox.url)

    code, text = await asyncio.to_thread(wxpay.query, out_trade_no=no)
    assert code == 200
    assert json.loads(text)["trade_state"] == "NOTPAY"

    await _sandbox_pay(http, sandbox, no)
    [cb] = await receiver.wait_for(1)
    parsed = await asyncio.to_thread(wxpay.callback, cb.headers, cb.body)
    assert parsed is not None, "wechatpayv3 rejected the sandbox callback"
    assert parsed["event_type"] == "TRANSACTION.SUCCESS"
    assert parsed["resource"]["out_trade_no"] == no
    assert parsed["resource"]["amount"]["total"] == 300

    code, text = await asyncio.to_thread(wxpay.query, out_trade_no=no)
    assert json.loads(text)["trade_state"] == "SUCCESS"

    code, text = await asyncio.to_thread(
        wxpay.refund,
        out_refund_no="R" + no,
        amount={"refund": 100, "total": 300, "currency": "CNY"},
        out_trade_no=no,
    )
    assert code == 200, text
    assert json.loads(text)["status"] in ("PROCESSING", "SUCCESS")
    [_, rcb] = await receiver.wait_for(2)
    parsed = await asyncio.to_thread(wxpay.callback, rcb.headers, rcb.body)
    assert parsed is not None
    assert parsed["resource"]["refund_status"] == "SUCCESS"
    code, text = await asyncio.to_thread(wxpay.query_refund, out_refund_no="R" + no)
    assert code == 200
    assert json.loads(text)["status"] == "SUCCESS"

    other = unique()
    code, _ = await asyncio.to_thread(
        wxpay.pay, description="x", out_trade_no=other, amount={"total": 1}
    )
    code, text = await asyncio.to_thread(wxpay.close, out_trade_no=other)
    assert code == 204, text

    bill = unique("B")
    code, text = await asyncio.to_thread(
        wxpay.mch_transfer_bills,
        out_bill_no=bill,
        transfer_scene_id="1000",
        openid="o-payee",
        transfer_amount=20,
        transfer_remark="reward",
        user_recv_perception="现金奖励",
        transfer_scene_report_infos=[{"info_type": "活动名称", "info_content": "reward"}],
    )
    assert code == 200, text
    [_, _, tcb] = await receiver.wait_for(3)
    parsed = await asyncio.to_thread(wxpay.callback, tcb.headers, tcb.body)
    assert parsed is not None
    assert parsed["resource"]["state"] == "SUCCESS"
    code, text = await asyncio.to_thread(wxpay.mch_transfer_bills_query, out_bill_no=bill)
    assert json.loads(text)["state"] == "SUCCESS"


async def test_wechatpayv3_downloads_certificates_and_rejects_probe(
    tmp_path: Path, http: aiohttp.ClientSession, sandbox: SandboxServer, receiver: Receiver
) -> None:
    m = await register(http, sandbox)
    wxpay = make_client(m, sandbox, receiver.url, tmp_path / "certs", public_key=False)
    await asyncio.to_thread(wxpay._core._update_certificates)
    [cert] = wxpay._core._certificates
    assert format(cert.serial_number, "X") == m.registration["platform_serial_no"]

    no = unique()
    code, _ = await asyncio.to_thread(
        wxpay.pay, description="x", out_trade_no=no, amount={"total": 5}
    )
    assert code == 200
    async with http.post(
        sandbox.url + "/_sandbox/faults",
        json={"channel": "wechat", "fault": "probe_callback", "out_trade_no": no},
    ) as resp:
        assert resp.status == 200
    [probe] = receiver.got
    assert await asyncio.to_thread(wxpay.callback, probe.headers, probe.body) is None


async def test_wechatpayv3_sees_errors(
    tmp_path: Path, http: aiohttp.ClientSession, sandbox: SandboxServer, receiver: Receiver
) -> None:
    m = await register(http, sandbox)
    wxpay = make_client(m, sandbox, receiver.url, tmp_path / "certs", public_key=False)
    code, text = await asyncio.to_thread(wxpay.query, out_trade_no="NOSUCH" + unique())
    assert code == 404
    assert json.loads(text)["code"] == "ORDER_NOT_EXIST"
    wxpay._core._cert_serial_no = "0123"
    code, text = await asyncio.to_thread(wxpay.query, out_trade_no="NOSUCH" + unique())
    assert code == 401
    assert json.loads(text)["code"] == "SIGN_ERROR"
