"""UnionPay backUrl notifies (pure): authenticate, normalise.

UnionPay POSTs the transaction's result as a URL-encoded form to the request's `backUrl`
(ACP 5.1.0 后台通知). Decisions, following acpsdk's `BackRcvResponse` demo:
- authentic only when `signPubKeyCert` is within its validity, chains to the account's
  root through its intermediate, is UnionPay's (CN rule), and signs the other fields
  (double hash; sign.py), and `merId` is the account's;
- UnionPay retries until it gets HTTP 200: `ack` is 200 `ok`, `nack` 500;
- txnType 01 (consume): a TradeResult from `respCode` (00/A6 = PAID, anything else
  leaves the order PENDING: the payer may try again until payTimeout), amount `txnAmt`;
- txnType 04 (refund): a RefundResult for refund_id = `orderId` (00/A6 = SUCCEEDED,
  03/04/05 PENDING, other codes FAILED), amount `txnAmt`, `origQryId` kept;
- other authentic notifies (e.g. 31 consume cancel, which paymesh only sends while
  closing an order) are acked without an event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from urllib.parse import parse_qsl

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.unionpay import sign
from paymesh.channels.unionpay.config import UnionpayAccount
from paymesh.channels.unionpay.transformers import (
    TXN_CONSUME,
    TXN_REFUND,
    refund_result,
    trade_result,
)

ACK: Final = channel_pb2.Reply(http_status=200, content_type="text/plain", body=b"ok")
NACK: Final = channel_pb2.Reply(http_status=500, content_type="text/plain", body=b"fail")


def _reject(reason: str, event_id: str = "") -> svc.ParseNotifyResponse:
    return svc.ParseNotifyResponse(
        ack=ACK, nack=NACK, reject_reason=reason, provider_event_id=event_id
    )


def notify_fields(req: svc.ParseNotifyRequest) -> dict[str, str]:
    """The form fields (UTF-8). Raises ValueError for a non-form or a repeated field."""
    text = req.body.decode("utf-8") if req.body else req.query
    fields: dict[str, str] = {}
    for k, v in parse_qsl(
        text, keep_blank_values=True, strict_parsing=True, encoding="utf-8", errors="strict"
    ):
        if k in fields:
            raise ValueError(f"field {k!r} repeated")
        fields[k] = v
    return fields


def parse_notify(
    req: svc.ParseNotifyRequest, account: UnionpayAccount, now: datetime
) -> svc.ParseNotifyResponse:
    """Verify and normalise one notify. Never raises for a bad notify."""
    if req.http_method and req.http_method.upper() != "POST":
        return _reject("notifies must be POST")
    try:
        fields = notify_fields(req)
    except (ValueError, UnicodeDecodeError):
        return _reject("notify body is not a form")
    event_id = fields.get("queryId", "")
    if event_id and fields.get("txnType"):
        event_id = f"{fields['txnType']}:{event_id}"
    try:
        sign.verify_message(fields, account.trust_roots(), account.trust_intermediates(), now)
    except ValueError as e:  # CertificateRejected included
        return _reject(f"notify does not authenticate: {e}", event_id)
    if fields.get("merId") != account.mer_id:
        return _reject("notify is for another merId", event_id)
    if not fields.get("orderId") or not fields.get("respCode"):
        return _reject("notify without orderId or respCode", event_id)
    txn = (fields.get("txnType", ""), fields.get("txnSubType", ""))
    out = svc.ParseNotifyResponse(ack=ACK, nack=NACK, provider_event_id=event_id)
    if txn[0] == TXN_CONSUME[0]:
        out.trade.CopyFrom(trade_result(fields, fields["respCode"]))
    elif txn == TXN_REFUND:
        out.refund.CopyFrom(refund_result(fields, fields["respCode"]))
    return out


__all__ = ["ACK", "NACK", "notify_fields", "parse_notify"]
