"""WeChat Pay's error answers as the sandbox gives them: HTTP status and `{"code", "message"}`.

Shared by the provider (`wechat.py`) and its API handlers (`wechat_api.py`).
"""

from __future__ import annotations

CHANNEL = "wechat"


class WeChatError(Exception):
    """An error answer in WeChat's shape: HTTP status and `{"code", "message"}`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
