"""Schemathesis hooks for the fuzz run (tests/e2e/test_fuzz.py): sign each generated request
with the fuzz app's key so that it reaches the handlers, count requests, and check that
every error is google.rpc.Status JSON with an ErrorInfo.

Loaded by the `st` CLI through SCHEMATHESIS_HOOKS; configured through environment variables.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from typing import Any

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


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: Case) -> Case:
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
