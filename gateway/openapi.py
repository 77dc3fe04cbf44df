"""The OpenAPI 3.1 document of the merchant HTTP/JSON API, generated from the protos.

One small generator over the descriptor set Envoy already loads (it carries the comments):
every RPC with a `google.api.http` rule on an edge service becomes an operation, its request
message the body (POST, `body: "*"`) or the query parameters (GET), its response message
the 200 schema, and `google.rpc.Status` with an `ErrorInfo` every error. String limits come
from `paymesh.gateway.validation` (the same table the gateways enforce), so the document,
the proto comments and the code cannot drift apart silently (tests/test_openapi.py).

    python -m paymesh.gateway.openapi > gateway/envoy/openapi.json   (make proto does it)
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

from paymesh import API_VERSION
from paymesh.gateway.envoy.config import EDGE_SERVICES, LOCAL_REPLIES, MAX_REQUEST_BYTES
from paymesh.gateway.envoy.config import descriptor_path as _descriptor_path
from paymesh.gateway.validation import (
    MAX_LENGTH,
    MAX_METADATA_KEY,
    MAX_METADATA_KEYS,
    MAX_METADATA_VALUE,
    NONCE,
)

FDP = descriptor_pb2.FieldDescriptorProto
REQUIRED: dict[str, list[str]] = {
    "CreateOrderRequest": [
        "app_id",
        "out_trade_no",
        "amount",
        "subject",
        "method",
        "timestamp",
        "nonce",
        "sign_type",
        "sign",
    ],
    "CloseOrderRequest": ["app_id", "timestamp", "nonce", "sign_type", "sign"],
    "CancelTransferRequest": ["app_id", "timestamp", "nonce", "sign_type", "sign"],
    "CreateRefundRequest": [
        "app_id",
        "out_refund_no",
        "amount",
        "timestamp",
        "nonce",
        "sign_type",
        "sign",
    ],
    "CreateTransferRequest": [
        "app_id",
        "out_transfer_no",
        "amount",
        "payee_id",
        "timestamp",
        "nonce",
        "sign_type",
        "sign",
    ],
}
SIGNED_QUERY_REQUIRED = ["app_id", "timestamp", "sign_type", "sign"]
MERCHANT_NO_FIELDS = {"out_trade_no", "out_refund_no", "out_transfer_no"}
ENUMS = {
    "sign_type": ["HMAC-SHA256", "MD5", "RSA2"],
    "method": ["qr", "h5", "page", "app", "jsapi", "barcode"],
    "channel": ["wechat", "alipay", "unionpay"],
    "currency": ["CNY"],
}
INT64 = (FDP.TYPE_INT64, FDP.TYPE_UINT64, FDP.TYPE_SINT64, FDP.TYPE_FIXED64, FDP.TYPE_SFIXED64)
INT32 = (FDP.TYPE_INT32, FDP.TYPE_UINT32, FDP.TYPE_SINT32, FDP.TYPE_FIXED32, FDP.TYPE_SFIXED32)

DESCRIPTION = f"""\
paymesh's merchant API: HTTP/JSON through Envoy's gRPC-JSON transcoder.

**Bodies** use the proto field names (snake_case). Amounts are integers in minor units
(fen); int64 values may be sent as JSON numbers or strings and come back as strings.

