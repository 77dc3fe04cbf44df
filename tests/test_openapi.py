"""The OpenAPI document: generated from the protos, committed current, limits from the code."""

from __future__ import annotations

import json
from typing import Any

from paymesh.gateway import openapi
from paymesh.gateway.envoy.config import EDGE_SERVICES
from paymesh.gateway.validation import MAX_LENGTH, MAX_METADATA_KEYS


def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(openapi.document_path().read_text())
    return doc


def test_the_committed_document_is_current() -> None:
    assert openapi.document_path().read_text() == openapi.render(), (
        "gateway/envoy/openapi.json is stale: run `make proto`"
    )


def test_it_is_openapi_3_1_with_every_http_rule() -> None:
    doc = _doc()
    assert doc["openapi"] == "3.1.0"
    ops = {o["operationId"] for path in doc["paths"].values() for o in path.values()}
    assert {
        "CreateOrder",
        "CloseOrder",
        "QueryOrder",
        "QueryOrderLookup",
        "CreateRefund",
        "QueryRefund",
        "QueryRefundLookup",
        "CreateTransfer",
        "QueryTransfer",
        "QueryTransferLookup",
        "HandleCallback",
        "GetVersion",
        "GetOpenApi",
    } <= ops
    assert len(EDGE_SERVICES) == len(
        {o["tags"][0] for p in doc["paths"].values() for o in p.values()}
    )
    for path in doc["paths"].values():
        for op in path.values():
            error = op["responses"]["default"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/google.rpc.Status"}


def test_limits_signing_and_errors_are_documented() -> None:
    doc = _doc()
    body = doc["paths"]["/v1/orders"]["post"]["requestBody"]["content"]["application/json"]
    schema = doc["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]
    props = schema["properties"]
    for name, prop in props.items():
        if prop.get("type") == "string":
            assert prop["maxLength"] == MAX_LENGTH[name], name
    assert props["metadata"]["maxProperties"] == MAX_METADATA_KEYS
    assert props["nonce"]["pattern"] == "^[A-Za-z0-9]{8,32}$"
    assert "nonce" in schema["required"]
    assert props["subject"]["description"] == "Shown to the payer; 1-128 characters."
    text = doc["info"]["description"]
    for needle in ("HMAC-SHA256", "nonce", "google.rpc.Status", "ErrorInfo", "1 MiB", "413"):
        assert needle in text
    lookup = doc["paths"]["/v1/orders:lookup"]["get"]["parameters"]
    assert {p["name"] for p in lookup if p.get("required")} == {
        "app_id",
        "timestamp",
        "sign_type",
        "sign",
    }
