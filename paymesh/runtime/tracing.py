"""OpenTelemetry traces, off unless ``otlp_endpoint`` is set.

When on, a process exports spans over OTLP/gRPC; the gRPC server interceptor continues the
trace Envoy (or any client) started (W3C ``traceparent``), the gRPC and aiohttp clients carry
it on (channel services, provider calls, merchant notifications), the outbox keeps it in the
event's payload (``traceparent``, never sent to merchants) and the relay puts it in the bus
message's headers. Log lines carry ``trace_id`` and ``span_id``; error answers carry
``trace_id`` in their ErrorInfo metadata.

The SDK's global provider can be set once per process: it is set on first use, and a sampler
switch turns recording off again when the server that enabled it drains (tests start many).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import SpanKind

    from paymesh.runtime.tracing_sdk import Sdk

TRACEPARENT = "traceparent"
_sdk: Sdk | None = None  # set once, by the first enable() of the process


def enabled() -> bool:
    return _sdk is not None and _sdk.switch.on


def enable(endpoint: str, service: str) -> None:
    """Export spans to the OTLP/gRPC collector at ``endpoint`` (host:port or a URL)."""
    global _sdk
    if _sdk is None:
        from paymesh.runtime.tracing_sdk import Sdk

        _sdk = Sdk(service)
    _sdk.exporting.export_to(endpoint)
    _sdk.switch.on = True


def disable() -> None:
    """Stop recording (a drained server); what was recorded is flushed and the exporter
    closed."""
    if _sdk is None:
        return
    _sdk.switch.on = False
    flush()
    _sdk.exporting.shutdown()


def flush() -> None:
    if _sdk is not None:
        _sdk.provider.force_flush(5000)


def server_interceptors() -> list[Any]:
    """The OpenTelemetry gRPC server interceptor, when tracing was ever enabled."""
    return [] if _sdk is None else [_sdk.server_interceptor()]


def ids() -> tuple[str, str] | None:
    """(trace_id, span_id) of the current span, hex, when there is one."""
    if not enabled():
        return None  # off: spans may exist but are not recorded, their ids lead nowhere
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def trace_id() -> str:
    found = ids()
    return found[0] if found else ""


def add_trace_ids(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: ``trace_id`` and ``span_id`` of the current span."""
    found = ids()
    if found is not None:
        event_dict.setdefault("trace_id", found[0])
        event_dict.setdefault("span_id", found[1])
    return event_dict


def traceparent() -> str:
    """The current context as a W3C traceparent ("" when none is recorded)."""
    if not enabled():
        return ""
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT, "")


def extract(headers: Mapping[str, str] | None) -> Context | None:
    if _sdk is None or not headers or TRACEPARENT not in headers:
        return None
    from opentelemetry import propagate

    return propagate.extract({TRACEPARENT: headers[TRACEPARENT]})


@contextlib.contextmanager
def span(
    name: str,
    *,
    parent: Context | None = None,
    kind: SpanKind | None = None,
    attributes: Mapping[str, str] | None = None,
) -> Iterator[None]:
    """A span (a child of ``parent`` when given, which it also links to: the hop through the
    bus is asynchronous). A no-op while tracing is off."""
    if not enabled():
        yield
        return
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace import Link

    links: list[Link] = []
    if parent is not None:
        remote = trace.get_current_span(parent).get_span_context()
        links = [Link(remote)] if remote.is_valid else []
    tracer = trace.get_tracer("paymesh")
    token = otel_context.attach(parent) if parent is not None else None
    try:
        with tracer.start_as_current_span(
            name,
            kind=kind or trace.SpanKind.INTERNAL,
            links=links,
            attributes=dict(attributes or {}),
        ):
            yield
    finally:
        if token is not None:
            otel_context.detach(token)


__all__ = [
    "TRACEPARENT",
    "add_trace_ids",
    "disable",
    "enable",
    "enabled",
    "extract",
    "flush",
    "ids",
    "server_interceptors",
    "span",
    "trace_id",
    "traceparent",
]
