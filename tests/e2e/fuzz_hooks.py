"""Schemathesis hooks for the fuzz runs (tests/e2e/test_fuzz.py): sign each generated merchant
request with the fuzz app's key so that it reaches the handlers, dress generated provider
callbacks as the providers' (their headers, real accounts, bodies naming real orders, bad
signatures), count requests, and check that every error is google.rpc.Status JSON with an
ErrorInfo and that a callback's 200 is only a failure ack.

Loaded by the `st` CLI through SCHEMATHESIS_HOOKS; configured through environment variables.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import schemathesis
from google.protobuf.message import Message
from schemathesis import Case as _Case

from paymesh.core.signing import canonical_from_mapping, canonical_from_params, sign
from paymesh.merchant.v1 import (
    pay_service_pb2,
    query_service_pb2,
    refund_service_pb2,
    transfer_service_pb2,
)

APP_ID = os.environ.get("PAYMESH_FUZZ_APP_ID", "")
SECRET = os.environ.get("PAYMESH_FUZZ_SECRET", "")
COUNT_FILE = os.environ.get("PAYMESH_FUZZ_COUNT_FILE", "")
# {"wechat": [account_id, order_id], ...}: the mesh's channel accounts and an order on each
CALLBACK_TARGETS: dict[str, list[str]] = json.loads(os.environ.get("PAYMESH_FUZZ_CALLBACKS", "{}"))
SIGN_TYPE = "HMAC-SHA256"
Case = _Case[Any]

MESSAGES: dict[str, type[Message]] = {
    "CreateOrder": pay_service_pb2.CreateOrderRequest,
    "CloseOrder": pay_service_pb2.CloseOrderRequest,
    "CreateRefund": refund_service_pb2.CreateRefundRequest,
    "CreateTransfer": transfer_service_pb2.CreateTransferRequest,
    "CancelTransfer": transfer_service_pb2.CancelTransferRequest,
    "QueryOrder": query_service_pb2.QueryOrderRequest,
    "QueryOrderLookup": query_service_pb2.QueryOrderRequest,
    "QueryRefund": query_service_pb2.QueryRefundRequest,
    "QueryRefundLookup": query_service_pb2.QueryRefundRequest,
    "QueryTransfer": query_service_pb2.QueryTransferRequest,
    "QueryTransferLookup": query_service_pb2.QueryTransferRequest,
}


def _operation_id(case: Case) -> str:
    value: str = case.operation.definition.raw.get("operationId", "")
    return value


def _signed(fields: dict[str, Any], path: dict[str, Any], message: type[Message]) -> str | None:
    """The signature of what the gateway will see, or None when it cannot transcode."""
    try:
        return sign(canonical_from_mapping({**fields, **path}, message), SIGN_TYPE, SECRET)
    except Exception:
        return None


def _b64(rng: random.Random, n: int) -> str:
    return base64.b64encode(rng.randbytes(n)).decode()


def _junk(rng: random.Random) -> str:
    return rng.choice(
        ["", "0", "-1", "9" * 5000, "abc", "\u00e9\u00e9", "null", "{}", "%00", "a" * 600]
    )


def _wechat(rng: random.Random, order_id: str) -> tuple[dict[str, str], str]:
    """WeChat Pay v3 notify headers and a body of its shape, signed with nobody's key."""
    now = str(int(time.time()))
    headers = {
        "wechatpay-timestamp": rng.choice([now, now, str(int(now) - 3600), _junk(rng)]),
        "wechatpay-nonce": rng.choice([secrets.token_hex(16), _junk(rng)]),
        "wechatpay-signature": rng.choice([_b64(rng, 256), _junk(rng)]),
        "wechatpay-serial": rng.choice(
            ["PUB_KEY_ID_" + "0" * 30 + "1", secrets.token_hex(20).upper(), _junk(rng)]
        ),
        "wechatpay-signature-type": rng.choice(["WECHATPAY2-SHA256-RSA2048", _junk(rng)]),
    }
    resource = {
        "algorithm": rng.choice(["AEAD_AES_256_GCM", _junk(rng)]),
        "ciphertext": rng.choice([_b64(rng, 64), _junk(rng)]),
        "nonce": rng.choice([secrets.token_hex(6), _junk(rng)]),
        "associated_data": rng.choice(["transaction", _junk(rng)]),
        "original_type": "transaction",
    }
    body = {
        "id": secrets.token_hex(8),
        "create_time": "2026-12-03T10:00:00+08:00",
        "resource_type": "encrypt-resource",
        "event_type": rng.choice(["TRANSACTION.SUCCESS", "REFUND.SUCCESS", _junk(rng)]),
        "summary": order_id,
        "resource": rng.choice([resource, resource, _junk(rng)]),
    }
    return headers, json.dumps(body)


def _alipay(rng: random.Random, order_id: str) -> str:
    """An Alipay async notify form naming a real order, with a signature of random bytes."""
    form = {
        "notify_type": rng.choice(["trade_status_sync", _junk(rng)]),
        "notify_id": secrets.token_hex(16),
        "app_id": rng.choice(["2021000000000001", _junk(rng)]),
        "out_trade_no": order_id,
        "trade_no": "2026" + secrets.token_hex(8),
        "trade_status": rng.choice(["TRADE_SUCCESS", "TRADE_FINISHED", "TRADE_CLOSED", _junk(rng)]),
        "total_amount": rng.choice(["0.01", "100000000000.00", "-1", _junk(rng)]),
        "sign_type": rng.choice(["RSA2", "RSA", _junk(rng)]),
        "sign": rng.choice([_b64(rng, 256), _junk(rng)]),
    }
    return urlencode(form)


