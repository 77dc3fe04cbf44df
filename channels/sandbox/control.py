"""Sandbox control API: JSON under `/_sandbox/`.

- `POST /_sandbox/merchants` `{"channel", "merchant_id", "app_id", "public_key_pem"}` (WeChat
  also takes optional `serial_no`, the merchant certificate serial to enforce, and
  `platform_key_mode`: `certificate` | `public_key`). Registers (or re-registers, keeping
  generated secrets) a merchant and answers
  `{"channel", "merchant_id", "app_id", "base_url", ...provider fields}`; WeChat's fields:
  `platform_serial_no`, `platform_certificate_pem`, `platform_public_key_pem`,
  `platform_public_key_id`, `platform_key_mode`, `api_v3_key`, `merchant_serial_no`,
  `trust_roots_pem`. Alipay's (`merchant_id` is the Alipay app_id; optional
  `key_mode`: `public_key` | `certificate`): `alipay_public_key_pem`, `key_mode`, `seller_id`,
  `gateway_path`, and in certificate mode `app_cert_pem`, `app_cert_sn`,
  `alipay_public_cert_pem`, `alipay_cert_sn`, `alipay_root_cert_pem`, `alipay_root_cert_sn`.
  UnionPay's (`merchant_id` is the 15-character merId; the sandbox issues the key, so
  `public_key_pem` is not needed): `mer_id`, `sign_cert_p12` (base64 PKCS#12),
  `sign_cert_password`, `cert_id` (the certificate's decimal serial), `root_cert_pem`,
  `middle_cert_pem` and both as one `trust_roots_pem` bundle; the names are those of
  `UnionpayAccount`.
- `POST /_sandbox/pay` `{"channel", "out_trade_no", "merchant_id"?, "outcome"?}` (outcome
  `paid` (default) | `fail` | `cancel`) acts as the payer; answers `{"trade": TRADE}`.
- `POST /_sandbox/faults` `{"channel", "fault", ...}` arms a fault (see `faults`);
  `GET /_sandbox/faults` lists them; `DELETE /_sandbox/faults[?channel=]` clears them.
- `GET /_sandbox/trades[?channel=&merchant_id=]` answers
  `{"trades": [TRADE], "refunds": [REFUND], "transfers": [TRANSFER]}` where TRADE is
  `{"channel", "merchant_id", "out_trade_no", "channel_trade_no", "amount", "currency",
  "subject", "method", "status" (PENDING PAID CLOSED FAILED), "state" (the provider's own,
  e.g. NOTPAY), "notify_url", "created_at", "paid_at", "expire_at", "refunded_amount",
  "pay_url"}`, REFUND `{"channel", "merchant_id", "out_refund_no", "out_trade_no",
  "channel_refund_no", "amount", "total", "status" (PENDING SUCCEEDED FAILED), "state",
  "notify_url", "created_at", "success_at"}` and TRANSFER `{"channel", "merchant_id",
  "out_transfer_no", "channel_transfer_no", "amount", "payee", "status", "state",
  "notify_url", "created_at", "updated_at"}`.
- `GET /_sandbox/callbacks[?channel=&subject=]` answers `{"callbacks": [DELIVERY]}`:
  `{"id", "channel", "merchant_id", "event_type", "event_id", "url", "subject" (the
  out_trade_no / out_refund_no / out_bill_no), "request_body", "probe", "dropped",
  "delivered", "attempts": [{"at", "status", "body", "error"}]}`, oldest first.

Errors: `{"error": CODE, "message": ..}` with HTTP 400, 404 or 409.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from paymesh.channels.sandbox.faults import FaultError
from paymesh.channels.sandbox.provider import Provider, RegistrationError
from paymesh.channels.sandbox.state import (
    Refund,
    SandboxState,
    Trade,
    Transfer,
    rfc3339,
)

STATE_KEY = web.AppKey("sandbox_state", SandboxState)


class ControlError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def base_url(request: web.Request) -> str:
    """The sandbox's own URL as the client reached it. The Host header keeps the port even for
    absolute-form request targets (`POST http://host:port/gateway.do`, as the official Alipay
    SDK sends), where aiohttp's `request.host` drops it."""
    state = request.app[STATE_KEY]
    host = request.headers.get("Host") or request.host
    return state.public_url or f"{request.scheme}://{host}"


