"""'Test connection' for a channel account: one harmless signed call, the verified answer.

The call is a query of an order that does not exist: it moves no money, and a provider that
authenticates our signature answers "no such order" in its own signed words (WeChat Pay
`ORDER_NOT_EXIST`, Alipay `TRADE_NOT_EXIST`, UnionPay respCode `34`). The probe id has the
format of a paymesh order id (UnionPay derives txnTime from it) with the highest datacentre
and worker numbers and a random sequence, so it names no real order. The channel verifies the
answer's signature exactly as for real traffic; a forged or unsigned answer is reported as
no verified answer.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from paymesh import ids
from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.registry import load_channel_class
from paymesh.channels.transport import Transport
from paymesh.config.models import ChannelAccountBase
from paymesh.errors import ChannelError, ChannelUnavailable, PaymeshError


@dataclass(frozen=True, slots=True)
class ConnectionResult:
    ok: bool
    summary: str
    provider_code: str = ""
    provider_message: str = ""


NOT_FOUND_CODES = ("34",)  # UnionPay: no such transaction


def probe_order_id(now_ms: int | None = None) -> str:
    """A paymesh-format order id no generator issues in practice (see module doc)."""
    ms = (time.time_ns() // 1_000_000 if now_ms is None else now_ms) - ids.EPOCH_MS
    number = (
        (ms << (ids.DATACENTER_BITS + ids.WORKER_BITS + ids.SEQUENCE_BITS))
        | (ids.MAX_DATACENTER << (ids.WORKER_BITS + ids.SEQUENCE_BITS))
        | (ids.MAX_WORKER << ids.SEQUENCE_BITS)
        | secrets.randbelow(ids.MAX_SEQUENCE + 1)
    )
    return f"{ids.ORDER_PREFIX}{number:0{ids.DIGITS}d}"


def _not_found(code: str) -> bool:
    return "NOT_EXIST" in code or "NOT_FOUND" in code or code in NOT_FOUND_CODES


class ConnectionTester:
    def __init__(self) -> None:
        self._transport = Transport(timeout_seconds=10.0)
        self._channels: dict[str, Any] = {}

    def _channel(self, name: str) -> Any:
        if name not in self._channels:
            cls = load_channel_class(name)
            if cls is None:
                return None
            self._channels[name] = cls(self._transport)
        return self._channels[name]

    async def test(self, channel: str, account: ChannelAccountBase) -> ConnectionResult:
        impl = self._channel(channel)
        if impl is None:
            return ConnectionResult(False, f"no {channel} channel implementation is installed")
        order_id = probe_order_id()
        request = svc.QueryRequest(
            account=channel_pb2.AccountRef(channel=channel, account_id=account.account_id),
            order_id=order_id,
        )
        try:
            resp = await impl.query(account, request)
        except ChannelError as e:
            code = e.metadata.get("provider_code", "")
            message = e.metadata.get("provider_message", "")
            not_found = _not_found(code)
            summary = (
                f"Connected: the provider answered {code} to a signed query of order "
                f"{order_id}, which does not exist; the answer's signature verified."
                if not_found
                else f"The provider refused the signed query: {code or e.message}"
            )
            return ConnectionResult(not_found, summary, code, message)
        except ChannelUnavailable as e:
            return ConnectionResult(False, f"No verified answer: {e.message}")
        except PaymeshError as e:
            return ConnectionResult(False, f"Could not query: {e.message}")
        state = resp.trade.provider_state or "an answer"
        if not _not_found(state):
            return ConnectionResult(
                False, f"The provider answered {state} for order {order_id}: unexpected", state
            )
        return ConnectionResult(
            True,
            f"Connected: the provider answered {state} to a signed query of order {order_id}, "
            "which does not exist; the answer's signature verified.",
            state,
        )

    async def aclose(self) -> None:
        self._channels.clear()
        await self._transport.close()  # shared by every channel built here


__all__ = ["ConnectionResult", "ConnectionTester"]
