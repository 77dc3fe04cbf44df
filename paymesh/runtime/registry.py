"""Which services `paymesh serve` knows, what each needs, and how each registers."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc

from paymesh.catalog import CHANNELS
from paymesh.runtime.context import ServiceContext

Register = Callable[[grpc.aio.Server, ServiceContext], Awaitable[list[str]]]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    # "module:function"; the function registers servicers and returns their full names.
    entry: str
    needs: tuple[str, ...] = ()
    help: str = ""

    def load(self) -> Register:
        module, _, attr = self.entry.partition(":")
        fn: Register = getattr(importlib.import_module(module), attr)
        return fn


_GATEWAY_NEEDS = ("database_url", "config_backend", "channel_targets", "callback_base_url")

SPECS: dict[str, ServiceSpec] = {
    s.name: s
    for s in (
        ServiceSpec("info", "paymesh.gateway.info:register", (), "version RPC (GET /v1/version)"),
        ServiceSpec("pay", "paymesh.gateway.servicers:register_pay", _GATEWAY_NEEDS),
        ServiceSpec("query", "paymesh.gateway.servicers:register_query", _GATEWAY_NEEDS),
        ServiceSpec("refund", "paymesh.gateway.servicers:register_refund", _GATEWAY_NEEDS),
        ServiceSpec("transfer", "paymesh.gateway.servicers:register_transfer", _GATEWAY_NEEDS),
        ServiceSpec("callback", "paymesh.callback.service:register", _GATEWAY_NEEDS),
        ServiceSpec("monitor", "paymesh.order_monitor.service:register", _GATEWAY_NEEDS),
        ServiceSpec(
            "recon",
            "paymesh.recon.service:register",
            ("database_url", "config_backend", "channel_targets"),
            "reconciliation (ops ReconciliationService) and its daily scheduler",
        ),
        ServiceSpec(
            "cashier",
            "paymesh.cashier.service:register",
            _GATEWAY_NEEDS,
            "the cashier page (HTTP on cashier_listen; the edge routes /cashier/ to it)",
        ),
        ServiceSpec(
            "notify",
            "paymesh.notify.service:register",
            ("database_url", "config_backend", "nats_url"),
        ),
        *(
            ServiceSpec(
                c.name,
                "paymesh.channels.serve:register",
                ("config_backend",),
                f"{c.title} channel service",
            )
            for c in CHANNELS
        ),
    )
}


def register_spec(spec: ServiceSpec) -> None:
    SPECS[spec.name] = spec


def resolve(names: list[str]) -> list[ServiceSpec]:
    """Expand `all`, drop duplicates, keep order; unknown names are a usage error."""
    out: list[ServiceSpec] = []
    for name in names:
        picked = list(SPECS.values()) if name == "all" else [SPECS.get(name)]
        for spec in picked:
            if spec is None:
                raise SystemExit(f"unknown service {name!r}; known: {', '.join(SPECS)}, all")
            if spec not in out:
                out.append(spec)
    if not any(s.name == "info" for s in out):
        out.insert(0, SPECS["info"])
    return out