def provider_of(state: SandboxState, channel: Any) -> Provider:
    provider = state.providers.get(channel) if isinstance(channel, str) else None
    if provider is None:
        raise ControlError(
            400, "UNKNOWN_CHANNEL", f"channel must be one of {sorted(state.providers)}"
        )
    return provider


def find_trade(
    state: SandboxState, channel: str, out_trade_no: Any, merchant_id: Any = None
) -> Trade:
    if not isinstance(out_trade_no, str) or not out_trade_no:
        raise ControlError(400, "INVALID_ARGUMENT", "out_trade_no is required")
    trades = state.find_trades(channel, out_trade_no, str(merchant_id) if merchant_id else None)
    if not trades:
        raise ControlError(404, "TRADE_NOT_FOUND", f"no {channel} trade {out_trade_no}")
    if len(trades) > 1:
        raise ControlError(
            409, "AMBIGUOUS", "several merchants have this out_trade_no: give merchant_id"
        )
    return trades[0]


def trade_json(state: SandboxState, t: Trade, base: str) -> dict[str, Any]:
    provider = state.providers[t.channel]
    return {
        "channel": t.channel,
        "merchant_id": t.merchant_id,
        "out_trade_no": t.out_trade_no,
        "channel_trade_no": t.channel_trade_no,
        "amount": t.amount,
        "currency": t.currency,
        "subject": t.subject,
        "method": t.method,
        "status": t.status,
        "state": provider.trade_state(t),
        "notify_url": t.notify_url,
        "created_at": rfc3339(t.created_at),
        "paid_at": rfc3339(t.paid_at),
        "expire_at": rfc3339(t.expire_at),
        "refunded_amount": t.refunded,
        "pay_url": provider.pay_url(t, base),
    }


def refund_json(state: SandboxState, r: Refund) -> dict[str, Any]:
    return {
        "channel": r.channel,
        "merchant_id": r.merchant_id,
        "out_refund_no": r.out_refund_no,
        "out_trade_no": r.out_trade_no,
        "channel_refund_no": r.channel_refund_no,
        "amount": r.amount,
        "total": r.total,
        "status": r.status,
        "state": state.providers[r.channel].refund_state(r),
        "notify_url": r.notify_url,
        "created_at": rfc3339(r.created_at),
        "success_at": rfc3339(r.success_at),
    }


def transfer_json(state: SandboxState, t: Transfer) -> dict[str, Any]:
    return {
        "channel": t.channel,
        "merchant_id": t.merchant_id,
        "out_transfer_no": t.out_transfer_no,
        "channel_transfer_no": t.channel_transfer_no,
        "amount": t.amount,
        "payee": t.payee,
        "status": t.status,
        "state": state.providers[t.channel].transfer_state(t),
        "notify_url": t.notify_url,
        "created_at": rfc3339(t.created_at),
        "updated_at": rfc3339(t.updated_at),
    }


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.read() or b"{}")
    except ValueError as e:
        raise ControlError(400, "INVALID_JSON", "body must be a JSON object") from e
    if not isinstance(data, dict):
        raise ControlError(400, "INVALID_JSON", "body must be a JSON object")
    return data


async def register_merchant(request: web.Request) -> dict[str, Any]:
    state = request.app[STATE_KEY]
    body = await _body(request)
    provider = provider_of(state, body.get("channel"))
    merchant_id = body.get("merchant_id")
    if not isinstance(merchant_id, str | int) or not 0 < len(str(merchant_id)) <= 32:
        raise ControlError(400, "INVALID_ARGUMENT", "merchant_id is required (at most 32 chars)")
    body["merchant_id"] = str(merchant_id)
    existing = state.merchant(provider.channel, body["merchant_id"])
    try:
        merchant = provider.register(body, existing)
    except RegistrationError as e:
        raise ControlError(400, "INVALID_ARGUMENT", str(e)) from e
    state.merchants[(provider.channel, merchant.merchant_id)] = merchant
    return {
        "channel": provider.channel,
        "merchant_id": merchant.merchant_id,
        "app_id": merchant.app_id,
        "base_url": base_url(request),
        **provider.registration_answer(merchant),
    }


