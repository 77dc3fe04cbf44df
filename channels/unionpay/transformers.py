"""UnionPay ACP 5.1.0 wire shapes and their conversions to and from paymesh's types.

- Requests are form POSTs (`application/x-www-form-urlencoded`); synchronous answers are
  `k=v&k=v` **not** URL-encoded, where a value holding `&` or `=` is wrapped in `{...}`
  (acpsdk `SDKUtil.convertResultStringToMap`). backUrl notifies are URL-encoded forms.
- Money: `txnAmt` is an integer number of fen (`currencyCode=156`): no conversion.
- Times: `txnTime` `yyyyMMddHHmmss` and `payTimeout` in China time (UTC+8).
- Codes (ACP 5.1.0 应答码; acpsdk demos `Form_6_5_Query`, `BackRcvResponse`): `respCode`
  00 = accepted / succeeded, 03 04 05 = outcome unknown (query later), 34 = no such
  transaction (query: not there yet), anything else = refused. A query's `respCode` only
  says the query worked; the transaction's own result is `origRespCode` (00 and A6 =
  succeeded, 03 04 05 = in process, others = failed).

`txnTime` of a transaction must be sent again to query or reverse it. paymesh ids are
time-ordered snowflakes (paymesh.ids), so the txnTime of an order, refund or
cancel is the time inside its id (China time): stateless and the same on every call.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

from google.protobuf import timestamp_pb2

from paymesh.channel.v1 import channel_pb2
from paymesh.channels.base import (
    RESULT_FAILED,
    RESULT_PENDING,
    RESULT_SUCCEEDED,
    TRADE_PAID,
    TRADE_PENDING,
    map_state,
    to_timestamp,
)
from paymesh.ids import parse_id

CHINA_TZ: Final = timezone(timedelta(hours=8))
VERSION: Final = "5.1.0"
ENCODING: Final = "UTF-8"
CURRENCY_CNY: Final = "156"
MAX_FEN: Final = 10**12 - 1  # txnAmt is at most 12 digits

# txnType / txnSubType / bizType (ACP 5.1.0 交易类型)
TXN_CONSUME: Final = ("01", "01")
TXN_QUERY: Final = ("00", "00")
TXN_REFUND: Final = ("04", "00")
TXN_CANCEL: Final = ("31", "00")
TXN_FILE: Final = ("76", "01")
BIZ_GATEWAY: Final = "000201"  # B2C gateway payment (网关支付)
BIZ_QUERY: Final = "000000"
BIZ_FILE: Final = "000000"
CHANNEL_PC: Final = "07"
CHANNEL_MOBILE: Final = "08"

RESP_OK: Final = "00"
RESP_PARTIAL_OK: Final = "A6"  # 有缺陷的成功: succeeded
RESP_UNKNOWN: Final = frozenset({"03", "04", "05"})
RESP_NOT_FOUND: Final = "34"

# origRespCode of a queried consume. A failed attempt does not end a front consume: the
# payer may try again (another card) until payTimeout, so it stays PENDING and the order
# expires on our side.
TRADE_ORIG_MAP: Final[Mapping[str, channel_pb2.TradeState]] = {
    RESP_OK: TRADE_PAID,
    RESP_PARTIAL_OK: TRADE_PAID,
}
# origRespCode of a queried refund / cancel; 03/04/05 and anything unmapped -> PENDING.
RESULT_ORIG_MAP: Final[Mapping[str, channel_pb2.ResultState]] = {
    RESP_OK: RESULT_SUCCEEDED,
    RESP_PARTIAL_OK: RESULT_SUCCEEDED,
}

# Personal data and bulky fields kept out of the channel log.
REDACT_KEYS: Final = frozenset(
    {
        "accNo",
        "customerInfo",
        "payCardNo",
        "signature",
        "signPubKeyCert",
        "encryptCertId",
        "fileContent",
    }
)


def is_failure(code: str) -> bool:
    """A definitive refusal: a code that is neither success, unknown nor not-found."""
    return bool(code) and code not in (RESP_OK, RESP_PARTIAL_OK, RESP_NOT_FOUND, *RESP_UNKNOWN)


def trade_state(orig_resp_code: str) -> channel_pb2.TradeState:
    return map_state(TRADE_ORIG_MAP, orig_resp_code, TRADE_PENDING)


def result_state(orig_resp_code: str) -> channel_pb2.ResultState:
    if is_failure(orig_resp_code):
        return RESULT_FAILED
    return map_state(RESULT_ORIG_MAP, orig_resp_code, RESULT_PENDING)


# --- k=v bodies ------------------------------------------------------------------------------


def parse_kv(text: str) -> dict[str, str]:
    """Parse a synchronous answer `k=v&k={a=b&c=d}&...` (values not URL-encoded).

    Raises ValueError for a body that is not such a string or repeats a key."""
    out: dict[str, str] = {}
    key: str | None = None
    buf: list[str] = []
    depth = 0

    def flush() -> None:
        nonlocal key
        if key is None:
            if "".join(buf):
                raise ValueError("field without '='")
            return
        if not key or key in out:
            raise ValueError(f"bad or repeated field {key!r}")
        out[key] = "".join(buf)
        key = None

    for ch in text:
        if key is None:
            if ch == "=":
                key, buf = "".join(buf), []
            elif ch == "&":
                flush()
                buf = []
            else:
                buf.append(ch)
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(depth - 1, 0)
        if ch == "&" and depth == 0:
            flush()
            buf = []
            continue
        buf.append(ch)
    flush()
    if not out:
        raise ValueError("empty answer")
    return out


def encode_kv(fields: Mapping[str, str]) -> str:
    """`k=v&...` as UnionPay answers (no URL-encoding; a value with `&` must be in `{}`)."""
    return "&".join(f"{k}={v}" for k, v in fields.items())


# --- money and times ------------------------------------------------------------------------


def fen(amount: int) -> str:
    """txnAmt: integer fen, 1..MAX_FEN. Raises ValueError outside."""
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_FEN:
        raise ValueError(f"amount must be between 1 and {MAX_FEN} fen")
    return str(amount)


def optional_fen(fields: Mapping[str, str], key: str) -> int:
    value = fields.get(key, "")
    return int(value) if value.isdigit() and len(value) <= 12 else 0


def format_time(value: datetime) -> str:
    """`yyyyMMddHHmmss` in China time."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.astimezone(CHINA_TZ).strftime("%Y%m%d%H%M%S")


