"""WeChat v3 endpoints of the sandbox, driven by requests signed with channels/wechat/sign.py."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from paymesh.channels.sandbox import SandboxServer
from paymesh.channels.wechat import sign
from tests.channels.sandbox.conftest import (
    Receiver,
    WeChatClient,
    WeChatMerchant,
    register,
    unique,
    verify_platform_signature,
)


def decrypt(callback: bytes, api_v3_key: str) -> dict[str, Any]:
    body = json.loads(callback)
    res = body["resource"]
    assert res["algorithm"] == "AEAD_AES_256_GCM"
    plain = sign.aes_gcm_decrypt(
        api_v3_key, res["nonce"], res["associated_data"], res["ciphertext"]
    )
    data: dict[str, Any] = json.loads(plain)
    return data


async def _pay(http: aiohttp.ClientSession, sandbox: SandboxServer, no: str, **kw: Any) -> Any:
    body = {"channel": "wechat", "out_trade_no": no, **kw}
    async with http.post(sandbox.url + "/_sandbox/pay", json=body) as resp:
        return resp.status, await resp.json()


async def test_native_pay_query_callback_refund(
    client: WeChatClient,
    merchant: WeChatMerchant,
    receiver: Receiver,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
) -> None:
    reg = merchant.registration
    no = unique()
    order = client.native_order(no, 1234, receiver.url)
    created = await client.call("POST", "/v3/pay/transactions/native", order)
    assert created.status == 200, created.body
    assert verify_platform_signature(created.headers, created.body, reg)
    assert created.headers["Request-ID"]
    code_url = created.json()["code_url"]
    assert code_url.startswith(sandbox.url + "/_sandbox/pay/wechat/" + no)

    # the same request again is the same answer; different params conflict
    again = await client.call("POST", "/v3/pay/transactions/native", order)
    assert again.status == 200
    assert again.json() == created.json()
    conflict = await client.call(
        "POST", "/v3/pay/transactions/native", {**order, "amount": {"total": 1}}
    )
    assert conflict.status == 400
    assert conflict.json()["code"] == "INVALID_REQUEST"
    assert verify_platform_signature(conflict.headers, conflict.body, reg)

    path = f"/v3/pay/transactions/out-trade-no/{no}?mchid={merchant.mchid}"
    q = await client.call("GET", path)
    assert q.status == 200
    assert verify_platform_signature(q.headers, q.body, reg)
    assert q.json()["trade_state"] == "NOTPAY"
    assert "transaction_id" not in q.json()

    status, paid = await _pay(http, sandbox, no)
    assert status == 200
    assert paid["trade"]["status"] == "PAID"
    assert paid["trade"]["state"] == "SUCCESS"

    [cb] = await receiver.wait_for(1)
    assert verify_platform_signature(cb.headers, cb.body, reg)
    envelope = json.loads(cb.body)
    assert envelope["event_type"] == "TRANSACTION.SUCCESS"
    assert envelope["resource_type"] == "encrypt-resource"
    assert envelope["resource"]["original_type"] == "transaction"
    resource = decrypt(cb.body, merchant.api_v3_key)
    assert resource["out_trade_no"] == no
    assert resource["trade_state"] == "SUCCESS"
    assert resource["amount"]["total"] == 1234
    assert resource["mchid"] == merchant.mchid

    q = await client.call("GET", path)
    body = q.json()
    assert body["trade_state"] == "SUCCESS"
    assert body["transaction_id"] == resource["transaction_id"]
    assert body["amount"]["payer_total"] == 1234

    # paying twice is refused; closing a paid order is refused
    status, _ = await _pay(http, sandbox, no)
    assert status == 409
    close = await client.call(
        "POST", f"/v3/pay/transactions/out-trade-no/{no}/close", {"mchid": merchant.mchid}
    )
    assert close.status == 400
    assert close.json()["code"] == "ORDERPAID"

    # refunds: over the paid amount, then a real one that succeeds with a callback
    refund = {
        "out_trade_no": no,
        "out_refund_no": "R" + no,
        "notify_url": receiver.url,
        "amount": {"refund": 2000, "total": 1234, "currency": "CNY"},
    }
    too_much = await client.call("POST", "/v3/refund/domestic/refunds", refund)
    assert too_much.status == 403
    assert too_much.json()["code"] == "NOT_ENOUGH"
    refund["amount"] = {"refund": 234, "total": 1234, "currency": "CNY"}
    r = await client.call("POST", "/v3/refund/domestic/refunds", refund)
    assert r.status == 200, r.body
    assert r.json()["status"] == "PROCESSING"
    assert r.json()["amount"]["refund"] == 234
    assert verify_platform_signature(r.headers, r.body, reg)
    again = await client.call("POST", "/v3/refund/domestic/refunds", refund)
    assert again.json()["refund_id"] == r.json()["refund_id"]

    [_, rcb] = await receiver.wait_for(2)
    assert json.loads(rcb.body)["event_type"] == "REFUND.SUCCESS"
    rres = decrypt(rcb.body, merchant.api_v3_key)
    assert rres["refund_status"] == "SUCCESS"
    assert rres["out_refund_no"] == "R" + no
    assert rres["amount"]["refund"] == 234

    rq = await client.call("GET", f"/v3/refund/domestic/refunds/R{no}")
    assert rq.status == 200
    assert rq.json()["status"] == "SUCCESS"
    assert rq.json()["success_time"]
    q = await client.call("GET", path)
    assert q.json()["trade_state"] == "REFUND"

    # only 1000 left
    rest = {**refund, "out_refund_no": "S" + no}
    rest["amount"] = {"refund": 1001, "total": 1234, "currency": "CNY"}
    over = await client.call("POST", "/v3/refund/domestic/refunds", rest)
    assert over.status == 403


async def test_jsapi_app_h5_close(client: WeChatClient, merchant: WeChatMerchant) -> None:
    base = client.native_order(unique(), 10, "https://example.invalid/n")
    jsapi = await client.call(
        "POST", "/v3/pay/transactions/jsapi", {**base, "payer": {"openid": "o-1"}}
    )
    assert jsapi.status == 200, jsapi.body
    assert jsapi.json()["prepay_id"].startswith("wx")
    app = await client.call("POST", "/v3/pay/transactions/app", {**base, "out_trade_no": unique()})
    assert "prepay_id" in app.json()
    h5_no = unique()
    h5 = await client.call(
        "POST",
        "/v3/pay/transactions/h5",
        {**base, "out_trade_no": h5_no,
         "scene_info": {"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}}},
    )  # fmt: skip
    assert h5.status == 200
    assert "/_sandbox/pay/wechat/" + h5_no in h5.json()["h5_url"]

    close = await client.call(
        "POST", f"/v3/pay/transactions/out-trade-no/{h5_no}/close", {"mchid": merchant.mchid}
    )
    assert close.status == 204
    assert close.body == b""
    assert verify_platform_signature(close.headers, b"", merchant.registration)
    q = await client.call(
        "GET", f"/v3/pay/transactions/out-trade-no/{h5_no}?mchid={merchant.mchid}"
    )
    assert q.json()["trade_state"] == "CLOSED"


async def test_validation_and_not_found(client: WeChatClient, merchant: WeChatMerchant) -> None:
    base = client.native_order(unique(), 10, "https://example.invalid/n")
    for bad in (
        {**base, "amount": {"total": 0}},
        {**base, "amount": {"total": "10"}},
        {k: v for k, v in base.items() if k != "description"},
        {**base, "out_trade_no": "a b"},
        {**base, "notify_url": "ftp://x"},
    ):
        a = await client.call("POST", "/v3/pay/transactions/native", bad)
        assert a.status == 400, bad
        assert a.json()["code"] == "PARAM_ERROR"
        assert a.json()["message"]
    jsapi = await client.call("POST", "/v3/pay/transactions/jsapi", base)
    assert jsapi.json()["code"] == "PARAM_ERROR"
    other_app = await client.call(
        "POST", "/v3/pay/transactions/native", {**base, "appid": "wxother"}
    )
    assert other_app.json()["code"] == "APPID_MCHID_NOT_MATCH"
    other_mch = await client.call("POST", "/v3/pay/transactions/native", {**base, "mchid": "1"})
    assert other_mch.json()["code"] == "PARAM_ERROR"
    not_json = await client.call(
        "POST", "/v3/pay/transactions/native", base, sign_body=b"{", headers={}
    )
    assert not_json.status == 401  # signed a different body than was sent

    missing = await client.call(
        "GET", f"/v3/pay/transactions/out-trade-no/NOPE{unique()}?mchid={merchant.mchid}"
    )
    assert missing.status == 404
    assert missing.json()["code"] == "ORDER_NOT_EXIST"
    assert verify_platform_signature(missing.headers, missing.body, merchant.registration)
    no_mchid = await client.call("GET", f"/v3/pay/transactions/out-trade-no/{unique()}")
    assert no_mchid.status == 400
    refund_missing = await client.call("GET", f"/v3/refund/domestic/refunds/{unique()}")
    assert refund_missing.status == 404

    # refunding an unpaid order is refused
    no = unique()
    await client.call("POST", "/v3/pay/transactions/native", {**base, "out_trade_no": no})
    r = await client.call(
        "POST",
        "/v3/refund/domestic/refunds",
        {"out_trade_no": no, "out_refund_no": "R" + no, "amount": {"refund": 1, "total": 10}},
    )
    assert r.status == 400
    assert r.json()["code"] == "INVALID_REQUEST"
    unknown = await client.call(
        "POST",
        "/v3/refund/domestic/refunds",
        {"out_trade_no": "X" + no, "out_refund_no": "R" + no, "amount": {"refund": 1, "total": 10}},
    )
    assert unknown.status == 404


async def test_transfer_bill(
    client: WeChatClient, merchant: WeChatMerchant, receiver: Receiver
) -> None:
    no = unique("B")
    bill = {
        "appid": merchant.appid,
        "out_bill_no": no,
        "transfer_scene_id": "1000",
        "openid": "o-payee",
        "transfer_amount": 500,
        "transfer_remark": "bonus",
        "notify_url": receiver.url,
        "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "x"}],
    }
    created = await client.call("POST", "/v3/fund-app/mch-transfer/transfer-bills", bill)
    assert created.status == 200, created.body
    assert created.json()["state"] == "ACCEPTED"
    again = await client.call("POST", "/v3/fund-app/mch-transfer/transfer-bills", bill)
    assert again.json()["transfer_bill_no"] == created.json()["transfer_bill_no"]
    clash = await client.call(
        "POST", "/v3/fund-app/mch-transfer/transfer-bills", {**bill, "transfer_amount": 501}
    )
    assert clash.status == 400
    [cb] = await receiver.wait_for(1)
    assert json.loads(cb.body)["event_type"] == "MCHTRANSFER.BILL.FINISHED"
    res = decrypt(cb.body, merchant.api_v3_key)
    assert res["state"] == "SUCCESS"
    assert res["transfer_amount"] == 500
    q = await client.call("GET", f"/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{no}")
    assert q.status == 200
    assert q.json()["state"] == "SUCCESS"
    assert q.json()["mch_id"] == merchant.mchid
    missing = await client.call("GET", "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/NONE1")
    assert missing.status == 404


async def test_certificates_and_public_key_mode(
    client: WeChatClient,
    merchant: WeChatMerchant,
    http: aiohttp.ClientSession,
    sandbox: SandboxServer,
) -> None:
    reg = merchant.registration
    certs = await client.call("GET", "/v3/certificates")
    assert certs.status == 200
    assert certs.headers["Wechatpay-Serial"] == reg["platform_serial_no"]
    [entry] = certs.json()["data"]
    enc = entry["encrypt_certificate"]
    pem = sign.aes_gcm_decrypt(
        merchant.api_v3_key, enc["nonce"], enc["associated_data"], enc["ciphertext"]
    )
    assert sign.certificate_serial(pem) == entry["serial_no"] == reg["platform_serial_no"]
    assert pem.decode() == reg["platform_certificate_pem"]

    # naming the public key id in Wechatpay-Serial gets answers signed under that id
    named = await client.call(
        "GET", "/v3/certificates", headers={"Wechatpay-Serial": reg["platform_public_key_id"]}
    )
    assert named.headers["Wechatpay-Serial"] == reg["platform_public_key_id"]
    h = named.headers
    msg = sign.response_message(h["Wechatpay-Timestamp"], h["Wechatpay-Nonce"], named.body)
    assert sign.rsa_verify(reg["platform_public_key_pem"], msg, h["Wechatpay-Signature"])
    bogus = await client.call("GET", "/v3/certificates", headers={"Wechatpay-Serial": "ABC"})
    assert bogus.status == 400

    # a merchant registered in public-key mode gets every answer under the key id
    pk = await register(http, sandbox, platform_key_mode="public_key")
    assert pk.registration["platform_key_mode"] == "public_key"
    pk_client = WeChatClient(sandbox.url, pk, http)
    a = await pk_client.call(
        "GET", f"/v3/pay/transactions/out-trade-no/X{unique()}?mchid={pk.mchid}"
    )
    assert a.headers["Wechatpay-Serial"] == reg["platform_public_key_id"]


async def test_unknown_path_is_a_signed_404(client: WeChatClient, merchant: WeChatMerchant) -> None:
    a = await client.call("GET", "/v3/pay/nothing-here")
    assert a.status == 404
    assert a.json()["code"] == "NOT_FOUND"
    assert verify_platform_signature(a.headers, a.body, merchant.registration)
    a = await client.call("GET", "/v3/refund/domestic/refunds")  # POST-only path
    assert a.status == 404


async def test_callbacks_follow_the_serial_the_merchant_names(
    http: aiohttp.ClientSession, sandbox: SandboxServer, receiver: Receiver
) -> None:
    """A client that names the public key id in its requests gets callbacks under it."""
    m = await register(http, sandbox)
    c = WeChatClient(sandbox.url, m, http)
    key_id = m.registration["platform_public_key_id"]
    no = unique()
    a = await c.call(
        "POST",
        "/v3/pay/transactions/native",
        c.native_order(no, 7, receiver.url),
        headers={"Wechatpay-Serial": key_id},
    )
    assert a.headers["Wechatpay-Serial"] == key_id
    async with http.post(
        sandbox.url + "/_sandbox/pay", json={"channel": "wechat", "out_trade_no": no}
    ) as resp:
        assert resp.status == 200
    [cb] = await receiver.wait_for(1)
    assert cb.headers["Wechatpay-Serial"] == key_id
    assert verify_platform_signature(cb.headers, cb.body, m.registration)
