"""Cashier links: only paymesh's key makes one, any change or expiry breaks it."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from paymesh.core import cashier_links as links

KEY = links.derive_key(base64.b64encode(b"k" * 32).decode())
NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def test_a_signed_order_link_verifies_to_what_it_carries() -> None:
    link = links.order_link("demo-app", "P123", NOW + timedelta(minutes=15))
    token = links.sign(link, KEY)
    assert links.verify(token, KEY, NOW) == link
    assert links.url("http://edge:8080/", link, KEY) == f"http://edge:8080/cashier/o/{token}"


def test_every_one_character_change_is_refused() -> None:
    token = links.sign(links.order_link("demo-app", "P123", NOW + timedelta(hours=1)), KEY)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    for i, ch in enumerate(token):
        other = next(c for c in alphabet if c != ch)
        with pytest.raises(links.LinkInvalid):
            links.verify(token[:i] + other + token[i + 1 :], KEY, NOW)


def test_a_link_for_another_order_cannot_be_forged_from_one_seen() -> None:
    token = links.sign(links.order_link("demo-app", "P123", NOW + timedelta(hours=1)), KEY)
    _body, tag = token.split(".")
    forged = links.Link(links.LinkKind.ORDER, "demo-app", "P124", int(NOW.timestamp()) + 3600)
    forged_body = base64.urlsafe_b64encode(forged.payload().encode()).rstrip(b"=").decode()
    with pytest.raises(links.LinkInvalid):
        links.verify(f"{forged_body}.{tag}", KEY, NOW)


def test_another_key_and_garbage_are_refused() -> None:
    token = links.sign(links.order_link("a", "P1", NOW + timedelta(hours=1)), KEY)
    other = links.derive_key(base64.b64encode(b"x" * 32).decode())
    for bad, key in [(token, other), ("", KEY), ("abc", KEY), ("a.b.c", KEY), ("!!.??", KEY)]:
        with pytest.raises(links.LinkInvalid):
            links.verify(bad, key, NOW)


def test_expiry_is_enforced_to_the_second() -> None:
    expires = NOW + timedelta(minutes=15)
    token = links.sign(links.order_link("a", "P1", expires), KEY)
    links.verify(token, KEY, expires - timedelta(seconds=1))
    with pytest.raises(links.LinkExpired):
        links.verify(token, KEY, expires)


def test_static_links_carry_no_order() -> None:
    link = links.static_link("a", NOW + timedelta(days=365))
    assert links.verify(links.sign(link, KEY), KEY, NOW) == link
    assert link.order_id == ""
    assert link.kind is links.LinkKind.STATIC


def test_sub_tokens_are_bound_to_their_purpose_and_values() -> None:
    a = links.sub_token(KEY, "oauth", "tok", "wechat")
    assert a == links.sub_token(KEY, "oauth", "tok", "wechat")
    assert a.isalnum()
    assert len(a) == 32
    assert a != links.sub_token(KEY, "payer", "tok", "wechat")
    assert a != links.sub_token(KEY, "oauth", "tok2", "wechat")
