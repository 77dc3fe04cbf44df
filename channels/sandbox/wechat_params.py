"""Reading and validating the JSON bodies of the sandbox's WeChat Pay API (`wechat_api.py`,
`wechat_transfers.py`): WeChat's `PARAM_ERROR` and `APPID_MCHID_NOT_MATCH` answers."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from paymesh.channels.sandbox.state import Merchant
from paymesh.channels.sandbox.wechat_errors import WeChatError

Json = dict[str, Any]
Answer = tuple[int, Json | None]

_OUT_TRADE_NO = re.compile(r"^[A-Za-z0-9_\-|*@]{6,32}$")
_OUT_REFUND_NO = re.compile(r"^[A-Za-z0-9_\-|*@]{1,64}$")
_DEFAULT_EXPIRY = dt.timedelta(hours=2)


def _param(message: str) -> WeChatError:
    return WeChatError(400, "PARAM_ERROR", message)


def _str(obj: Json, key: str, max_len: int, required: bool = True) -> str:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise _param(f"输入源“/body/{key}”映射到字段“{key}”必填性规则校验失败，此字段为必填项")
        return ""
    if not isinstance(value, str) or len(value) > max_len:
        raise _param(f"{key} must be a string of at most {max_len} characters")
    return value


def _int(obj: Json, key: str, where: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _param(f"{where}.{key} must be an integer (fen)")
    if value < 1:
        raise _param(f"{where}.{key} must be at least 1")
    return value


def _obj(obj: Json, key: str, required: bool = True) -> Json:
    value = obj.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise _param(f"{key} must be an object")
    return value


def _url(obj: Json, key: str, required: bool) -> str:
    url = _str(obj, key, 256, required)
    if url and not url.startswith(("http://", "https://")):
        raise _param(f"{key} must be an http(s) URL")
    return url


def _currency(amount: Json) -> str:
    currency = amount.get("currency", "CNY")
    if currency != "CNY":
        raise _param("amount.currency must be CNY")
    return "CNY"


def _fingerprint(data: Json) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _check_mchid(merchant: Merchant, mchid: str) -> None:
    if mchid != merchant.merchant_id:
        raise _param("mchid does not match the mchid of the Authorization header")


def _check_appid(merchant: Merchant, appid: str) -> None:
    if merchant.app_id and appid != merchant.app_id:
        raise WeChatError(400, "APPID_MCHID_NOT_MATCH", "AppID和mch_id不匹配")
