"""Reading and validating the parameters of the sandbox's Alipay gateway (`alipay_api.py`).

Alipay answers a bad parameter with `40004` + `<prefix>INVALID_PARAMETER` (a business
refusal) and a malformed `biz_content` with `40002` (`isv.invalid-biz-content`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from html import escape
from typing import Any

from aiohttp import web

from paymesh.channels.sandbox import alipay_views as views
from paymesh.channels.sandbox.alipay_errors import AlipayError, business, invalid
from paymesh.channels.sandbox.state import CHINA_TZ, now

Json = dict[str, Any]
Params = dict[str, str]

OUT_NO = re.compile(r"^[A-Za-z0-9_]{1,64}$")
TIMEOUT_EXPRESS = re.compile(r"^([1-9]\d*)([mhd])$")
DEFAULT_EXPIRY = dt.timedelta(hours=2)
MAX_AMOUNT = 100_000_000_00


def ok(**fields: Any) -> Json:
    return {"code": "10000", "msg": "Success", **fields}


def bad(message: str, prefix: str = "ACQ.") -> AlipayError:
    return business(prefix + "INVALID_PARAMETER", f"参数无效: {message}")


def str_param(
    biz: Json, key: str, max_len: int, required: bool = True, prefix: str = "ACQ."
) -> str:
    value = biz.get(key)
    if value is None or value == "":
        if required:
            raise bad(f"{key} is required", prefix)
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > max_len:
        raise bad(f"{key} must be a string of at most {max_len} characters", prefix)
    return value


def out_no(biz: Json, key: str, required: bool = True, prefix: str = "ACQ.") -> str:
    value = str_param(biz, key, 64, required, prefix)
    if value and not OUT_NO.match(value):
        raise bad(f"{key} must be letters, digits or _", prefix)
    return value


def amount(biz: Json, key: str, prefix: str = "ACQ.") -> int:
    text = str_param(biz, key, 16, True, prefix)
    fen = views.fen(text)
    if fen is None or not 0 < fen <= MAX_AMOUNT:
        raise bad(f"{key} must be yuan with at most 2 decimals, 0.01 to 100000000", prefix)
    return fen


def expiry(biz: Json) -> dt.datetime:
    created = now()
    if biz.get("time_expire"):
        try:
            local = dt.datetime.strptime(str_param(biz, "time_expire", 32), "%Y-%m-%d %H:%M:%S")
        except ValueError as e:
            raise bad("time_expire must be yyyy-MM-dd HH:mm:ss") from e
        return local.replace(tzinfo=CHINA_TZ)
    express = str_param(biz, "timeout_express", 8, required=False)
    if not express:
        return created + DEFAULT_EXPIRY
    if express == "1c":
        return (created + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    m = TIMEOUT_EXPRESS.match(express)
    if m is None:
        raise bad("timeout_express must be like 90m, 2h, 1d or 1c")
    unit = {"m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
    delta = dt.timedelta(**{unit: int(m.group(1))})
    if delta > dt.timedelta(days=15):
        raise bad("timeout_express is at most 15d")
    return created + delta


def fingerprint(data: Json) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


async def read_params(request: web.Request) -> Params:
    """The query string's params, then (POST) the form's, decoded as UTF-8."""
    params: Params = {k: v for k, v in request.query.items()}
    if request.method == "POST":
        form = await request.post()
        for k, v in form.items():
            if isinstance(v, str):
                params[k] = v
    return params


def biz_content(params: Params) -> Json:
    text = params.get("biz_content", "")
    if not text:
        return {}
    try:
        biz = json.loads(text)
    except ValueError as e:
        raise invalid("isv.invalid-biz-content", "biz_content 不是合法的JSON") from e
    if not isinstance(biz, dict):
        raise invalid("isv.invalid-biz-content", "biz_content 必须是JSON对象")
    return biz


def error_page(err: AlipayError) -> web.Response:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>支付宝 - 错误</title></head>"
        f"<body><h1>{escape(err.msg)}</h1><p>错误代码 {escape(err.sub_code)}</p>"
        f"<p>{escape(err.sub_msg)}</p></body></html>"
    )
    return web.Response(text=body, content_type="text/html", status=400)


__all__ = [
    "Json",
    "Params",
    "amount",
    "bad",
    "biz_content",
    "error_page",
    "expiry",
    "fingerprint",
    "ok",
    "out_no",
    "read_params",
    "str_param",
]
