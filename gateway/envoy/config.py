"""The Envoy edge config: HTTP/JSON -> gRPC transcoding in front of the gateways.

Rendered as JSON (valid YAML) so no YAML library is needed; k8s uses the same renderer.
The clusters it routes to (gRPC, the cashier's HTTP, mutual TLS) are built in `upstreams`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from paymesh.gateway.envoy.upstreams import (
    UpstreamTls,
    admin_cluster,
    grpc_cluster,
    http_cluster,
)
from paymesh.merchant.v1 import (
    callback_service_pb2,
    info_service_pb2,
    pay_service_pb2,
    query_service_pb2,
    refund_service_pb2,
    transfer_service_pb2,
)

# Cluster name -> the merchant-facing gRPC service it serves.
EDGE_SERVICES: dict[str, str] = {
    "pay": pay_service_pb2.DESCRIPTOR.services_by_name["PayService"].full_name,
    "query": query_service_pb2.DESCRIPTOR.services_by_name["QueryService"].full_name,
    "refund": refund_service_pb2.DESCRIPTOR.services_by_name["RefundService"].full_name,
    "transfer": transfer_service_pb2.DESCRIPTOR.services_by_name["TransferService"].full_name,
    "callback": callback_service_pb2.DESCRIPTOR.services_by_name["CallbackService"].full_name,
    "info": info_service_pb2.DESCRIPTOR.services_by_name["InfoService"].full_name,
}


def descriptor_path() -> Path:
    return Path(str(resources.files("paymesh.gateway.envoy") / "paymesh.pb"))


# The one plain-HTTP upstream: the cashier's pages under /cashier/ (paymesh.cashier).
HTTP_SERVICE = "cashier"


# Envoy's own answers (local replies) as google.rpc.Status JSON with an ErrorInfo:
# HTTP status -> (gRPC code, ErrorInfo reason). Anything else Envoy answers itself is EDGE_ERROR.
# These reasons are never raised in Python, so they are not in paymesh.errors.Reason.
LOCAL_REPLIES: dict[int, tuple[int, str]] = {
    400: (3, "MALFORMED_REQUEST"),  # JSON that does not parse or does not transcode
    404: (5, "UNKNOWN_PATH"),  # no RPC at that method + path
    413: (3, "BODY_TOO_LARGE"),  # over MAX_REQUEST_BYTES
    503: (14, "SERVICE_UNAVAILABLE"),  # no healthy upstream: retry
    504: (4, "UPSTREAM_TIMEOUT"),
}
EDGE_ERROR = (2, "EDGE_ERROR")
MAX_REQUEST_BYTES = 1024 * 1024


def _status_body(code: int, reason: str) -> dict[str, Any]:
    return {
        "json_format": {
            "code": code,
            "message": "%LOCAL_REPLY_BODY%",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": reason,
                    "domain": "paymesh",
                    "metadata": {"edge": "envoy"},
                }
            ],
        },
        "content_type": "application/json",
    }


def local_reply_config() -> dict[str, Any]:
    mappers = [
        {
            "filter": {
                "status_code_filter": {
                    "comparison": {
                        "op": "EQ",
                        "value": {"default_value": status, "runtime_key": f"edge.lr_{status}"},
                    }
                }
            },
            "body_format_override": _status_body(code, reason),
        }
        for status, (code, reason) in LOCAL_REPLIES.items()
    ]
    return {"mappers": mappers, "body_format": _status_body(*EDGE_ERROR)}


def render(
    *,
    listen_port: int,
    admin_port: int,
    upstreams: Mapping[str, str],
    listen_address: str = "127.0.0.1",
    descriptor: Path | None = None,
    route_timeout: str = "30s",
    health_path: str = "/healthz",
    upstream_tls: UpstreamTls | None = None,
    stats_port: int | None = None,
    otlp_collector: str | None = None,
) -> dict[str, Any]:
    """upstreams: cluster name (pay, query, ...) -> "host:port" (or several, comma-separated);
    key "*" is the default for the gRPC services; "cashier" (HTTP, never defaulted) serves
    `/cashier/`.

    The listener answers `health_path` itself (200 while Envoy is not draining; k8s probes it:
    the admin interface listens on 127.0.0.1 only), refuses bodies over `MAX_REQUEST_BYTES`
    with 413, and takes the client address from the connection (`use_remote_address`), not
    from a caller-supplied X-Forwarded-For. With `upstream_tls` it talks to the gateways
    over mutual TLS (its certificate, the mesh CA, the gateway's name checked). With
    `stats_port`, a second listener serves only the admin's `/stats/prometheus` there. With
    `otlp_collector` ("host:port", OTLP/gRPC) Envoy's OpenTelemetry tracer starts (or
    continues) a trace per request and passes it upstream as a W3C `traceparent`.
    """
    clusters = []
    routes: list[dict[str, Any]] = []
    for name, service in EDGE_SERVICES.items():
        target = upstreams.get(name) or upstreams.get("*")
        if not target:
            continue
        clusters.append(grpc_cluster(name, target, upstream_tls))
        routes.append(
            {
                "match": {"prefix": f"/{service}/"},
                "route": {"cluster": name, "timeout": route_timeout},
            }
        )
    services = [EDGE_SERVICES[c["name"]] for c in clusters]
    if upstreams.get(HTTP_SERVICE):
        # The cashier's pages: plain HTTP/1.1 to its server, the transcoder off for them.
        clusters.append(http_cluster(HTTP_SERVICE, upstreams[HTTP_SERVICE], upstream_tls))
        routes.insert(
            0,
            {
                "match": {"prefix": "/cashier/"},
                "route": {"cluster": HTTP_SERVICE, "timeout": route_timeout},
                "typed_per_filter_config": {
                    "envoy.filters.http.grpc_json_transcoder": {
                        "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig",
                        "disabled": True,
                    }
                },
            },
        )
    transcoder = {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
        "proto_descriptor": str(descriptor or descriptor_path()),
        "services": services,
        "convert_grpc_status": True,
        "print_options": {
            "add_whitespace": False,
            "always_print_primitive_fields": True,
            "always_print_enums_as_ints": False,
            "preserve_proto_field_names": True,
        },
        # Unknown paths get a clean 404 instead of an untranscoded pass-through (a 503).
        "request_validation_options": {"reject_unknown_method": True},
        "ignore_unknown_query_parameters": True,
    }
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "edge",
        "codec_type": "AUTO",
        "local_reply_config": local_reply_config(),
        "use_remote_address": True,
        "route_config": {
            "name": "edge",
            "virtual_hosts": [{"name": "paymesh", "domains": ["*"], "routes": routes}],
        },
        "http_filters": [
            {
                "name": "envoy.filters.http.health_check",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck",
                    "pass_through_mode": False,
                    "headers": [{"name": ":path", "string_match": {"exact": health_path}}],
                },
            },
            # Every request body (JSON, provider callbacks, gRPC) is capped: over it is a 413.
            {
                "name": "envoy.filters.http.buffer",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer",
                    "max_request_bytes": MAX_REQUEST_BYTES,
                },
            },
            {"name": "envoy.filters.http.grpc_json_transcoder", "typed_config": transcoder},
            {
                "name": "envoy.filters.http.router",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
                },
            },
        ],
    }
    if otlp_collector:
        hcm["tracing"] = {
            "provider": {
                "name": "envoy.tracers.opentelemetry",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
                    "grpc_service": {
                        "envoy_grpc": {"cluster_name": "otel_collector"},
                        "timeout": "1s",
                    },
                    "service_name": "paymesh-edge",
                },
            },
            "random_sampling": {"value": 100},
        }
        clusters.append(grpc_cluster("otel_collector", otlp_collector))
    extra: list[dict[str, Any]] = []
    if stats_port is not None:
        stats_listener, stats_cluster = _stats(listen_address, stats_port, admin_port)
        extra.append(stats_listener)
        clusters.append(stats_cluster)
    config: dict[str, Any] = {
        "admin": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}
        },
        "static_resources": {
            "listeners": [
                {
                    "name": "edge",
                    "address": {
                        "socket_address": {"address": listen_address, "port_value": listen_port}
                    },
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": hcm,
                                }
                            ]
                        }
                    ],
                }
            ],
            "clusters": clusters,
        },
    }
    config["static_resources"]["listeners"].extend(extra)
    return config


def _stats(address: str, port: int, admin_port: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A listener that proxies GET /stats/prometheus to the admin (on 127.0.0.1), nothing else."""
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "stats",
        "route_config": {
            "virtual_hosts": [
                {
                    "name": "stats",
                    "domains": ["*"],
                    "routes": [
                        {
                            "match": {
                                "path": "/stats/prometheus",
                                "headers": [{"name": ":method", "string_match": {"exact": "GET"}}],
                            },
                            "route": {"cluster": "envoy_admin"},
                        },
                        {"match": {"prefix": "/"}, "direct_response": {"status": 404}},
                    ],
                }
            ]
        },
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
                },
            }
        ],
    }
    listener = {
        "name": "stats",
        "address": {"socket_address": {"address": address, "port_value": port}},
        "filter_chains": [
            {
                "filters": [
                    {"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}
                ]
            }
        ],
    }
    return listener, admin_cluster("envoy_admin", admin_port)


def render_text(**kw: Any) -> str:
    return json.dumps(render(**kw), indent=2)
