"""Alipay's error answers as the sandbox gives them (the `error_response` / `sub_code` shape).

Shared by the provider (`alipay.py`) and its OpenAPI handlers (`alipay_api.py`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

CHANNEL = "alipay"
PARAMS_KEY = web.RequestKey("alipay_params", dict)


class AlipayError(Exception):
    """An Alipay error answer; `gateway` errors go under `error_response`."""

    def __init__(
        self, code: str, msg: str, sub_code: str, sub_msg: str, *, gateway: bool = False
    ) -> None:
        super().__init__(f"{code} {sub_code}: {sub_msg}")
        self.code = code
        self.msg = msg
        self.sub_code = sub_code
        self.sub_msg = sub_msg
        self.gateway = gateway

    def payload(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "msg": self.msg,
            "sub_code": self.sub_code,
            "sub_msg": self.sub_msg,
        }


def missing(name: str, sub_msg: str) -> AlipayError:
    return AlipayError("40001", "Missing Required Arguments", name, sub_msg, gateway=True)


def invalid(name: str, sub_msg: str) -> AlipayError:
    return AlipayError("40002", "Invalid Arguments", name, sub_msg, gateway=True)


def business(sub_code: str, sub_msg: str) -> AlipayError:
    return AlipayError("40004", "Business Failed", sub_code, sub_msg)


SYSTEM_ERROR = AlipayError("20000", "Service Currently Unavailable", "isp.unknow-error", "系统繁忙")
