"""The OpenTelemetry SDK side of `paymesh.runtime.tracing`, imported only when tracing is
enabled (the SDK and its propagators cost a noticeable part of a second to import)."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
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


class Switch(Sampler):
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


class Exporting(SpanProcessor):
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

    def export_to(self, endpoint: str) -> None:
        if self.current is not None and self.endpoint == endpoint:
            return
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        self.shutdown()
        target = endpoint.split("://", 1)[-1]
        self.current = BatchSpanProcessor(
            OTLPSpanExporter(endpoint=target, insecure=not endpoint.startswith("https://")),
            schedule_delay_millis=200,
        )
        self.endpoint = endpoint


class Sdk:
    """The process's provider, instrumentations, sampler switch and exporter."""

    def __init__(self, service: str) -> None:
        from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
        from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorClient

        self.switch = Switch()
        self.exporting = Exporting()
        self.provider = TracerProvider(
            sampler=self.switch, resource=Resource.create({"service.name": service})
        )
        self.provider.add_span_processor(self.exporting)
        trace.set_tracer_provider(self.provider)
        GrpcAioInstrumentorClient().instrument(  # type: ignore[no-untyped-call]
            tracer_provider=self.provider
        )
        AioHttpClientInstrumentor().instrument(tracer_provider=self.provider)

    def server_interceptor(self) -> Any:
        from opentelemetry.instrumentation.grpc import aio_server_interceptor

        return aio_server_interceptor(tracer_provider=self.provider)  # type: ignore[no-untyped-call]
