"""Alipay async notifies (pure): verify, normalise.

Alipay POSTs a form (`application/x-www-form-urlencoded`, charset per its `charset`
parameter) to the trade's notify_url. Decisions:
- The signature covers every parameter but `sign` and `sign_type` (empty values skipped,
  sorted, `k=v&...`), RSA2 with the Alipay public key (or its certificate's key).
- `ack` is HTTP 200 `text/plain` body `success`; `nack` is HTTP 200 body `fail`: Alipay
  retries (over ~25 hours) on anything but exactly `success`.
- A notify that cannot be authenticated, is for another app (`app_id`) or seller (`seller_id`,
  when the account names its PID), or is malformed is rejected:
  `reject_reason` set, no event, `nack`.
- A notify carrying refund fields (`out_biz_no` + `refund_fee`/`gmt_refund`) is a refund:
  RefundResult SUCCEEDED with refund_id = out_biz_no (our out_request_no). Its amount is
  left 0: Alipay's `refund_fee` is the trade's cumulative refunded amount, not this one's.
- Any other trade notify is a TradeResult (order_id = out_trade_no, amount from
  total_amount, paid_at = gmt_payment). Authentic notifies of other kinds are acked
  without an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import parse_qsl

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.alipay import sign
from paymesh.channels.alipay.config import AlipayAccount
from paymesh.channels.alipay.protocol import CertKeys
from paymesh.channels.alipay.transformers import timestamp, trade_result, yuan_to_fen
from paymesh.channels.base import RESULT_SUCCEEDED

ACK: Final = channel_pb2.Reply(http_status=200, content_type="text/plain", body=b"success")
NACK: Final = channel_pb2.Reply(http_status=200, content_type="text/plain", body=b"fail")


def _reject(reason: str, event_id: str = "") -> svc.ParseNotifyResponse:
    return svc.ParseNotifyResponse(
        ack=ACK, nack=NACK, reject_reason=reason, provider_event_id=event_id
    )


def notify_params(req: svc.ParseNotifyRequest) -> dict[str, str]:
    """The notify's parameters: the form body of a POST, else the query string.

    Raises ValueError when the body is not a form or repeats a parameter.
    """
    if req.http_method.upper() in ("", "POST") and req.body:
        raw = req.body
        charset = "utf-8"
        for k, v in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
            if k == "charset" and v:
                charset = v
        text = raw.decode(charset)
    else:
        text, charset = req.query, "utf-8"
    pairs = parse_qsl(
        text, keep_blank_values=True, strict_parsing=bool(text), encoding=charset, errors="strict"
    )
    params: dict[str, str] = {}
    for k, v in pairs:
        if k in params:
            raise ValueError(f"parameter {k!r} repeated")
        params[k] = v
    return params


def is_refund(params: Mapping[str, str]) -> bool:
    return bool(params.get("out_biz_no")) and bool(
        params.get("refund_fee") or params.get("gmt_refund")
    )


def verify(params: Mapping[str, str], account: AlipayAccount, keys: CertKeys | None) -> bool:
    """The configured Alipay key, then (certificate mode) the keys of rotated Alipay
    certificates the channel downloaded and checked against the root (`certs`). A notify
    names no certificate (no `alipay_cert_sn`: the official SDK verifies notifies with the
    configured certificate, AlipaySignature.rsaCertCheckV1(params, alipayPublicCertPath, ..)),
    and Alipay keeps the key when it re-issues its certificate ("支付宝公钥证书由于证书到期等原因,
    会重新签发新的证书(alipay_cert_sn 不同,但证书中密钥内容不变)"); a notify signed with the
    key of a rotated certificate paymesh already trusts is accepted too."""
    if sign.verify_notify(account.alipay_public_key(), params):
        return True
    return any(sign.verify_notify(k, params) for k in (keys or {}).values())


def parse_notify(
    req: svc.ParseNotifyRequest, account: AlipayAccount, keys: CertKeys | None = None
) -> svc.ParseNotifyResponse:
    """Verify and normalise one notify. Never raises for a bad notify."""
    if req.http_method and req.http_method.upper() not in ("POST", "GET"):
        return _reject("notifies must be POST")
    try:
        params = notify_params(req)
    except (ValueError, UnicodeDecodeError, LookupError):
        return _reject("notify body is not a form")
    event_id = params.get("notify_id", "")
    if not params.get("sign"):
        return _reject("notify is not signed", event_id)
    if params.get("sign_type", "RSA2") != sign.SIGN_TYPE:
        return _reject("notify sign_type is not RSA2", event_id)
    if not verify(params, account, keys):
        return _reject("notify signature does not verify", event_id)
    if params.get("app_id") and params["app_id"] != account.app_id:
        return _reject("notify is for another app", event_id)
    if account.seller_id and params.get("seller_id") and params["seller_id"] != account.seller_id:
        return _reject("notify is for another seller", event_id)

    out = svc.ParseNotifyResponse(ack=ACK, nack=NACK, provider_event_id=event_id)
    if not params.get("out_trade_no"):
        return out  # authentic, but not about a trade (e.g. a transfer message): ack
    if is_refund(params):
        refund = channel_pb2.RefundResult(
            state=RESULT_SUCCEEDED,
            refund_id=params["out_biz_no"],
            order_id=params["out_trade_no"],
            channel_refund_no=params.get("trade_no", ""),
            provider_state="REFUND_SUCCESS",
        )
        at = timestamp(params.get("gmt_refund", "")[:19])
        if at is not None:
            refund.succeeded_at.CopyFrom(at)
        out.refund.CopyFrom(refund)
        return out
    if not params.get("trade_status"):
        return _reject("trade notify without trade_status", event_id)
    total = params.get("total_amount", "")
    if total:
        try:
            yuan_to_fen(total)
        except ValueError:
            return _reject("notify total_amount is not a yuan amount", event_id)
    out.trade.CopyFrom(trade_result(params))
    return out


__all__ = ["ACK", "NACK", "is_refund", "notify_params", "parse_notify", "verify"]
