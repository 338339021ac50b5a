"""OTLP request bodies made by hand from the real protobuf messages (opentelemetry-proto) and in
the specification's JSON mapping, for the cases an SDK never sends."""
from __future__ import annotations

import os
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

T0 = 1_764_000_000_000_000_000  # 2025-11-24T16:00:00Z in nanoseconds


def trace_id() -> bytes:
    return os.urandom(16)


def span_id() -> bytes:
    return os.urandom(8)


def value(v: Any) -> AnyValue:
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    if isinstance(v, dict):
        out = AnyValue()
        out.kvlist_value.values.extend(KeyValue(key=k, value=value(x)) for k, x in v.items())
        return out
    if isinstance(v, list):
        out = AnyValue()
        out.array_value.values.extend(value(x) for x in v)
        return out
    return AnyValue(string_value=v)


def attrs(values: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=value(v)) for k, v in values.items()]


def span(trace: bytes, sid: bytes, name: str, *, parent: bytes = b"", start: int = T0, duration_ms: int = 100,
         attributes: dict[str, Any] | None = None, error: bool = False) -> Span:
    out = Span(trace_id=trace, span_id=sid, parent_span_id=parent, name=name, kind=Span.SPAN_KIND_INTERNAL,
               start_time_unix_nano=start, end_time_unix_nano=start + duration_ms * 1_000_000,
               attributes=attrs(attributes or {}))
    if error:
        out.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="failed"))
    return out


def traces_request(spans: list[Span], resource: dict[str, Any] | None = None) -> bytes:
    request = ExportTraceServiceRequest()
    group = request.resource_spans.add()
    group.resource.attributes.extend(attrs(resource or {"service.name": "agent"}))
    scope = group.scope_spans.add()
    scope.scope.name = "tests"
    scope.spans.extend(spans)
    return request.SerializeToString()


def trace_of(n: int, *, trace: bytes | None = None, ticket: str | None = None) -> list[Span]:
    """A root and n - 1 model-call children (10 input and 2 output tokens each)."""
    trace = trace or trace_id()
    root_id = span_id()
    spans = [span(trace, root_id, "root", duration_ms=n + 10,
                  attributes={"ticket.id": ticket} if ticket else {})]
    spans += [span(trace, span_id(), f"chat {i}", parent=root_id, start=T0 + i * 1_000_000, duration_ms=1,
                   attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                               "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2})
              for i in range(1, n)]
    return spans


def logs_request(records: list[LogRecord], resource: dict[str, Any] | None = None) -> bytes:
    request = ExportLogsServiceRequest()
    group = request.resource_logs.add()
    group.resource.attributes.extend(attrs(resource or {"service.name": "agent"}))
    group.scope_logs.add().log_records.extend(records)
    return request.SerializeToString()


def json_span(trace: str, sid: str, name: str = "root", *, parent: str = "", **extra: Any) -> dict[str, Any]:
    return {"traceId": trace, "spanId": sid, "parentSpanId": parent, "name": name, "kind": 1,
            "startTimeUnixNano": str(T0), "endTimeUnixNano": str(T0 + 5_000_000),
            "attributes": [{"key": "ticket.id", "value": {"stringValue": "J-1"}}], **extra}


def json_traces(spans: list[Any]) -> dict[str, Any]:
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "a"}}]},
                               "scopeSpans": [{"scope": {"name": "tests"}, "spans": spans}]}]}
