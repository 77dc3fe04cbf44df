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
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind

TRACEPARENT = "traceparent"


class _Switch(Sampler):
    """Records (parent-based, always for new traces) while on; drops everything while off."""

    def __init__(self) -> None:
        self.on = False
        self._sample = ParentBased(TraceIdRatioBased(1.0))

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        if not self.on:
            return ALWAYS_OFF.should_sample(*args, **kwargs)
        return self._sample.should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return "paymesh switch"


class _Exporting(SpanProcessor):
    """The provider's one processor: hands ended spans to the current exporter, if any (a
    process that enables tracing again, as tests do, exports to the new collector only)."""

    def __init__(self) -> None:
        self.current: BatchSpanProcessor | None = None
        self.endpoint = ""

    def on_end(self, span: ReadableSpan) -> None:
        current = self.current
        if current is not None:
            current.on_end(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        current = self.current
        return current.force_flush(timeout_millis) if current is not None else True

    def shutdown(self) -> None:
        current, self.current = self.current, None
        if current is not None:
            current.shutdown()  # type: ignore[no-untyped-call]


_switch = _Switch()
_provider: TracerProvider | None = None
_exporting = _Exporting()


def enabled() -> bool:
    return _switch.on


def enable(endpoint: str, service: str) -> None:
    """Export spans to the OTLP/gRPC collector at ``endpoint`` (host:port or a URL)."""
    global _provider
    if _provider is None:
        from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
        from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorClient

        _provider = TracerProvider(
            sampler=_switch, resource=Resource.create({"service.name": service})
        )
        _provider.add_span_processor(_exporting)
        trace.set_tracer_provider(_provider)
        GrpcAioInstrumentorClient().instrument(  # type: ignore[no-untyped-call]
            tracer_provider=_provider
        )
        AioHttpClientInstrumentor().instrument(tracer_provider=_provider)
    if _exporting.current is None or _exporting.endpoint != endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        _exporting.shutdown()
        target = endpoint.split("://", 1)[-1]
        _exporting.current = BatchSpanProcessor(
            OTLPSpanExporter(endpoint=target, insecure=not endpoint.startswith("https://")),
            schedule_delay_millis=200,
        )
        _exporting.endpoint = endpoint
    _switch.on = True


def disable() -> None:
    """Stop recording (a drained server); what was recorded is flushed and the exporter
    closed."""
    _switch.on = False
    flush()
    _exporting.shutdown()


def flush() -> None:
    if _provider is not None:
        _provider.force_flush(5000)


def server_interceptors() -> list[Any]:
    """The OpenTelemetry gRPC server interceptor, when tracing was ever enabled."""
    if _provider is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor(tracer_provider=_provider)]  # type: ignore[no-untyped-call]


def ids() -> tuple[str, str] | None:
    """(trace_id, span_id) of the current span, hex, when there is one."""
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
    if not _switch.on:
        return ""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT, "")


def extract(headers: Mapping[str, str] | None) -> Context | None:
    if not headers or TRACEPARENT not in headers:
        return None
    return propagate.extract({TRACEPARENT: headers[TRACEPARENT]})


@contextlib.contextmanager
def span(
    name: str,
    *,
    parent: Context | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, str] | None = None,
) -> Iterator[None]:
    """A span (a child of ``parent`` when given, which it also links to: the hop through the
    bus is asynchronous). A no-op while tracing is off."""
    if not _switch.on:
        yield
        return
    links: Sequence[Link] = ()
    if parent is not None:
        remote = trace.get_current_span(parent).get_span_context()
        links = [Link(remote)] if remote.is_valid else ()
    tracer = trace.get_tracer("paymesh")
    token = otel_context.attach(parent) if parent is not None else None
    try:
        with tracer.start_as_current_span(
            name, kind=kind, links=links, attributes=dict(attributes or {})
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
