"""`make dev`'s cashier demo: a cashier order and the demo app's counter code, each with the
links that "scan" it at the sandbox as WeChat, Alipay or UnionPay QuickPass.

The order is created through the edge like any merchant's (a signed CreateOrder), so the
demo is the real path: edge -> pay gateway -> the cashier's signed link.
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp

from paymesh.core.cashier import static_url
from paymesh.core.signing import canonical_from_mapping, sign
from paymesh.dev.seed import DemoApp
from paymesh.merchant.v1 import pay_service_pb2
from paymesh.runtime.clock import utcnow

WALLETS = ("wechat", "alipay", "unionpay")
DEMO_EXPIRE_SECONDS = 7 * 24 * 3600


def scan_links(sandbox_url: str, url: str) -> dict[str, str]:
    """The sandbox's wallet page for `url` (its QR code), and `url` opened as each wallet."""
    base = f"{sandbox_url}/_sandbox/wallet"
    return {
        "qr_page": f"{base}?{urlencode({'url': url})}",
        **{w: f"{base}/open?{urlencode({'url': url, 'as': w})}" for w in WALLETS},
    }


async def create_demo_order(edge_url: str, app: DemoApp, notify_url: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "app_id": app.app_id,
        "out_trade_no": f"demo-cashier-{secrets.token_hex(6)}",
        "amount": 1234,
        "subject": "收银台演示 Cashier demo",
        "method": "cashier",
        "notify_url": notify_url,
        "expire_seconds": DEMO_EXPIRE_SECONDS,
        "nonce": secrets.token_hex(8),
        "timestamp": int(time.time()),
        "sign_type": app.sign_type,
    }
    canonical = canonical_from_mapping(body, pay_service_pb2.CreateOrderRequest)
    body["sign"] = sign(canonical, app.sign_type, app.secret)
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{edge_url}/v1/orders", json=body) as r,
    ):
        answer: dict[str, Any] = await r.json()
        if r.status != 200:
            raise RuntimeError(f"demo cashier order refused: {r.status} {answer}")
    order: dict[str, Any] = answer["order"]
    return order


async def cashier_demo(
    edge_url: str, sandbox_url: str, app: DemoApp, notify_url: str
) -> dict[str, Any]:
    """What dev.json holds under `cashier_demo`."""
    order = await create_demo_order(edge_url, app, notify_url)
    code_url = order["pay_data"]["code_url"]
    counter = static_url(edge_url, app.app_id, utcnow() + timedelta(days=3650))
    return {
        "order_id": order["order_id"],
        "code_url": code_url,
        "scan_order": scan_links(sandbox_url, code_url),
        "static_url": counter,
        "scan_static": scan_links(sandbox_url, counter),
    }


__all__ = ["cashier_demo", "create_demo_order", "scan_links"]
