"""WeChat Pay v3 callbacks (pure): verify, decrypt, normalise.

Decisions:
- A callback that cannot be authenticated (missing headers, unknown serial, bad signature,
  e.g. WeChat's deliberate probe callbacks, or Wechatpay-Timestamp more than 5 minutes
  away) is rejected: the response carries `reject_reason` and NO event, and `nack` is
  HTTP 401 `{"code":"FAIL","message":"..."}` as WeChat expects for a failed delivery.
  A malformed or undecryptable body is rejected the same way with HTTP 400.
- `ack` is HTTP 200 with an empty body (WeChat v3 accepts 200/204 without a body).
- Accepted callbacks carry `nack` = HTTP 500 `{"code":"FAIL",...}` for when applying
  fails; WeChat then retries.
- An authentic callback of a type we do not handle is acknowledged with no event and no
  reject_reason (nacking would make WeChat retry it for a day).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.wechat import sign
from paymesh.channels.wechat.config import WechatAccount
from paymesh.channels.wechat.protocol import (
    PlatformKeys,
    ResponseUnauthenticated,
    UnknownSerial,
    verify_signature,
)
from paymesh.channels.wechat.transformers import (
    get_obj,
    get_str,
    refund_result,
    trade_result,
    transfer_result,
)
from paymesh.errors import ChannelUnavailable

ALGORITHM: Final = "AEAD_AES_256_GCM"
TRANSFER_EVENTS: Final = frozenset({"MCHTRANSFER.BILL.FINISHED"})


def fail_reply(status: int, message: str) -> channel_pb2.Reply:
    body = json.dumps({"code": "FAIL", "message": message}, ensure_ascii=False).encode()
    return channel_pb2.Reply(http_status=status, content_type="application/json", body=body)


ACK: Final = channel_pb2.Reply(http_status=200, content_type="", body=b"")
NACK_APPLY: Final = fail_reply(500, "failed to process the notification")


def _reject(status: int, reason: str, event_id: str = "") -> svc.ParseNotifyResponse:
    return svc.ParseNotifyResponse(
        ack=ACK, nack=fail_reply(status, reason), reject_reason=reason, provider_event_id=event_id
    )


def _decrypt_resource(account: WechatAccount, resource: Mapping[str, Any]) -> dict[str, Any]:
    if get_str(resource, "algorithm") != ALGORITHM:
        raise ValueError("unsupported resource algorithm")
    plain = sign.aes_gcm_decrypt(
        account.api_v3_key.get_secret_value(),
        get_str(resource, "nonce"),
        get_str(resource, "associated_data"),
        get_str(resource, "ciphertext"),
    )
    data = json.loads(plain.decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("resource is not a JSON object")
    return data


def parse_notify(
    req: svc.ParseNotifyRequest,
    account: WechatAccount,
    keys: PlatformKeys,
    now: datetime,
    *,
    raise_unknown_serial: bool = False,
) -> svc.ParseNotifyResponse:
    """Verify and normalise one callback. Never raises for a bad callback, except
    `UnknownSerial` when `raise_unknown_serial` (so the caller can refresh platform
    certificates and try again)."""
    if req.http_method and req.http_method.upper() != "POST":
        return _reject(405, "callbacks must be POST")
    try:
        verify_signature(req.headers, req.body, keys, now)
    except UnknownSerial:
        if raise_unknown_serial:
            raise
        return _reject(401, "signed by an unknown platform serial")
    except ResponseUnauthenticated as e:
        return _reject(401, e.message.replace("response", "callback"))
    try:
        envelope = json.loads(req.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _reject(400, "callback body is not JSON")
    if not isinstance(envelope, dict):
        return _reject(400, "callback body is not a JSON object")
    event_id = get_str(envelope, "id")
    event_type = get_str(envelope, "event_type")
    try:
        resource = _decrypt_resource(account, get_obj(envelope, "resource"))
    except (ValueError, UnicodeDecodeError):
        return _reject(400, "callback resource could not be decrypted", event_id)
    # The account in the callback URL must be the one WeChat says it paid: its mchid and,
    # where the resource names one (payments), its appid.
    mchid = get_str(resource, "mchid") or get_str(resource, "mch_id")
    if mchid and mchid != account.mchid:
        return _reject(400, "callback is for another merchant", event_id)
    appid = get_str(resource, "appid")
    if appid and appid != account.appid:
        return _reject(400, "callback is for another appid", event_id)

    out = svc.ParseNotifyResponse(ack=ACK, nack=NACK_APPLY, provider_event_id=event_id)
    try:
        if event_type.startswith("TRANSACTION."):
            trade = trade_result(resource)
            if not (trade.order_id and trade.provider_state):
                raise ChannelUnavailable("transaction resource incomplete")
            out.trade.CopyFrom(trade)
        elif event_type.startswith("REFUND."):
            refund = refund_result(resource)
            if not (refund.refund_id and refund.provider_state):
                raise ChannelUnavailable("refund resource incomplete")
            out.refund.CopyFrom(refund)
        elif event_type in TRANSFER_EVENTS or event_type.startswith("MCHTRANSFER."):
            transfer = transfer_result(resource)
            if not (transfer.transfer_id and transfer.provider_state):
                raise ChannelUnavailable("transfer resource incomplete")
            out.transfer.CopyFrom(transfer)
    except ChannelUnavailable as e:
        return _reject(400, e.message, event_id)
    return out


__all__ = ["ACK", "NACK_APPLY", "fail_reply", "parse_notify"]
