"""The real OpenTelemetry SDK, configured as a user would: a TracerProvider (and LoggerProvider)
with the OTLP/HTTP exporter pointed at a live test server, our API key in a header."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

RESOURCE = {"service.name": "support-agent", "service.version": "v2.3.1", "deployment.environment.name": "staging"}


def span_exporter(url: str, key: str, *, encoding: str = "protobuf", compression: str | None = None,
                  header: str = "bearer") -> SpanExporter:
    headers = {"Authorization": f"Bearer {key}"} if header == "bearer" else {"X-API-Key": key}
    if encoding == "protobuf":
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        chosen = {None: Compression.NoCompression, "gzip": Compression.Gzip, "deflate": Compression.Deflate}
        return OTLPSpanExporter(endpoint=f"{url}/v1/traces", headers=headers, compression=chosen[compression],
                                timeout=10)
    from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter as JsonSpanExporter

    return JsonSpanExporter(endpoint=f"{url}/v1/traces", headers=headers, timeout=10)


@contextmanager
def tracer_provider(exporter: SpanExporter, *, batch: bool = True,
                    resource: dict[str, Any] | None = None) -> Iterator[TracerProvider]:
    provider = TracerProvider(resource=Resource.create(resource or RESOURCE))
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    try:
        yield provider
    finally:
        provider.shutdown()


class Boom(RuntimeError):
    pass


def agent_run(provider: TracerProvider, *, ticket: str = "T-4711", fail: bool = True) -> str:
    """A support agent's run on one ticket, instrumented as the GenAI conventions say: a root
    span with our run attributes, two chat calls with token usage, a tool call, and (with
    `fail`) a third chat call that raises, the exception propagating to the root. Returns the
    trace id (hex)."""
    tracer = provider.get_tracer("support.agent", "1.0.0")
    try:
        with tracer.start_as_current_span("handle ticket", attributes={
                "ticket.id": ticket, "ticket.category": "billing_issue", "customer.type": "VIP",
                "workflow.metrics.overall_confidence": 0.82}) as root:
            trace_id = format(root.get_span_context().trace_id, "032x")
            with tracer.start_as_current_span("chat gpt-4o", attributes={
                    "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                    "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.usage.input_tokens": 1200,
                    "gen_ai.usage.output_tokens": 150}):
                pass
            with tracer.start_as_current_span("execute_tool crm_lookup", attributes={
                    "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "crm_lookup"}):
                pass
            with tracer.start_as_current_span("chat gpt-4o-mini", attributes={
                    "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.input_tokens": 300, "gen_ai.usage.output_tokens": 20}):
                if fail:
                    raise Boom("Refund limit exceeded for ticket " + ticket)
    except Boom:
        pass
    return trace_id