**Signing.** Every request carries `app_id`, `timestamp` (unix seconds, within 300 s of
the server clock), `sign_type` (the app's: `HMAC-SHA256`, `MD5` or `RSA2`) and `sign`.
Canonical string: every top-level field except `sign` whose value is not empty, 0, false
or an empty map, sorted by name, joined as `name=value` with `&` (maps and lists as compact
JSON with sorted keys, non-ASCII kept). For GET the fields are the path and query
parameters. `HMAC-SHA256`: uppercase hex HMAC-SHA256 with the app secret; `MD5`: uppercase
hex MD5 of `canonical + "&key=" + secret`; `RSA2`: base64 SHA256withRSA with the
merchant's private key. Mutating requests (POST) also carry `nonce`, 8-32 of `[A-Za-z0-9]`,
random per request and signed, so a signature made for one operation never authorises
another.

**Errors** are `google.rpc.Status` JSON, `{{"code", "message", "details"}}`, whose details
hold a `google.rpc.ErrorInfo` (`domain` `paymesh`, a `reason` such as SIGNATURE_INVALID,
TIMESTAMP_EXPIRED, APP_NOT_FOUND, APP_DISABLED, INVALID_ARGUMENT (with `metadata.field`),
DUPLICATE_OUT_TRADE_NO, ORDER_NOT_FOUND, CHANNEL_ERROR, CHANNEL_UNAVAILABLE,
DATABASE_UNAVAILABLE). The HTTP status follows the gRPC code. Envoy's own answers have the
same shape: {", ".join(f"{s} {r}" for s, (_, r) in LOCAL_REPLIES.items())}.

**Limits.** Every string field has a maximum length (`maxLength` below, counted in
characters); `metadata` holds at most {MAX_METADATA_KEYS} keys of 1-{MAX_METADATA_KEY}
characters with values of at most {MAX_METADATA_VALUE}; a request body over
{MAX_REQUEST_BYTES} bytes (1 MiB) is refused with 413. Over a limit is 400
INVALID_ARGUMENT naming the field, and nothing is stored.
"""


@dataclass
class _Proto:
    messages: dict[str, descriptor_pb2.DescriptorProto]
    enums: dict[str, descriptor_pb2.EnumDescriptorProto]
    comments: dict[tuple[str, str], str]  # (message or service full name, member) -> comment
    services: dict[str, descriptor_pb2.ServiceDescriptorProto]


def _load(descriptor: Path) -> _Proto:
    fds = descriptor_pb2.FileDescriptorSet.FromString(descriptor.read_bytes())
    proto = _Proto({}, {}, {}, {})
    for f in fds.file:
        prefix = f".{f.package}" if f.package else ""
        locations = {tuple(loc.path): loc.leading_comments for loc in f.source_code_info.location}

        def comment(
            path: tuple[int, ...], locations: dict[tuple[int, ...], str] = locations
        ) -> str:
            text = locations.get(path, "").strip()
            return "\n".join(
                line.strip() for line in text.splitlines() if "buf:lint" not in line
            ).strip()

        def walk(msgs: Any, scope: str, path: tuple[int, ...]) -> None:
            for i, m in enumerate(msgs):
                name = f"{scope}.{m.name}"
                proto.messages[name] = m
                proto.comments[(name, "")] = comment((*path, i))
                for j, field in enumerate(m.field):
                    proto.comments[(name, field.name)] = comment((*path, i, 2, j))
                for e in m.enum_type:
                    proto.enums[f"{name}.{e.name}"] = e
                walk(m.nested_type, name, (*path, i, 3))

        walk(f.message_type, prefix, (4,))
        for e in f.enum_type:
            proto.enums[f"{prefix}.{e.name}"] = e
        for i, s in enumerate(f.service):
            name = f"{f.package}.{s.name}"
            proto.services[name] = s
            for j, m in enumerate(s.method):
                proto.comments[(name, m.name)] = comment((6, i, 2, j))
    return proto


def _ref(type_name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{type_name.lstrip('.')}"}


class _Builder:
    def __init__(self, proto: _Proto) -> None:
        self.proto = proto
        self.schemas: dict[str, Any] = {}

    def field_schema(self, msg_name: str, field: Any, *, request: bool) -> dict[str, Any]:
        entry = self.proto.messages.get(field.type_name)
        if entry is not None and entry.options.map_entry:
            value = self.field_schema(field.type_name, entry.field[1], request=False)
            schema: dict[str, Any] = {"type": "object", "additionalProperties": value}
            if field.name == "metadata":
                value["maxLength"] = MAX_METADATA_VALUE
                schema["maxProperties"] = MAX_METADATA_KEYS
                schema["propertyNames"] = {"minLength": 1, "maxLength": MAX_METADATA_KEY}
            return schema
        if field.label == FDP.LABEL_REPEATED:
            return {"type": "array", "items": self._scalar(field, request=request)}
        return self._scalar(field, request=request)

    def _scalar(self, field: Any, *, request: bool) -> dict[str, Any]:
        t = field.type
        if t == FDP.TYPE_STRING:
            s: dict[str, Any] = {"type": "string"}
            if request and field.name in MAX_LENGTH:
                s["maxLength"] = MAX_LENGTH[field.name]
                if field.name in ENUMS:
                    s["enum"] = ENUMS[field.name]
                if field.name in MERCHANT_NO_FIELDS:
                    s["pattern"] = "^[A-Za-z0-9_-]{1,64}$"
                if field.name == "nonce":
                    s["pattern"] = NONCE.pattern
            return s
        if t in INT64:
            # Sent as a number or a decimal string; Envoy answers with strings.
            return {
                "type": ["integer", "string"],
                "format": "int64",
                "pattern": "^-?[0-9]+$",
            }
        if t in INT32:
            return {"type": "integer", "format": "int32"}
        if t == FDP.TYPE_BOOL:
            return {"type": "boolean"}
        if t in (FDP.TYPE_DOUBLE, FDP.TYPE_FLOAT):
            return {"type": "number"}
        if t == FDP.TYPE_BYTES:
            return {"type": "string", "contentEncoding": "base64"}
        if t == FDP.TYPE_ENUM:
            enum = self.proto.enums[field.type_name]
            return {"type": "string", "enum": [v.name for v in enum.value]}
        if field.type_name == ".google.protobuf.Timestamp":
            return {"type": "string", "format": "date-time"}
        self.message(field.type_name, request=request)
        return _ref(field.type_name)

    def message(
        self, type_name: str, *, request: bool, exclude: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        """The schema of a message (registered in components unless fields are excluded)."""
        key = type_name.lstrip(".")
        if not exclude and key in self.schemas:
            return _ref(type_name)
        msg = self.proto.messages[type_name]
        props: dict[str, Any] = {}
        for field in msg.field:
            if field.name in exclude:
                continue
            schema = self.field_schema(type_name, field, request=request)
            doc = self.proto.comments.get((type_name, field.name), "")
            if doc:
                schema = {**schema, "description": doc} if "$ref" not in schema else {
                    "allOf": [schema], "description": doc}  # fmt: skip
            props[field.name] = schema
        out: dict[str, Any] = {"type": "object", "properties": props}
        doc = self.proto.comments.get((type_name, ""), "")
        if doc:
            out["description"] = doc
        required = [f for f in REQUIRED.get(msg.name, []) if f in props]
        if required:
            out["required"] = required
        if exclude:
            return out
        self.schemas[key] = out
        return _ref(type_name)


def _status_schemas() -> dict[str, Any]:
    return {
        "google.rpc.ErrorInfo": {
            "type": "object",
            "required": ["@type", "reason", "domain"],
            "properties": {
                "@type": {"const": "type.googleapis.com/google.rpc.ErrorInfo"},
                "reason": {"type": "string"},
                "domain": {"type": "string"},
                "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "google.rpc.Status": {
            "type": "object",
            "description": "Every error: a gRPC code, a message and an ErrorInfo in details.",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "integer", "minimum": 1, "maximum": 16},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "minItems": 1,
                    "contains": {"$ref": "#/components/schemas/google.rpc.ErrorInfo"},
                    "items": {"type": "object", "required": ["@type"]},
                },
            },
        },
    }


def _path_params(template: str) -> list[str]:
    return [part.split("}")[0].strip("{") for part in template.split("{")[1:]]


def _operation(b: _Builder, service: str, method: Any, verb: str, template: str) -> dict[str, Any]:
    proto = b.proto
    path_params = _path_params(template)
    request = proto.messages[method.input_type]
    op: dict[str, Any] = {
        "operationId": method.name,
        "summary": proto.comments.get((service, method.name), ""),
        "tags": [service.rsplit(".", 1)[1]],
        "parameters": [],
        "responses": {},
    }
    fields = {f.name: f for f in request.field}
    for name in path_params:
        schema = b.field_schema(method.input_type, fields[name], request=True)
        op["parameters"].append({"name": name, "in": "path", "required": True, "schema": schema})
    if method.input_type == ".google.api.HttpBody" or method.name == "HandleCallback":
        op["requestBody"] = {
            "description": "The provider's raw notification (providers only).",
            "content": {"*/*": {"schema": {"type": "string"}}},
        }
    elif verb == "post":
        body = b.message(method.input_type, request=True, exclude=frozenset(path_params))
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    else:
        signed = set(SIGNED_QUERY_REQUIRED) if "sign" in fields else set()
        for field in request.field:
            if field.name in path_params:
                continue
            schema = b.field_schema(method.input_type, field, request=True)
            doc = proto.comments.get((method.input_type, field.name), "")
            param: dict[str, Any] = {"name": field.name, "in": "query", "schema": schema}
            if doc:
                param["description"] = doc
            if field.name in signed:
                param["required"] = True
            op["parameters"].append(param)
    if not op["parameters"]:
        del op["parameters"]
    if method.output_type == ".google.api.HttpBody":
        ok: dict[str, Any] = {"description": "OK", "content": {"*/*": {"schema": {}}}}
        if template == "/v1/openapi.json":
            ok = {"description": "This document", "content": {"application/json": {"schema": {
                "type": "object"}}}}  # fmt: skip
    else:
        ok = {
            "description": "OK",
            "content": {
                "application/json": {"schema": b.message(method.output_type, request=False)}
            },
        }
    op["responses"]["200"] = ok
    op["responses"]["default"] = {
        "description": "An error: google.rpc.Status with an ErrorInfo.",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/google.rpc.Status"}}
        },
    }
    return op


def _bindings(rule: http_pb2.HttpRule) -> list[tuple[str, str]]:
    out = []
    for r in [rule, *rule.additional_bindings]:
        verb = r.WhichOneof("pattern")
        if verb and verb != "custom":
            out.append((verb, str(getattr(r, verb))))
    return out


def generate(descriptor: Path | None = None) -> dict[str, Any]:
    proto = _load(descriptor or _descriptor_path())
    b = _Builder(proto)
    paths: dict[str, dict[str, Any]] = {}
    for service in EDGE_SERVICES.values():
        sdesc = proto.services[service]
        for method in sdesc.method:
            rule = method.options.Extensions[annotations_pb2.http]
            for verb, template in _bindings(rule):
                op = _operation(b, service, method, verb, template)
                if template != getattr(rule, verb):
                    op["operationId"] = f"{method.name}Lookup"
                paths.setdefault(template, {})[verb] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "paymesh merchant API",
            "version": API_VERSION,
            "description": DESCRIPTION,
        },
        "servers": [{"url": "/", "description": "the Envoy edge"}],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted({**b.schemas, **_status_schemas()}.items()))},
    }


def render() -> str:
    return json.dumps(generate(), indent=1, ensure_ascii=False, sort_keys=False) + "\n"


def document_path() -> Path:
    return Path(str(resources.files("paymesh.gateway.envoy") / "openapi.json"))


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