def parse_time(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=CHINA_TZ)
    except ValueError:
        return None


def timestamp(value: str) -> timestamp_pb2.Timestamp | None:
    return to_timestamp(parse_time(value))


def txn_time_of(object_id: str) -> str:
    """The txnTime of an order/refund/cancel: the time inside its paymesh id.

    Raises ValueError for an id that is not a paymesh id."""
    if len(object_id) < 8 or not object_id[1:].isdigit() or not object_id[0].isalpha():
        raise ValueError("not a paymesh id")
    parts = parse_id(object_id)
    return format_time(datetime.fromtimestamp(parts.unix_ms / 1000, UTC))


# --- results --------------------------------------------------------------------------------


def trade_result(fields: Mapping[str, str], orig_code: str) -> channel_pb2.TradeResult:
    """A consume: a query answer (orig_code = origRespCode) or a notify (respCode).
    UnionPay reports no payment time (txnTime is when the order was sent): paid_at is
    left to the caller."""
    result = channel_pb2.TradeResult(
        state=trade_state(orig_code),
        order_id=fields.get("orderId", ""),
        channel_trade_no=fields.get("queryId", ""),
        amount=optional_fen(fields, "txnAmt"),
        currency="CNY",
        provider_state=orig_code or "?",
    )
    return result


def refund_result(
    fields: Mapping[str, str], orig_code: str, *, order_id: str = ""
) -> channel_pb2.RefundResult:
    """A refund or cancel: query answer or notify. refund_id = its orderId."""
    result = channel_pb2.RefundResult(
        state=result_state(orig_code),
        refund_id=fields.get("orderId", ""),
        order_id=order_id,
        channel_refund_no=fields.get("queryId", ""),
        amount=optional_fen(fields, "txnAmt"),
        provider_state=orig_code or "?",
    )
    return result


__all__ = [
    "BIZ_FILE",
    "BIZ_GATEWAY",
    "BIZ_QUERY",
    "CHANNEL_MOBILE",
    "CHANNEL_PC",
    "CHINA_TZ",
    "CURRENCY_CNY",
    "ENCODING",
    "MAX_FEN",
    "REDACT_KEYS",
    "RESP_NOT_FOUND",
    "RESP_OK",
    "RESP_PARTIAL_OK",
    "RESP_UNKNOWN",
    "TXN_CANCEL",
    "TXN_CONSUME",
    "TXN_FILE",
    "TXN_QUERY",
    "TXN_REFUND",
    "VERSION",
    "encode_kv",
    "fen",
    "format_time",
    "is_failure",
    "optional_fen",
    "parse_kv",
    "parse_time",
    "refund_result",
    "result_state",
    "timestamp",
    "trade_result",
    "trade_state",
    "txn_time_of",
]
