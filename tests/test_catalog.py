"""`paymesh.catalog` is the one list of channels: everything that names channels agrees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from paymesh.catalog import CHANNEL_NAMES, CHANNELS
from paymesh.channels.registry import CHANNEL_ENTRIES
from paymesh.gateway import validation
from paymesh.runtime.registry import SPECS

K8S = Path(__file__).resolve().parent.parent / "k8s" / "services.yaml"


def _k8s() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(K8S.read_text()) if d]


def test_services_registry_serves_every_channel() -> None:
    for c in CHANNELS:
        assert SPECS[c.name].entry == "paymesh.channels.serve:register"
    channel_specs = {n for n, s in SPECS.items() if s.entry == "paymesh.channels.serve:register"}
    assert channel_specs == CHANNEL_NAMES


def test_channel_registry_and_validation_follow_the_catalog() -> None:
    assert {c.name: c.implementation for c in CHANNELS} == CHANNEL_ENTRIES
    assert validation.CHANNELS == CHANNEL_NAMES


def test_k8s_deploys_every_channel_and_routes_to_it() -> None:
    docs = _k8s()
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    for name in CHANNEL_NAMES:
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        assert container["args"][:2] == ["serve", name]
        assert name in services
    served = {
        d["spec"]["template"]["spec"]["containers"][0]["args"][1]
        for d in deployments.values()
        if d["spec"]["template"]["spec"]["containers"][0]["args"][:1] == ["serve"]
    }
    assert served & set(SPECS) == served  # every Deployment serves a known service
    settings = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    targets = dict(t.split("=", 1) for t in settings["PAYMESH_CHANNEL_TARGETS"].split(","))
    assert set(targets) == CHANNEL_NAMES
    assert all(targets[n] == f"{n}:50051" for n in CHANNEL_NAMES)
