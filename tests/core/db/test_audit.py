"""Channel request log and callback audit: stored, with secrets redacted."""

from __future__ import annotations

import json

import sqlalchemy as sa

from paymesh.core.db.audit import ChannelCall, RawCallback
from paymesh.core.db.models import Callback, ChannelRequest
from paymesh.core.db.store import Store


async def test_audit_rows(store: Store) -> None:
    rid = await store.log_channel_request(
        ChannelCall(
            object_kind="order",
            object_id="P1",
            rpc="Pay",
            channel="wechat",
            account_id="wx1",
            http_method="POST",
            url="https://api.mch.weixin.qq.com/v3/pay/transactions/native",
            http_status=200,
            request_body=b'{"amount":{"total":1},"private_key":"x"}',
            response_body='{"code_url":"weixin://wxpay/bizpayurl?pr=1"}',
            latency_ms=12,
        )
    )
    cid = await store.record_callback(
        RawCallback(
            channel="alipay",
            account_id="ali1",
            body="trade_status=TRADE_SUCCESS&out_trade_no=P1&app_auth_token=secret",
            content_type="application/x-www-form-urlencoded",
            headers={"Authorization": "Bearer x", "X-Real-IP": "1.2.3.4"},
            verified=True,
            outcome="paid",
            object_kind="order",
            object_id="P1",
        )
    )
    async with store.sessions() as s:
        req = await s.get(ChannelRequest, rid)
        cb = await s.get(Callback, cid)
        count = await s.scalar(sa.select(sa.func.count()).select_from(Callback))
    assert req is not None
    assert cb is not None
    assert count == 1
    assert json.loads(req.request_body)["private_key"] == "[REDACTED]"
    assert req.response_body.startswith('{"code_url"')
    assert "secret" not in cb.body
    assert "TRADE_SUCCESS" in cb.body
    assert cb.headers == {"authorization": "[REDACTED]", "x-real-ip": "1.2.3.4"}
    assert cb.verified
