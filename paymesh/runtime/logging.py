"""structlog JSON logs with fixed keys and a redaction processor."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import structlog

from paymesh.runtime.tracing import add_trace_ids

REDACTED = "[REDACTED]"

# Key names whose values are never logged.
_SECRET_KEY = re.compile(
    r"(secret|password|passwd|private|api_?v3_?key|apikey|api_key|token|credential|"
    r"authorization|pkcs12|master_key|^key$|_key$|cert_password|auth_code|id_card|phone|mobile)",
    re.IGNORECASE,
)
_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)
_PAN = re.compile(r"(?<![0-9A-Za-z])[0-9]{13,19}(?![0-9A-Za-z])")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def redact_text(text: str) -> str:
    """Mask private keys and card numbers inside free text."""
    text = _PEM.sub(REDACTED, text)
    return _PAN.sub(lambda m: REDACTED if _luhn_ok(m.group(0)) else m.group(0), text)


def redact(value: Any, key: str = "") -> Any:
    """Recursively redact a log value: secret-named keys, PEM keys, card numbers."""
    if key and _SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", "replace"))
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


# `name=` at the start: a form body (UnionPay's answers carry raw PEM, newlines and all).
_FORM_START = re.compile(r"[\w.\-\[\]]+=")
# Provider bodies kept in the audit tables are cut to this many characters.
MAX_BODY_CHARS = 256 * 1024


def _redact_keys(value: Any, keys: frozenset[str]) -> Any:
    if isinstance(value, Mapping):
        return {k: REDACTED if k in keys else _redact_keys(v, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_keys(v, keys) for v in value]
    return value


def redact_body(
    body: str | bytes,
    keys: frozenset[str] = frozenset(),
    *,
    content_type: str = "",
    limit: int = MAX_BODY_CHARS,
) -> str:
    """A storable form of a provider body, at most `limit` characters.

    JSON (object or array) and form bodies are redacted field by field: the fields named in
    `keys` (a provider's personal data, at any depth) and every secret-named key become
    `[REDACTED]`; a body is a form when `content_type` says so or it starts with `name=` and
    has no `<`. Anything else is free text with private keys and card numbers
    masked. The one redactor of the channel log and the callback audit.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            pass
        else:
            cleaned = redact(_redact_keys(parsed, keys))
            return json.dumps(cleaned, ensure_ascii=False, separators=(",", ":"))[:limit]
    if "x-www-form-urlencoded" in content_type or (
        _FORM_START.match(stripped) and "<" not in stripped
    ):
        pairs = parse_qsl(stripped, keep_blank_values=True)
        if pairs:
            out = [(k, REDACTED if k in keys else str(redact(v, k))) for k, v in pairs]
            return urlencode(out, safe=':/,{}"[]')[:limit]
    return redact_text(text)[:limit]


def redaction_processor(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for k in list(event_dict):
        event_dict[k] = redact(event_dict[k], k)
    return event_dict


def _add_logger_name(
    logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    record = event_dict.get("_record")
    if record is not None and "logger_name" not in event_dict:
        event_dict["logger_name"] = record.name
    return event_dict


def configure(level: str = "INFO", stream: Any = None) -> None:
    """One JSON object per line for structlog and stdlib loggers (alembic, aiohttp...) alike."""
    out = stream or sys.stderr
    lvl = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
    ]
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, _add_logger_name, add_trace_ids],
            processors=[
                _add_logger_name,
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redaction_processor,
                structlog.processors.JSONRenderer(ensure_ascii=False, default=str),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(lvl)
    logging.getLogger("alembic").setLevel(max(lvl, logging.WARNING))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *shared,
            add_trace_ids,
            structlog.processors.format_exc_info,
            redaction_processor,
            structlog.processors.JSONRenderer(ensure_ascii=False, default=str),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        # One write per line (print() writes the newline separately): processes sharing a
        # stream (`serve --workers`) then never interleave inside a line.
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(logger_name=name)
    return logger