def _unionpay(rng: random.Random, order_id: str) -> str:
    """A UnionPay backUrl notify form naming a real order, signed with nobody's certificate."""
    form = {
        "version": "5.1.0",
        "encoding": "UTF-8",
        "signMethod": rng.choice(["01", _junk(rng)]),
        "txnType": rng.choice(["01", "04", _junk(rng)]),
        "merId": rng.choice(["777290058110048", _junk(rng)]),
        "orderId": order_id,
        "txnTime": "20261203100000",
        "txnAmt": rng.choice(["1", "99999999999", _junk(rng)]),
        "respCode": rng.choice(["00", "01", _junk(rng)]),
        "queryId": secrets.token_hex(10),
        "signPubKeyCert": rng.choice(
            [
                "-----BEGIN CERTIFICATE-----\n" + _b64(rng, 300) + "\n-----END CERTIFICATE-----",
                _junk(rng),
            ]
        ),
        "signature": rng.choice([_b64(rng, 256), _junk(rng)]),
    }
    return urlencode(form)


def _map_callback(case: Case) -> Case:
    """Half of the generated callbacks keep what schemathesis made (any channel, account,
    content type and body); the other half go to a real account with the provider's headers
    and a provider-shaped body about a real order, but no valid signature."""
    path = dict(case.path_parameters or {})
    seed = hashlib.sha256(repr((path, case.body, case.media_type)).encode()).digest()
    rng = random.Random(seed)
    channel = str(path.get("channel", ""))
    target = CALLBACK_TARGETS.get(channel)
    if target is None or rng.random() < 0.5:
        return case
    account_id, order_id = target
    if rng.random() < 0.9:
        path["account_id"] = account_id
    case.path_parameters = path
    if channel == "wechat":
        extra, body = _wechat(rng, order_id)
        case.headers.update(extra)
        media_type = "application/json"
    else:
        body = (_alipay if channel == "alipay" else _unionpay)(rng, order_id)
        media_type = "application/x-www-form-urlencoded"
    if rng.random() < 0.8:  # else keep schemathesis' own body with the provider's headers
        case.body = body
        case.media_type = media_type
    return case


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: Case) -> Case:
    if _operation_id(case) == "HandleCallback":
        return _map_callback(case)
    message = MESSAGES.get(_operation_id(case))
    if message is None:
        return case
    auth = {"app_id": APP_ID, "timestamp": int(time.time()), "sign_type": SIGN_TYPE}
    path = dict(case.path_parameters or {})
    if case.method.upper() == "POST":
        if not isinstance(case.body, dict):
            return case
        body: dict[str, Any] = {**case.body, **auth}
        if not isinstance(body.get("nonce"), str):
            body["nonce"] = secrets.token_hex(8)
        signature = _signed(body, path, message)
        if signature is not None:
            body["sign"] = signature
        case.body = body
        return case
    query = {**(case.query or {}), **auth}
    try:
        canonical = canonical_from_params(
            {k: str(v) for k, v in path.items()}, {k: v for k, v in query.items()}, message
        )
    except Exception:
        case.query = query
        return case
    query["sign"] = sign(canonical, SIGN_TYPE, SECRET)
    case.query = query
    return case


@schemathesis.hook
def after_call(
    context: schemathesis.HookContext, case: Case, response: schemathesis.Response
) -> None:
    if COUNT_FILE:
        with open(COUNT_FILE, "a") as fh:
            fh.write(f"{_operation_id(case)} {response.status_code}\n")


@schemathesis.check
def errors_are_status_json_with_error_info(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Case
) -> bool | None:
    """the merchant API contract: every error the edge answers is google.rpc.Status JSON with an ErrorInfo."""
    if response.status_code < 400:
        return None
    values = response.headers.get("content-type") or [""]
    ctype = str(values[0])
    assert ctype.startswith("application/json"), f"error with content-type {ctype!r}"
    body = json.loads(response.content)
    assert isinstance(body, dict), body
    assert isinstance(body.get("code"), int), body
    assert body["code"] != 0, body
    assert isinstance(body.get("message"), str), body
    infos = [
        d
        for d in body.get("details", [])
        if isinstance(d, dict) and d.get("@type") == "type.googleapis.com/google.rpc.ErrorInfo"
    ]
    assert infos, f"no ErrorInfo in {body}"
    assert infos[0].get("reason"), infos[0]
    assert infos[0].get("domain") == "paymesh", infos[0]
    return None


@schemathesis.check
def callback_200_is_only_a_failure_ack(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Case
) -> bool | None:
    """No generated callback is authentic: a 200 may only be a provider's failure ack
    (Alipay's `fail`); anything else must be an error."""
    if _operation_id(case) != "HandleCallback" or response.status_code >= 300:
        return None
    assert response.content.strip() == b"fail", (response.status_code, response.content[:200])
    return None
