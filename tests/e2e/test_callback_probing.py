"""Hostile callbacks: an unknown account answers exactly like a forged signature, and a
rejected callback stores only a few KiB of whatever was sent."""

from __future__ import annotations

import json
import time
import uuid

import aiohttp
import pytest
import sqlalchemy as sa

from paymesh.callback.service import MAX_REJECTED_BODY
from paymesh.dev.seed import ALIPAY_ACCOUNT, WECHAT_ACCOUNT
from tests.e2e.conftest import Mesh

WECHAT_HEADERS = {
    "content-type": "application/json",
    "wechatpay-timestamp": "",
    "wechatpay-nonce": "n0nce",
    "wechatpay-signature": "c2lnbmF0dXJl",
    "wechatpay-serial": "PUB_KEY_ID_0000000000000000000000000001",
    "wechatpay-signature-type": "WECHATPAY2-SHA256-RSA2048",
}
BODY = json.dumps({"id": "x", "event_type": "TRANSACTION.SUCCESS", "resource": {}}).encode()
ALIPAY_FORM = b"notify_type=trade_status_sync&out_trade_no=P1&trade_status=TRADE_SUCCESS&sign=AAAA"


async def _post(
    http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int, str, str]:
    async with http.post(url, data=body, headers=headers) as r:
        return r.status, r.headers.get("content-type", ""), await r.text()


@pytest.mark.parametrize(
    ("channel", "known", "body", "content_type"),
    [
        ("wechat", WECHAT_ACCOUNT, BODY, "application/json"),
        ("alipay", ALIPAY_ACCOUNT, ALIPAY_FORM, "application/x-www-form-urlencoded"),
    ],
)
async def test_unknown_account_gets_the_answer_of_a_forged_signature(
    mesh: Mesh,
    http: aiohttp.ClientSession,
    channel: str,
    known: str,
    body: bytes,
    content_type: str,
) -> None:
    headers = {**WECHAT_HEADERS, "content-type": content_type}
    headers["wechatpay-timestamp"] = str(int(time.time()))
    base = f"{mesh.edge_url}/v1/callbacks/{channel}"
    forged = await _post(http, f"{base}/{known}", body, headers)
    unknown = await _post(http, f"{base}/no-such-account", body, headers)
    assert forged[0] in (200, 401), forged
    assert unknown == forged
    # An unknown channel: the generic rejection, never a 404 telling what exists.
    status, _, text = await _post(http, f"{mesh.edge_url}/v1/callbacks/nochannel/x", body, headers)
    assert status == 401, text
    assert json.loads(text)["details"][0]["reason"] == "SIGNATURE_INVALID"


async def test_a_rejected_callback_stores_at_most_a_few_kib(
    mesh: Mesh, http: aiohttp.ClientSession
) -> None:
    marker = uuid.uuid4().hex
    body = json.dumps({"id": marker, "pad": "x" * 900_000}).encode()
    headers = {**WECHAT_HEADERS, "wechatpay-timestamp": "9" * 5000, "x-junk": "y" * 4000}
    status, _, text = await _post(
        http, f"{mesh.edge_url}/v1/callbacks/wechat/{WECHAT_ACCOUNT}", body, headers
    )
    assert status == 401, text
    store = await mesh.store()
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text("SELECT body, headers, verified FROM callbacks WHERE body LIKE :m"),
                {"m": f"%{marker}%"},
            )
        ).all()
    (row,) = rows
    assert not row.verified
    assert len(row.body.encode()) <= MAX_REJECTED_BODY
    stored_headers = row.headers if isinstance(row.headers, dict) else json.loads(row.headers)
    assert all(len(v) <= 512 for v in stored_headers.values())


@pytest.mark.parametrize(
    "path",
    [f"wechat/{'a' * 300}", f"{'c' * 300}/x", f"alipay/{'支' * 100}"],
    ids=["account", "channel", "cjk"],
)
async def test_overlong_callback_path_parts_are_a_plain_rejection(
    mesh: Mesh, http: aiohttp.ClientSession, path: str
) -> None:
    headers = {**WECHAT_HEADERS, "wechatpay-timestamp": str(int(time.time()))}
    status, _, text = await _post(http, f"{mesh.edge_url}/v1/callbacks/{path}", BODY, headers)
    assert status in (200, 401), text  # Alipay answers its own 200 "fail"; never a 5xx
    if status == 401:
        assert json.loads(text)["details"][0]["reason"] == "SIGNATURE_INVALID"
    else:
        assert text == "fail"
