"""WeChat Pay transfers (商家转账, money out to a user's WeChat balance): create, query and
cancel a transfer bill, as pure `build_*` / `parse_*` functions like `adapter`'s.

Our transfer_id is WeChat's out_bill_no.
"""

from __future__ import annotations

from datetime import datetime

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.base import RESULT_PENDING, expect_same
from paymesh.channels.transport import HttpRequest, HttpResponse
from paymesh.channels.wechat.adapter import TRANSFER_BILLS_PATH, is_not_found, path_segment
from paymesh.channels.wechat.config import WechatAccount
from paymesh.channels.wechat.protocol import (
    PlatformKeys,
    checked_body,
    encrypt_sensitive,
    preferred_platform_serial,
    sign_request,
)
from paymesh.channels.wechat.transformers import (
    REDACT_KEYS,
    dumps,
    transfer_body,
    transfer_result,
)
from paymesh.errors import ChannelError, ChannelUnavailable


def build_transfer_request(
    req: svc.TransferRequest,
    account: WechatAccount,
    now: datetime,
    nonce: str,
    keys: PlatformKeys | None = None,
) -> HttpRequest:
    """`payee_name`, when given, is RSA-OAEP encrypted with a platform key (`keys`) and the
    key's serial goes in `Wechatpay-Serial`, as WeChat requires for `user_name`."""
    path_segment(req.transfer_id, "transfer_id")
    extra: dict[str, str] = {}
    encrypted = ""
    if req.payee_name:
        serial = preferred_platform_serial(keys or {})
        if not serial or keys is None:
            raise ChannelUnavailable("no platform key to encrypt the payee name with")
        encrypted = encrypt_sensitive(keys[serial], req.payee_name)
        extra["Wechatpay-Serial"] = serial
    body = dumps(transfer_body(req, account, encrypted))
    return sign_request(
        account,
        "POST",
        TRANSFER_BILLS_PATH,
        body,
        now,
        nonce,
        extra_headers=extra,
        redact_keys=REDACT_KEYS,
    )


def parse_transfer_response(
    req: svc.TransferRequest,
    resp: HttpResponse,
    keys: PlatformKeys,
    now: datetime,
    account: WechatAccount | None = None,
) -> svc.TransferResponse:
    """WAIT_USER_CONFIRM carries `package_info`: with the account it becomes the transfer's
    confirm parameters (the payee confirms receipt in WeChat)."""
    data = checked_body(resp, keys, now)
    transfer = transfer_result(data, amount=req.amount, account=account)
    expect_same("WeChat Pay", "out_bill_no", req.transfer_id, transfer.transfer_id)
    transfer.transfer_id = req.transfer_id
    return svc.TransferResponse(transfer=transfer)


def build_query_transfer_request(
    req: svc.QueryTransferRequest, account: WechatAccount, now: datetime, nonce: str
) -> HttpRequest:
    path = f"{TRANSFER_BILLS_PATH}/out-bill-no/{path_segment(req.transfer_id, 'transfer_id')}"
    return sign_request(account, "GET", path, b"", now, nonce, redact_keys=REDACT_KEYS)


def parse_query_transfer_response(
    req: svc.QueryTransferRequest, resp: HttpResponse, keys: PlatformKeys, now: datetime
) -> svc.QueryTransferResponse:
    """A signed 404 NOT_FOUND: WeChat never received the bill (PENDING, `not_found`)."""
    try:
        data = checked_body(resp, keys, now)
    except ChannelError as e:
        if not is_not_found(e):
            raise
        return svc.QueryTransferResponse(
            transfer=channel_pb2.TransferResult(
                state=RESULT_PENDING,
                transfer_id=req.transfer_id,
                provider_state=e.metadata["provider_code"],
                not_found=True,
            )
        )
    transfer = transfer_result(data)
    expect_same("WeChat Pay", "out_bill_no", req.transfer_id, transfer.transfer_id)
    if not transfer.provider_state:
        raise ChannelUnavailable("malformed WeChat Pay response: no transfer state")
    transfer.transfer_id = req.transfer_id
    return svc.QueryTransferResponse(transfer=transfer)


def build_cancel_transfer_request(
    req: svc.CancelTransferRequest, account: WechatAccount, now: datetime, nonce: str
) -> HttpRequest:
    """POST .../transfer-bills/out-bill-no/{out_bill_no}/cancel (撤销转账,
    https://pay.weixin.qq.com/doc/v3/merchant/4012716458): no body; answers
    {out_bill_no, transfer_bill_no, state: CANCELING|CANCELLED, update_time}."""
    no = path_segment(req.transfer_id, "transfer_id")
    path = f"{TRANSFER_BILLS_PATH}/out-bill-no/{no}/cancel"
    return sign_request(account, "POST", path, b"", now, nonce, redact_keys=REDACT_KEYS)


def parse_cancel_transfer_response(
    req: svc.CancelTransferRequest, resp: HttpResponse, keys: PlatformKeys, now: datetime
) -> svc.CancelTransferResponse:
    data = checked_body(resp, keys, now)
    transfer = transfer_result(data)
    expect_same("WeChat Pay", "out_bill_no", req.transfer_id, transfer.transfer_id)
    if not transfer.provider_state:
        raise ChannelUnavailable("malformed WeChat Pay response: no transfer state")
    transfer.transfer_id = req.transfer_id
    return svc.CancelTransferResponse(transfer=transfer)


__all__ = [
    "build_cancel_transfer_request",
    "build_query_transfer_request",
    "build_transfer_request",
    "parse_cancel_transfer_response",
    "parse_query_transfer_response",
    "parse_transfer_response",
]
