"""Which wallet's browser opened the cashier, from its User-Agent. Pure.

- WeChat's in-app browser adds `MicroMessenger/<version>` (WeChat's JS-SDK documentation
  and every JSAPI integration test for it, e.g. `/MicroMessenger/i`);
- Alipay's adds `AlipayClient/<version>` (Alipay's H5 / JSAPI docs: `/AlipayClient/`);
- UnionPay's QuickPass app (云闪付) adds `UnionPay/<version>` (with `CloudPay`), and its
  SDK web views `com.unionpay` in their package names.
Anything else (a phone's browser, a desktop) gets the chooser page.
"""

from __future__ import annotations

import re
from typing import Final

PATTERNS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("wechat", re.compile(r"\bMicroMessenger/", re.IGNORECASE)),
    ("alipay", re.compile(r"\bAlipayClient", re.IGNORECASE)),
    ("unionpay", re.compile(r"\bUnionPay/|\bCloudPay\b|com\.unionpay", re.IGNORECASE)),
)

# User-Agents of the wallets' browsers on Android, as they look in the wild; the sandbox
# and the tests open the cashier with them.
USER_AGENTS: Final[dict[str, str]] = {
    "wechat": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Version/4.0 Chrome/130.0.6723.103 Mobile Safari/537.36 XWEB/1300259 MMWEBSDK/20241103 "
        "MMWEBID/1234 MicroMessenger/8.0.54.2760(0x28003636) WeChat/arm64 Weixin NetType/WIFI "
        "Language/zh_CN ABI/arm64"
    ),
    "alipay": (
        "Mozilla/5.0 (Linux; U; Android 14; zh-CN; Pixel 8 Build/AP2A) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/118.0.5993.80 UWS/3.22.2.9999 Mobile Safari/537.36 "
        "AlipayChannelId/5136 NebulaSDK/1.8.100112 Nebula AlipayDefined(nt:WIFI,ws:412|915|2.6) "
        "AliApp(AP/10.6.50.8000) AlipayClient/10.6.50.8000 Language/zh-Hans Region/CN"
    ),
    "unionpay": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/130.0.6723.103 Mobile Safari/537.36 "
        "(com.unionpay.chsp) (cordova 7.0.0) (updebug 0) (version 1021) (UnionPay/1.0 CloudPay) "
        "(clientVersion 321) (language zh_CN) (languageFamily zh_CN)"
    ),
}


def detect(user_agent: str) -> str | None:
    """The wallet (`wechat`, `alipay`, `unionpay`) whose browser sent this User-Agent."""
    for wallet, pattern in PATTERNS:
        if pattern.search(user_agent or ""):
            return wallet
    return None


__all__ = ["USER_AGENTS", "detect"]
