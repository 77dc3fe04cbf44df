"""Forms generated from the models' JSON Schema: every registered channel, the app, and the
way form data comes back (secrets kept when left empty, lists, maps, PEM lists)."""

from __future__ import annotations

from multidict import MultiDict

from paymesh.config.apps import AppConfig
from paymesh.config.registry import channels, document_schemas, schemas
from paymesh.console.forms import field_specs, parse_form, render_fields, split_lines
from paymesh.console.runtime import load_channel_models

CERT = "-----BEGIN CERTIFICATE-----\nMIIB\nAAAA\n-----END CERTIFICATE-----\n"


def test_every_registered_channel_gets_a_form_with_password_fields_for_secrets() -> None:
    load_channel_models()
    assert {"wechat", "alipay", "unionpay"} <= set(channels())
    for channel, schema in schemas().items():
        specs = field_specs(schema)
        by_name = {s.name: s for s in specs}
        assert list(by_name) == list(schema["properties"]), channel
        for name, prop in schema["properties"].items():
            if prop.get("writeOnly"):
                assert by_name[name].kind == "password", (channel, name)
        html = render_fields(specs, {}, {}, secrets_set=[])
        for name in schema.get("required", []):
            assert f'data-field="{name}"' in html
        assert 'type="password"' in html, channel
        assert "leave empty to keep" not in html  # nothing stored yet


def test_app_form_widgets() -> None:
    specs = {s.name: s for s in field_specs(document_schemas()["app"])}
    assert specs["sign_type"].kind == "select"
    assert specs["sign_type"].options == ("HMAC-SHA256", "MD5", "RSA2")
    assert specs["secret"].kind == "password"
    assert specs["public_key_pem"].kind == "textarea"
    assert specs["routes"].kind == "map"
    assert [p.name for p in specs["routes"].props] == ["channel", "account_id"]
    assert specs["notify_retry_delays"].kind == "list"
    assert specs["enabled"].kind == "checkbox"


def test_parse_form_round_trip_through_the_model() -> None:
    specs = field_specs(document_schemas()["app"])
    form = MultiDict(
        [
            ("app_id", "shop"),
            ("name", " Shop "),
            ("enabled.present", "1"),
            ("sign_type", "HMAC-SHA256"),
            ("secret", ""),  # left empty: kept
            ("public_key_pem", ""),
            ("routes[0][key]", "qr"),
            ("routes[0][channel]", "wechat"),
            ("routes[0][account_id]", "w1"),
            ("routes[1][key]", ""),
            ("routes[1][channel]", ""),
            ("routes[1][account_id]", ""),
            ("notify_url", ""),
            ("allow_private_notify_urls.present", "1"),
            ("allow_private_notify_urls", "on"),
            ("notify_retry_delays", "5, 10\n60"),
        ]
    )
    data, errors = parse_form(specs, form)
    assert errors == {}
    assert "secret" not in data
    assert data["enabled"] is False
    assert data["allow_private_notify_urls"] is True
    assert data["routes"] == {"qr": {"channel": "wechat", "account_id": "w1"}}
    assert data["notify_url"] is None
    assert data["public_key_pem"] is None
    assert data["notify_retry_delays"] == ["5", "10", "60"]
    app = AppConfig.model_validate({**data, "secret": "s3cret-value-0123456789abcdefghij"})
    assert app.notify_retry_delays == [5, 10, 60]


def test_json_fields_report_parse_errors_by_field() -> None:
    load_channel_models()
    specs = [s for s in field_specs(schemas()["wechat"]) if s.kind == "json"]
    assert specs
    _data, errors = parse_form(specs, MultiDict([(specs[0].name, "[{")]))
    assert specs[0].name in errors
    assert "JSON" in errors[specs[0].name]


def test_split_lines_keeps_pem_blocks_whole() -> None:
    assert split_lines(f"{CERT}\n{CERT}") == [CERT, CERT]
    assert split_lines(" a \n\nb\r\n") == ["a", "b"]
