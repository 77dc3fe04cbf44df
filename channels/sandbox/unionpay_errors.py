"""UnionPay's error answers as the sandbox gives them (`respCode` + `respMsg`).

Shared by the provider (`unionpay.py`) and its API handlers (`unionpay_api.py`).
"""

from __future__ import annotations

from typing import Final

CHANNEL: Final = "unionpay"

RESP_FORMAT: Final = "10"
RESP_SIGNATURE: Final = "11"
RESP_DUPLICATE: Final = "12"
RESP_MISSING: Final = "13"
RESP_DECLINED: Final = "30"
RESP_MERCHANT: Final = "31"
RESP_NOT_FOUND: Final = "34"
RESP_ORIGINAL: Final = "35"


class UnionpayError(Exception):
    """An error answer: `respCode` + `respMsg`."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg


def missing(name: str) -> UnionpayError:
    return UnionpayError(RESP_MISSING, f"报文交易要素缺失[{name}]")


def bad(name: str, why: str) -> UnionpayError:
    return UnionpayError(RESP_FORMAT, f"报文格式错误[{name}: {why}]")
