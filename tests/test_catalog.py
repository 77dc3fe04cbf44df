"""`paymesh.catalog` is the one list of channels: everything that names channels agrees."""

from __future__ import annotations

from paymesh.catalog import CHANNEL_NAMES, CHANNELS
from paymesh.channels.registry import CHANNEL_ENTRIES
from paymesh.deploy import k8s
from paymesh.gateway import validation
from paymesh.runtime.registry import SPECS


def test_services_registry_serves_every_channel() -> None:
    for c in CHANNELS:
        assert SPECS[c.name].entry == "paymesh.channels.serve:register"
    channel_specs = {n for n, s in SPECS.items() if s.entry == "paymesh.channels.serve:register"}
    assert channel_specs == CHANNEL_NAMES


def test_channel_registry_and_validation_follow_the_catalog() -> None:
    assert {c.name: c.implementation for c in CHANNELS} == CHANNEL_ENTRIES
    assert validation.CHANNELS == CHANNEL_NAMES


def test_k8s_deploys_every_channel() -> None:
    """k8s/*.yaml are rendered from the service registry (tests/deploy keeps them current)."""
    assert k8s.channel_names() == [c.name for c in CHANNELS]