async def pay(request: web.Request) -> dict[str, Any]:
    state = request.app[STATE_KEY]
    body = await _body(request)
    provider = provider_of(state, body.get("channel"))
    trade = find_trade(state, provider.channel, body.get("out_trade_no"), body.get("merchant_id"))
    try:
        state.settle(trade, str(body.get("outcome") or "paid"))
    except ValueError as e:
        raise ControlError(409, "NOT_PAYABLE", str(e)) from e
    return {"trade": trade_json(state, trade, base_url(request))}


async def arm_fault(request: web.Request) -> dict[str, Any]:
    state = request.app[STATE_KEY]
    body = await _body(request)
    provider = provider_of(state, body.get("channel"))
    try:
        fault = state.faults.arm(body)
    except FaultError as e:
        raise ControlError(400, "INVALID_FAULT", str(e)) from e
    answer: dict[str, Any] = {"fault": fault.to_json()}
    if fault.fault == "probe_callback":
        trade = None
        if body.get("out_trade_no"):
            trade = find_trade(
                state, provider.channel, body["out_trade_no"], body.get("merchant_id")
            )
        merchant_id = trade.merchant_id if trade else body.get("merchant_id")
        merchant = state.merchant(provider.channel, str(merchant_id)) if merchant_id else None
        if merchant is None:
            raise ControlError(400, "INVALID_ARGUMENT", "probe needs out_trade_no or merchant_id")
        url = body.get("notify_url") or (trade.notify_url if trade else "")
        if not isinstance(url, str) or not url:
            raise ControlError(400, "INVALID_ARGUMENT", "probe needs a notify_url")
        deliveries = await provider.probe_callback(trade, merchant, url)
        answer["deliveries"] = [d.to_json() for d in deliveries]
    return answer


async def list_faults(request: web.Request) -> dict[str, Any]:
    state = request.app[STATE_KEY]
    return {"faults": [f.to_json() for f in state.faults.armed(request.query.get("channel"))]}


async def clear_faults(request: web.Request) -> dict[str, Any]:
    state = request.app[STATE_KEY]
    return {"cleared": state.faults.clear(request.query.get("channel"))}


async def list_trades(request: web.Request) -> dict[str, Any]:
    state = request.app[STATE_KEY]
    channel = request.query.get("channel")
    merchant_id = request.query.get("merchant_id")

    def wanted(c: str, m: str) -> bool:
        return channel in (None, c) and merchant_id in (None, m)

    base = base_url(request)
    return {
        "trades": [trade_json(state, t, base) for t in state.trades.values()
                   if wanted(t.channel, t.merchant_id)],
        "refunds": [refund_json(state, r) for r in state.refunds.values()
                    if wanted(r.channel, r.merchant_id)],
        "transfers": [transfer_json(state, t) for t in state.transfers.values()
                      if wanted(t.channel, t.merchant_id)],
    }  # fmt: skip


async def list_callbacks(request: web.Request) -> dict[str, Any]:
    state = request.app[STATE_KEY]
    channel = request.query.get("channel")
    subject = request.query.get("subject")
    return {
        "callbacks": [
            d.to_json()
            for d in state.deliveries
            if channel in (None, d.channel) and subject in (None, d.subject)
        ]
    }


JsonEndpoint = Callable[[web.Request], Awaitable[dict[str, Any]]]


def _json_handler(fn: JsonEndpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        try:
            return web.json_response(await fn(request), dumps=_dumps)
        except ControlError as e:
            return web.json_response(
                {"error": e.code, "message": e.message}, status=e.status, dumps=_dumps
            )

    return handler


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def routes() -> list[web.RouteDef]:
    return [
        web.post("/_sandbox/merchants", _json_handler(register_merchant)),
        web.post("/_sandbox/pay", _json_handler(pay)),
        web.post("/_sandbox/faults", _json_handler(arm_fault)),
        web.get("/_sandbox/faults", _json_handler(list_faults)),
        web.delete("/_sandbox/faults", _json_handler(clear_faults)),
        web.get("/_sandbox/trades", _json_handler(list_trades)),
        web.get("/_sandbox/callbacks", _json_handler(list_callbacks)),
    ]
