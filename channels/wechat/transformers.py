"""WeChat Pay v3 wire shapes and their conversions to and from paymesh's types.

Amounts stay integers in fen (WeChat's unit), so nothing converts here except times:
WeChat writes RFC 3339 with a +08:00 offset. Each WeChat status enum has one explicit map;
whatever is not in a map is PENDING (only explicit success or failure is terminal).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta, timezone
from typing import Any, Final

from google.protobuf import timestamp_pb2

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.base import (
    RESULT_FAILED,
    RESULT_PENDING,
    RESULT_SUCCEEDED,
    TRADE_CLOSED,
    TRADE_FAILED,
    TRADE_PAID,
    TRADE_PENDING,
    check_currency,
    map_state,
    parse_rfc3339,
    to_timestamp,
)
from paymesh.channels.wechat.config import WechatAccount
from paymesh.errors import ChannelUnavailable, InvalidArgument

CHINA_TZ: Final = timezone(timedelta(hours=8))

# trade_state of /v3/pay/transactions/... queries and TRANSACTION.* callbacks.
TRADE_STATE_MAP: Final[Mapping[str, channel_pb2.TradeState]] = {
    "SUCCESS": TRADE_PAID,
    "REFUND": TRADE_PAID,  # paid, then (partly) refunded: the payment itself succeeded
    "NOTPAY": TRADE_PENDING,
    "USERPAYING": TRADE_PENDING,
    "CLOSED": TRADE_CLOSED,
    "REVOKED": TRADE_CLOSED,
    "PAYERROR": TRADE_FAILED,
}

# status (queries) / refund_status (REFUND.* callbacks) of domestic refunds
# (查询单笔退款 https://pay.weixin.qq.com/doc/v3/merchant/4013071041): SUCCESS 退款成功,
# CLOSED 退款关闭 (final). ABNORMAL 退款异常 is NOT final: the money left the merchant and
# the refund completes once the merchant handles it on the merchant platform or through
# 发起异常退款 (https://pay.weixin.qq.com/doc/v3/merchant/4013071193); releasing it would
# let a second refund double the first.
REFUND_STATUS_MAP: Final[Mapping[str, channel_pb2.ResultState]] = {
    "SUCCESS": RESULT_SUCCEEDED,
    "CLOSED": RESULT_FAILED,
    "ABNORMAL": RESULT_PENDING,
    "PROCESSING": RESULT_PENDING,
}

# state of 商家转账 transfer bills (查询转账单 https://pay.weixin.qq.com/doc/v3/merchant/4012716437):
# SUCCESS and FAIL / CANCELLED (转账失败 / 转账撤销完成) are final, the rest is in progress.
TRANSFER_STATE_MAP: Final[Mapping[str, channel_pb2.ResultState]] = {
    "SUCCESS": RESULT_SUCCEEDED,
    "FAIL": RESULT_FAILED,
    "CANCELLED": RESULT_FAILED,
    "ACCEPTED": RESULT_PENDING,
    "PROCESSING": RESULT_PENDING,
    "WAIT_USER_CONFIRM": RESULT_PENDING,
    "TRANSFERING": RESULT_PENDING,
    "CANCELING": RESULT_PENDING,
}

# Fields that are personal data in WeChat bodies: kept out of the channel log.
REDACT_KEYS: Final = frozenset({"user_name", "openid", "sp_openid", "sub_openid", "payer"})

DESCRIPTION_MAX = 127  # characters WeChat allows in `description`


def trade_state(provider_state: str) -> channel_pb2.TradeState:
    return map_state(TRADE_STATE_MAP, provider_state, TRADE_PENDING)


def refund_state(provider_state: str) -> channel_pb2.ResultState:
    return map_state(REFUND_STATUS_MAP, provider_state, RESULT_PENDING)


def transfer_state(provider_state: str) -> channel_pb2.ResultState:
    return map_state(TRANSFER_STATE_MAP, provider_state, RESULT_PENDING)


# --- encoding helpers -------------------------------------------------------------------


def dumps(obj: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON: the exact bytes that are signed and sent."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def loads_object(body: bytes) -> dict[str, Any]:
    """Parse a JSON object from an (authenticated) WeChat body, or ChannelUnavailable."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ChannelUnavailable("malformed WeChat Pay response: not JSON") from e
    if not isinstance(data, dict):
        raise ChannelUnavailable("malformed WeChat Pay response: not a JSON object")
    return data


