from __future__ import annotations

import io
import json

from paymesh.runtime import logging as plog

KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"


def test_json_lines_with_fixed_keys_and_redaction() -> None:
    out = io.StringIO()
    plog.configure("INFO", stream=out)
    plog.get_logger("t").info(
        "charged",
        order_id="P2026112200000000001",
        api_v3_key="0123456789abcdef0123456789abcdef",
        account={"mchid": "1900000001", "private_key_pem": KEY, "nested": {"secret": "s3"}},
        note=f"key follows {KEY} and card 4111111111111111 ends",
        amount=100,
    )
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert line["event"] == "charged"
    assert line["level"] == "info"
    assert line["logger_name"] == "t"
    assert "ts" in line
    assert line["order_id"] == "P2026112200000000001"
    assert line["amount"] == 100
    assert line["api_v3_key"] == plog.REDACTED
    assert line["account"]["mchid"] == "1900000001"
    assert line["account"]["private_key_pem"] == plog.REDACTED
    assert line["account"]["nested"]["secret"] == plog.REDACTED
    assert "BEGIN PRIVATE KEY" not in line["note"]
    assert "4111111111111111" not in line["note"]


def test_digit_runs_that_fail_luhn_are_kept() -> None:
    # Provider trade numbers are long digit runs; only card-like (Luhn-valid) ones are masked.
    assert plog.redact_text("4200001234202611220000") == "4200001234202611220000"
    assert plog.redact_text("pan 4111111111111111") == f"pan {plog.REDACTED}"


def test_stdlib_loggers_are_json_and_redacted_too() -> None:
    import logging

    out = io.StringIO()
    plog.configure("INFO", stream=out)
    logging.getLogger("some.library").warning(
        "connecting with %s", "password=hunter2 card 4111111111111111"
    )
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert line["level"] == "warning"
    assert line["logger_name"] == "some.library"
    assert "4111111111111111" not in line["event"]
    assert "ts" in line
