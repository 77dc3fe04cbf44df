"""The Envoy edge's upstream clusters: the gateways over gRPC (HTTP/2), the cashier over
HTTP/1.1, both with mutual TLS when the mesh has it, and Envoy's own admin interface."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any


def _split(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    return host or "127.0.0.1", int(port)


@dataclass(frozen=True)
class UpstreamTls:
    """The edge's client certificate for mutual TLS to the gateways, and the mesh CA."""

    cert_file: str
    key_file: str
    ca_file: str


def _transport_socket(host: str, tls: UpstreamTls, alpn: str = "h2") -> dict[str, Any]:
    try:
        ipaddress.ip_address(host)
        san = {"san_type": "IP_ADDRESS", "matcher": {"exact": host}}
        sni: dict[str, str] = {}
    except ValueError:
        san = {"san_type": "DNS", "matcher": {"exact": host}}
        sni = {"sni": host}
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            **sni,
            "common_tls_context": {
                "alpn_protocols": [alpn],
                "tls_certificates": [
                    {
                        "certificate_chain": {"filename": tls.cert_file},
                        "private_key": {"filename": tls.key_file},
                    }
                ],
                "validation_context": {
                    "trusted_ca": {"filename": tls.ca_file},
                    # The gateway's certificate must name the host Envoy dialled.
                    "match_typed_subject_alt_names": [san],
                },
            },
        },
    }


def grpc_cluster(name: str, target: str, tls: UpstreamTls | None = None) -> dict[str, Any]:
    """target: "host:port", or several comma-separated (Envoy balances across them)."""
    addresses = [_split(t.strip()) for t in target.split(",") if t.strip()]
    host = addresses[0][0]
    extra = {"transport_socket": _transport_socket(host, tls)} if tls else {}
    return {
        **extra,
        "name": name,
        "type": "STRICT_DNS",
        "connect_timeout": "1s",
        "dns_lookup_family": "V4_ONLY",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {"socket_address": {"address": h, "port_value": p}}
                            }
                        }
                        for h, p in addresses
                    ]
                }
            ],
        },
    }


def http_cluster(name: str, target: str, tls: UpstreamTls | None) -> dict[str, Any]:
    """An HTTP/1.1 upstream (the cashier's aiohttp server), mutual TLS like the others."""
    cluster = grpc_cluster(name, target)
    del cluster["typed_extension_protocol_options"]
    if tls is not None:
        host = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
        address = host["address"]["socket_address"]["address"]
        cluster["transport_socket"] = _transport_socket(address, tls, alpn="http/1.1")
    return cluster


def admin_cluster(name: str, admin_port: int) -> dict[str, Any]:
    """Envoy's own admin interface on 127.0.0.1 (only the stats listener routes to it)."""
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {
                                    "socket_address": {
                                        "address": "127.0.0.1",
                                        "port_value": admin_port,
                                    }
                                }
                            }
                        }
                    ]
                }
            ],
        },
    }


__all__ = ["UpstreamTls", "admin_cluster", "grpc_cluster", "http_cluster"]
