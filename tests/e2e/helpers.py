"""Small helpers shared by the end-to-end suites."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from paymesh.merchant.v1 import pay_service_pb2, query_service_pb2
from tests.e2e.client import Merchant


def out_no(prefix: str = "t") -> str:
    return prefix + uuid.uuid4().hex[:20]


async def create_qr_order(merchant: Merchant, amount: int = 100, **extra: Any) -> dict[str, Any]:
    status, body = await merchant.post(
        "/v1/orders",
        {"out_trade_no": out_no(), "amount": amount, "subject": "test", "method": "qr", **extra},
        pay_service_pb2.CreateOrderRequest,
    )
    assert status == 200, body
    order: dict[str, Any] = body["order"]
    return order


async def query_order(merchant: Merchant, order_id: str, sync: bool = False) -> dict[str, Any]:
    params = {"sync": "true"} if sync else {}
    status, body = await merchant.get(
        f"/v1/orders/{order_id}",
        params,
        query_service_pb2.QueryOrderRequest,
        path_params={"order_id": order_id},
    )
    assert status == 200, body
    order: dict[str, Any] = body["order"]
    return order


async def sandbox(
    http: aiohttp.ClientSession, url: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    method = http.post if body is not None else http.get
    async with method(f"{url}{path}", json=body) as r:
        assert r.status < 300, await r.text()
        answer: dict[str, Any] = await r.json()
        return answer


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)