def get_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def get_int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


def get_obj(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def format_time(ts: timestamp_pb2.Timestamp) -> str:
    """A protobuf Timestamp as WeChat writes times: `2024-06-08T10:34:56+08:00`."""
    return ts.ToDatetime(tzinfo=CHINA_TZ).replace(microsecond=0).isoformat()


def _timestamp(value: str) -> timestamp_pb2.Timestamp | None:
    return to_timestamp(parse_rfc3339(value))


# --- request bodies ----------------------------------------------------------------------


def _notify_url(request_url: str, account: WechatAccount) -> str:
    url = request_url or account.notify_url
    if not url:
        raise InvalidArgument("notify_url is required by WeChat Pay", field="notify_url")
    return url


def pay_body(req: svc.PayRequest, account: WechatAccount) -> dict[str, Any]:
    """Body of POST /v3/pay/transactions/{native|h5|app|jsapi}."""
    if req.amount <= 0:
        raise InvalidArgument("amount must be positive", field="amount")
    description = (req.subject or req.description).strip()
    if not description:
        raise InvalidArgument("subject (WeChat description) is required", field="subject")
    body: dict[str, Any] = {
        "appid": account.appid,
        "mchid": account.mchid,
        "description": description[:DESCRIPTION_MAX],
        "out_trade_no": req.order_id,
        "notify_url": _notify_url(req.notify_url, account),
        "amount": {
            "total": req.amount,
            "currency": check_currency(req.currency, "WeChat Pay (domestic)"),
        },
    }
    if req.HasField("expire_time"):
        body["time_expire"] = format_time(req.expire_time)
    if req.method == "h5":
        if not req.client_ip:
            raise InvalidArgument("client_ip is required for h5", field="client_ip")
        body["scene_info"] = {
            "payer_client_ip": req.client_ip,
            "h5_info": {"type": account.h5_type},
        }
    elif req.method == "jsapi":
        if not req.payer_id:
            raise InvalidArgument("payer_id (openid) is required for jsapi", field="payer_id")
        body["payer"] = {"openid": req.payer_id}
    elif req.client_ip:
        body["scene_info"] = {"payer_client_ip": req.client_ip}
    return body


def refund_body(req: svc.RefundRequest, account: WechatAccount) -> dict[str, Any]:
    """Body of POST /v3/refund/domestic/refunds."""
    if req.amount <= 0:
        raise InvalidArgument("refund amount must be positive", field="amount")
    if req.total_amount < req.amount:
        raise InvalidArgument("total_amount must cover the refund", field="total_amount")
    body: dict[str, Any] = {
        "out_trade_no": req.order_id,
        "out_refund_no": req.refund_id,
        "amount": {
            "refund": req.amount,
            "total": req.total_amount,
            "currency": check_currency(req.currency, "WeChat Pay (domestic)"),
        },
    }
    if req.reason:
        body["reason"] = req.reason[:80]
    url = req.notify_url or account.notify_url
    if url:
        body["notify_url"] = url
    return body


# Defaults per transfer scene (商家转账 发起转账 https://pay.weixin.qq.com/doc/v3/merchant/4012716434,
# "转账场景报备信息" and "用户收款感知" of each scene): the report info types WeChat requires for
# the scene and the perception shown to the payee. An account may configure its own.
SCENE_DEFAULTS: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = {
    "1000": ("现金奖励", ("活动名称", "奖励说明")),  # 现金营销
    "1005": ("劳务报酬", ("岗位类型", "报酬说明")),  # 佣金报酬
}
REPORT_INFO_MAX = 32  # characters of info_content


def scene_report_infos(account: WechatAccount, remark: str) -> list[dict[str, str]]:
    """The account's configured entries, or the scene's default types described by the
    transfer's remark (WeChat requires them for every scene that has any)."""
    if account.transfer_scene_report_infos:
        return [i.model_dump() for i in account.transfer_scene_report_infos]
    _, types = SCENE_DEFAULTS.get(account.transfer_scene_id, ("", ()))
    return [{"info_type": t, "info_content": remark[:REPORT_INFO_MAX]} for t in types]


def user_recv_perception(account: WechatAccount) -> str:
    if account.transfer_user_recv_perception:
        return account.transfer_user_recv_perception
    return SCENE_DEFAULTS.get(account.transfer_scene_id, ("", ()))[0]


def transfer_body(
    req: svc.TransferRequest, account: WechatAccount, encrypted_user_name: str = ""
) -> dict[str, Any]:
    """Body of POST /v3/fund-app/mch-transfer/transfer-bills (商家转账)."""
    if req.amount <= 0:
        raise InvalidArgument("transfer amount must be positive", field="amount")
    if not req.payee_id:
        raise InvalidArgument("payee_id (openid) is required", field="payee_id")
    check_currency(req.currency, "WeChat Pay (domestic)")
    remark = (req.remark or "transfer")[:32]
    body: dict[str, Any] = {
        "appid": account.appid,
        "out_bill_no": req.transfer_id,
        "transfer_scene_id": account.transfer_scene_id,
        "openid": req.payee_id,
        "transfer_amount": req.amount,
        "transfer_remark": remark,
    }
    if encrypted_user_name:
        body["user_name"] = encrypted_user_name
    url = req.notify_url or account.notify_url
    if url:
        body["notify_url"] = url
    perception = user_recv_perception(account)
    if perception:
        body["user_recv_perception"] = perception
    infos = scene_report_infos(account, remark)
    if infos:
        body["transfer_scene_report_infos"] = infos
    return body


# --- results -----------------------------------------------------------------------------


def trade_result(data: Mapping[str, Any]) -> channel_pb2.TradeResult:
    """A transaction (query answer or decrypted TRANSACTION.* resource)."""
    provider_state = get_str(data, "trade_state")
    amount = get_obj(data, "amount")
    result = channel_pb2.TradeResult(
        state=trade_state(provider_state),
        order_id=get_str(data, "out_trade_no"),
        channel_trade_no=get_str(data, "transaction_id"),
        amount=get_int(amount, "total"),
        currency=get_str(amount, "currency"),
        payer_id=get_str(get_obj(data, "payer"), "openid"),
        provider_state=provider_state,
    )
    paid_at = _timestamp(get_str(data, "success_time"))
    if paid_at is not None and result.state == TRADE_PAID:
        result.paid_at.CopyFrom(paid_at)
    return result


def refund_result(data: Mapping[str, Any]) -> channel_pb2.RefundResult:
    """A refund (create/query answer, or decrypted REFUND.* resource)."""
    provider_state = get_str(data, "status") or get_str(data, "refund_status")
    result = channel_pb2.RefundResult(
        state=refund_state(provider_state),
        refund_id=get_str(data, "out_refund_no"),
        order_id=get_str(data, "out_trade_no"),
        channel_refund_no=get_str(data, "refund_id"),
        amount=get_int(get_obj(data, "amount"), "refund"),
        provider_state=provider_state,
    )
    done = _timestamp(get_str(data, "success_time"))
    if done is not None and result.state == RESULT_SUCCEEDED:
        result.succeeded_at.CopyFrom(done)
    return result


def transfer_result(
    data: Mapping[str, Any], amount: int = 0, account: WechatAccount | None = None
) -> channel_pb2.TransferResult:
    """A transfer bill (create/query answer or MCHTRANSFER.BILL.* resource).

    The create answer carries no amount: pass the requested one as `amount`. With the
    account, a WAIT_USER_CONFIRM answer's `package_info` becomes the confirm parameters of
    wx.requestMerchantTransfer (`mchId`, `appId`, `package`).
    """
    provider_state = get_str(data, "state")
    result = channel_pb2.TransferResult(
        state=transfer_state(provider_state),
        transfer_id=get_str(data, "out_bill_no"),
        channel_transfer_no=get_str(data, "transfer_bill_no"),
        amount=get_int(data, "transfer_amount") or amount,
        fail_reason=get_str(data, "fail_reason"),
        provider_state=provider_state,
    )
    package = get_str(data, "package_info")
    if package and account is not None and provider_state == "WAIT_USER_CONFIRM":
        result.confirm_params.update(
            {"mchId": account.mchid, "appId": account.appid, "package": package}
        )
    done = _timestamp(get_str(data, "update_time"))
    if done is not None and result.state == RESULT_SUCCEEDED:
        result.succeeded_at.CopyFrom(done)
    return result


__all__ = [
    "REFUND_STATUS_MAP",
    "SCENE_DEFAULTS",
    "TRADE_STATE_MAP",
    "TRANSFER_STATE_MAP",
    "dumps",
    "format_time",
    "loads_object",
    "pay_body",
    "refund_body",
    "refund_result",
    "trade_result",
    "transfer_body",
    "transfer_result",
]
