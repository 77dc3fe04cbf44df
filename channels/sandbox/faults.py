"""Faults the sandbox can be told to inject (`POST /_sandbox/faults`).

Every fault is a JSON object `{"channel": "wechat", "fault": KIND, ...}`; the answer is
`{"fault": {..., "id": "F1"}}` (the armed fault as stored). `GET /_sandbox/faults` lists the
armed faults, `DELETE /_sandbox/faults[?channel=..]` clears them (and releases hung requests).

Common optional fields:
- `count`: how many times the fault fires before it disarms itself; `null` = until cleared.
  Defaults: 1, except `duplicate_callbacks`, `drop_callbacks` and `delay_callbacks`
  (until cleared).

Request faults (applied to provider API requests, never to `/_sandbox/`):
- `path`: only requests whose path (no query) starts with this; `method`: only this method.
- `delay`: `{"seconds": 1.0}`: answer late (the request is processed after the delay).
- `http_500`: `{"status": 500, "process": false}`: answer with the provider's own system
  error shape (WeChat: signed `{"code":"SYSTEM_ERROR","message":..}`); with
  `"process": true` the request takes effect first (the trade is created, the refund
  accepted, ...) and only the answer is lost.
- `raw_status`: `{"status": 408, "body": "", "process": false}`: answer with a bare HTTP
  status and body (default empty), unsigned and not in the provider's shape, as an
  intermediary (proxy, load balancer, WAF) would; `process` as for `http_500`.
- `timeout`: `{"seconds": 60, "process": true}`: hang longer than a client's timeout. With
  `process` true (default) the request takes effect and the answer is held back, so the
  client must query to learn the outcome; false: nothing happens, then a 504 is sent.

Callback faults (applied when the sandbox sends a provider callback):
- `duplicate_callbacks`: `{"times": 2}`: send each callback `times` times concurrently.
- `drop_callbacks`: `{}`: record the callback as dropped and do not send it.
- `delay_callbacks`: `{"seconds": 2.0}`: wait before the first attempt of each callback.
- `amount_mismatch`: `{"delta": 1}` or `{"amount": 123}`: the next callback carries a
  different amount (total / refund / transfer amount) than the stored one.
- `out_trade_no`: optional filter for these: only callbacks about that order (for a
  transfer: its out_bill_no).

Outcome faults (applied when a refund or transfer reaches its final state):
- `fail_refunds`: `{}`: the next refund fails (WeChat `ABNORMAL`, `REFUND.ABNORMAL` callback)
  instead of succeeding; `out_trade_no` filters by the refunded order. With
  `"succeed_after": seconds` it is WeChat's real ABNORMAL: the refund succeeds after that
  delay (the merchant handled it; `REFUND.SUCCESS` callback). Meanwhile the sandbox lets
  the amount be refunded again, so a merchant that took ABNORMAL for a failure and
  refunded a second time ends with more refunded than captured (`refunded` in
  `/_sandbox/trades`).
- `fail_transfers`: `{"reason": "..."}`: the next transfer ends `FAIL` with that fail_reason.
- `pay_during_close` (channel `wechat` only): `{"seconds": 0.2}`: the next close is answered
  204 (closed) while a payment already in flight still goes through `seconds` later: the
  trade becomes PAID and its `TRANSACTION.SUCCESS` callback is sent. WeChat warns that a
  close sent too soon after the order was created can race its state sync ("避免出现订单状态
  同步不及时导致关单失败", 关闭订单 API); whatever the cause, a payment for an order the merchant
  saw closed must not lose its money (DESIGN's late payments). `out_trade_no` filters.
- `confirm_transfers`: `{}`: the next WeChat transfer waits for the payee's confirmation
  (`WAIT_USER_CONFIRM` with a `package_info`; see `wechat_transfers.py`); `out_trade_no`
  filters by out_bill_no.

Bill discrepancies (applied whenever a daily bill is generated; until cleared by default):
see `paymesh.channels.sandbox.bills`: `bill_unknown_trade` `{"out_trade_no"?, "amount"?,
"date"?}`, `bill_amount_off` `{"out_trade_no", "delta"?}`, `bill_refund_missing`
`{"out_refund_no"}`, `bill_status_differs` `{"out_trade_no"}` (WeChat only);
`bill_fund_flow_off` `{"delta"?, "kind"?}` (WeChat only: its fund flow bill, see
`paymesh.channels.sandbox.fundflow`).

Key faults (until cleared by default):
- `rotate_cert` (channel `alipay` only): Alipay re-issues its public-key certificate, as it
  does when the certificate expires or its CA changes ("支付宝公钥证书可能因证书到期或者变更 CA
  签发机构等原因, 可能会重新签发证书"): from now on the answers of certificate-mode apps (and
  their notifies) are signed under a new certificate with a new SN (`alipay_cert_sn`), which
  `alipay.open.app.alipaycert.download` serves; see `paymesh.channels.sandbox.alipay`.
  `{"same_key": true}`: the new certificate certifies the same key (Alipay's usual renewal:
  "alipay_cert_sn 不同, 但证书中密钥内容不变"); default false: a new key.
  `{"foreign_root": true}`: the new certificate is issued by another root of the same name
  (a certificate paymesh must refuse: it does not chain to the configured root).
  `merchant_id`: only this app. `extra.downloads` counts the downloads of the new certificate.

Actions (performed at once, not armed):
- `probe_callback`: `{"out_trade_no": "..", "merchant_id": "..", "notify_url": ".."}`:
  send the order's notify_url (or `notify_url`) a well-formed success callback whose
  signature is invalid, as WeChat does to test receivers; answers `{"delivery": {...}}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

REQUEST_FAULTS = frozenset({"delay", "http_500", "raw_status", "timeout"})
CALLBACK_FAULTS = frozenset(
    {"duplicate_callbacks", "drop_callbacks", "delay_callbacks", "amount_mismatch"}
)
OUTCOME_FAULTS = frozenset(
    {"fail_refunds", "fail_transfers", "confirm_transfers", "pay_during_close"}
)
ACTION_FAULTS = frozenset({"probe_callback"})
KEY_FAULTS = frozenset({"rotate_cert"})
BILL_FAULTS = frozenset(
    {
        "bill_unknown_trade",
        "bill_amount_off",
        "bill_refund_missing",
        "bill_status_differs",
        "bill_fund_flow_off",
    }
)
ALL_FAULTS = (
    REQUEST_FAULTS | CALLBACK_FAULTS | OUTCOME_FAULTS | ACTION_FAULTS | BILL_FAULTS | KEY_FAULTS
)
_UNTIL_CLEARED_BY_DEFAULT = (
    frozenset({"duplicate_callbacks", "drop_callbacks", "delay_callbacks"})
    | BILL_FAULTS
    | KEY_FAULTS
)


_CHINA = timezone(timedelta(hours=8))


class FaultError(ValueError):
    """The fault JSON is invalid."""


@dataclass
class Fault:
    id: str
    channel: str
    fault: str
    count: int | None = 1
    path: str | None = None
    method: str | None = None
    out_trade_no: str | None = None
    seconds: float = 0.0
    status: int = 500
    process: bool = False
    times: int = 2
    delta: int = 1
    amount: int | None = None
    fired: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _num(body: dict[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise FaultError(f"{key} must be a number in [{lo}, {hi}]")
    return float(value)


def _int(body: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise FaultError(f"{key} must be an integer in [{lo}, {hi}]")
    return value


def _opt_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise FaultError(f"{key} must be a non-empty string")
    return value


def parse_fault(body: dict[str, Any], fault_id: str) -> Fault:
    """Validate a fault JSON object (see the module docstring)."""
    kind = body.get("fault")
    channel = body.get("channel")
    if kind not in ALL_FAULTS:
        raise FaultError(f"fault must be one of {sorted(ALL_FAULTS)}")
    if not isinstance(channel, str) or not channel:
        raise FaultError("channel is required")
    default_count = None if kind in _UNTIL_CLEARED_BY_DEFAULT else 1
    count: int | None = default_count
    if "count" in body:
        count = None if body["count"] is None else _int(body, "count", 1, 1, 1_000_000)
    method = _opt_str(body, "method")
    f = Fault(
        id=fault_id,
        channel=channel,
        fault=kind,
        count=count,
        path=_opt_str(body, "path"),
        method=method.upper() if method else None,
        out_trade_no=_opt_str(body, "out_trade_no"),
    )
    if kind == "delay":
        f.seconds = _num(body, "seconds", 1.0, 0.0, 3600.0)
        f.process = True
    elif kind == "timeout":
        f.seconds = _num(body, "seconds", 60.0, 0.0, 3600.0)
        f.process = bool(body.get("process", True))
    elif kind == "http_500":
        f.status = _int(body, "status", 500, 500, 599)
        f.process = bool(body.get("process", False))
    elif kind == "raw_status":
        f.status = _int(body, "status", 408, 400, 599)
        f.process = bool(body.get("process", False))
        raw = body.get("body", "")
        if not isinstance(raw, str):
            raise FaultError("body must be a string")
        f.extra = {"body": raw}
    elif kind == "delay_callbacks":
        f.seconds = _num(body, "seconds", 1.0, 0.0, 3600.0)
    elif kind == "fail_refunds":
        if "succeed_after" in body:
            f.extra = {"succeed_after": _num(body, "succeed_after", 1.0, 0.0, 3600.0)}
    elif kind == "fail_transfers":
        f.extra = {"reason": str(body.get("reason") or "PAYEE_ACCOUNT_ABNORMAL")}
    elif kind == "pay_during_close":
        if channel != "wechat":
            raise FaultError("pay_during_close: only WeChat's close is modelled")
        f.seconds = _num(body, "seconds", 0.2, 0.0, 60.0)
    elif kind == "duplicate_callbacks":
        f.times = _int(body, "times", 2, 2, 100)
    elif kind == "amount_mismatch":
        f.delta = _int(body, "delta", 1, -(10**12), 10**12)
        if "amount" in body:
            f.amount = _int(body, "amount", 1, 0, 10**15)
        elif f.delta == 0:
            raise FaultError("delta must not be 0")
    elif kind in BILL_FAULTS:
        _bill_fault(f, body)
    elif kind == "rotate_cert":
        if channel != "alipay":
            raise FaultError("rotate_cert: only Alipay's certificate mode is modelled")
        for flag in ("same_key", "foreign_root"):
            if not isinstance(body.get(flag, False), bool):
                raise FaultError(f"{flag} must be a boolean")
        f.extra = {
            "same_key": body.get("same_key", False),
            "foreign_root": body.get("foreign_root", False),
            "merchant_id": _opt_str(body, "merchant_id"),
            "downloads": 0,
        }
    elif kind == "probe_callback":
        f.extra = {k: body[k] for k in ("merchant_id", "notify_url", "out_trade_no") if k in body}
    return f


def _bill_fault(f: Fault, body: dict[str, Any]) -> None:
    if f.fault in ("bill_amount_off", "bill_status_differs") and not f.out_trade_no:
        raise FaultError(f"{f.fault} needs out_trade_no")
    if f.fault == "bill_status_differs" and f.channel != "wechat":
        raise FaultError("bill_status_differs: only WeChat's bill has a state column")
    if f.fault == "bill_fund_flow_off":
        if f.channel != "wechat":
            raise FaultError("bill_fund_flow_off: only WeChat serves a fund flow bill")
        f.delta = _int(body, "delta", 1, -(10**9), 10**9)
        if f.delta == 0:
            raise FaultError("delta must not be 0")
        f.extra = {"kind": _opt_str(body, "kind") or "扣除交易手续费"}
    elif f.fault == "bill_amount_off":
        f.delta = _int(body, "delta", 1, -(10**9), 10**9)
        if f.delta == 0:
            raise FaultError("delta must not be 0")
    elif f.fault == "bill_unknown_trade":
        f.amount = _int(body, "amount", 100, 1, 10**12)
        day = _opt_str(body, "date") or datetime.now(_CHINA).date().isoformat()
        try:
            date.fromisoformat(day)
        except ValueError:
            raise FaultError("date must be yyyy-MM-dd") from None
        f.extra = {"date": day}
    elif f.fault == "bill_refund_missing":
        no = _opt_str(body, "out_refund_no")
        if no is None:
            raise FaultError("bill_refund_missing needs out_refund_no")
        f.extra = {"out_refund_no": no}


class FaultBook:
    """Armed faults, consumed as they fire."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._release: asyncio.Event | None = None

    def arm(self, body: dict[str, Any]) -> Fault:
        fault = parse_fault(body, f"F{next(self._ids)}")
        if fault.fault not in ACTION_FAULTS:
            self._faults.append(fault)
        return fault

    def armed(self, channel: str | None = None) -> list[Fault]:
        return [f for f in self._faults if channel in (None, f.channel)]

    def clear(self, channel: str | None = None) -> int:
        before = len(self._faults)
        self._faults = [f for f in self._faults if channel not in (None, f.channel)]
        self.release_hangs()
        return before - len(self._faults)

    def _fire(self, fault: Fault) -> Fault:
        fault.fired += 1
        if fault.count is not None:
            fault.count -= 1
            if fault.count <= 0:
                self._faults.remove(fault)
        return fault

    def take_request(self, channel: str, method: str, path: str) -> list[Fault]:
        """The request faults that fire for this request (at most one of each kind)."""
        fired: list[Fault] = []
        seen: set[str] = set()
        for f in list(self._faults):
            if f.channel != channel or f.fault not in REQUEST_FAULTS or f.fault in seen:
                continue
            if f.path and not path.startswith(f.path):
                continue
            if f.method and f.method != method.upper():
                continue
            seen.add(f.fault)
            fired.append(self._fire(f))
        return fired

    def state(self, channel: str, kind: str, merchant_id: str) -> Fault | None:
        """The newest armed state-like fault (`rotate_cert`) for this merchant; not fired."""
        for f in reversed(self._faults):
            if (
                f.channel == channel
                and f.fault == kind
                and f.extra.get("merchant_id") in (None, merchant_id)
            ):
                return f
        return None

    def take(self, channel: str, kind: str, out_trade_no: str = "") -> Fault | None:
        for f in self._faults:
            if f.channel == channel and f.fault == kind:
                if f.out_trade_no and f.out_trade_no != out_trade_no:
                    continue
                return self._fire(f)
        return None

    async def hang(self, seconds: float) -> None:
        """Sleep `seconds`, or less if the faults are cleared or the sandbox shuts down."""
        if self._release is None:
            self._release = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._release.wait(), timeout=seconds)

    def release_hangs(self) -> None:
        if self._release is not None:
            self._release.set()
            self._release = None
