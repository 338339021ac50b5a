"""OTLP request bodies (protobuf or the OTLP JSON mapping) into plain Python values.

Both encodings give the same shapes, so everything after this module (otel/prepare.py) is written
once:

* a span: `trace_id`, `span_id`, `parent_span_id` (lower-case hex; "" when absent), `flags`,
  `name`, `kind`, `start_ns`, `end_ns`, `status_code`, `status_message`, `attributes` (a dict),
  `events` ([{time_ns, name, attributes}]), `links` ([{trace_id, span_id, attributes}]),
  `resource` and `scope` (dicts shared by the spans
  of one scope), and `invalid`: why the span cannot be stored, or None;
* a log record: `trace_id`, `span_id`, `time_ns`, `observed_ns`, `severity_number`,
  `severity_text`, `event_name`, `body`, `attributes`, `resource`, `scope`, `invalid`.

Attribute values become JSON values: strings, booleans, integers, floats (NaN and the infinities
as the strings the JSON mapping uses), lists and dicts; bytes as base64 text. Of repeated keys the
last one wins. A body that is not a valid OTLP message is a `DecodeFailed` (the answer is 400); a
span or record that decodes but cannot be stored (an id of the wrong length, no start time) is
only marked `invalid`, and the rest of the request is stored (OTLP's partial success).
"""
from __future__ import annotations

import base64
import math
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


MAX_NS = 2**63 - 1  # what a PostgreSQL bigint holds (year 2262)


class DecodeFailed(Exception):
    """The body is not a valid OTLP export request; the message says where."""


def float_value(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def any_value(value: Any) -> Any:
    """An AnyValue message as a JSON value."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "double_value":
        return float_value(value.double_value)
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in pairs}


def id_hex(raw: bytes, size: int, name: str, *, optional: bool = False) -> tuple[str, str | None]:
    """The id as hex, and why it is invalid (None when valid). An all-zero id is no id."""
    if not raw or raw == bytes(size):
        return "", None if optional else f"{name} is missing or all zeros"
    if len(raw) != size:
        return raw.hex(), f"{name} must be {size} bytes, got {len(raw)}"
    return raw.hex(), None


def times_invalid(start: int, end: int) -> str | None:
    if start <= 0:
        return "startTimeUnixNano is missing"
    if start > MAX_NS or end > MAX_NS:
        return "a time is beyond the year 2262"
    if end < start:
        return "endTimeUnixNano is before startTimeUnixNano"
    return None


def _span(span: Any, resource: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
    trace_id, bad_trace = id_hex(span.trace_id, 16, "traceId")
    span_id, bad_span = id_hex(span.span_id, 8, "spanId")
    parent, bad_parent = id_hex(span.parent_span_id, 8, "parentSpanId", optional=True)
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    return {
        "trace_id": trace_id, "span_id": span_id, "parent_span_id": parent, "flags": span.flags,
        "name": span.name, "kind": span.kind, "start_ns": start, "end_ns": end,
        "status_code": span.status.code, "status_message": span.status.message,
        "attributes": attributes(span.attributes),
        "events": [{"time_ns": e.time_unix_nano, "name": e.name, "attributes": attributes(e.attributes)}
                   for e in span.events],
        "links": [{"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex(),
                   "attributes": attributes(link.attributes)} for link in span.links],
        "resource": resource, "scope": scope,
        "invalid": bad_trace or bad_span or bad_parent or times_invalid(start, end),
    }


def _scope(scope: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": scope.name, "version": scope.version}
    if scope.attributes:
        out["attributes"] = attributes(scope.attributes)
    return out


def _parse(message: Any, body: bytes) -> Any:
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        raise DecodeFailed(f"The body is not a valid OTLP protobuf message ({exc}).") from None
    return message


def _items(groups: Any, scope_groups: str, items: str, make: Any) -> list[dict[str, Any]]:
    """`make(item, resource, scope)` of every item of every scope group of an export request
    (resource_spans > scope_spans > spans, resource_logs > scope_logs > log_records)."""
    out = []
    for group in groups:
        resource = attributes(group.resource.attributes)
        for scope_group in getattr(group, scope_groups):
            scope = _scope(scope_group.scope)
            out.extend(make(item, resource, scope) for item in getattr(scope_group, items))
    return out


def spans_from_protobuf(body: bytes) -> list[dict[str, Any]]:
    return _items(_parse(ExportTraceServiceRequest(), body).resource_spans, "scope_spans", "spans", _span)


def _record(record: Any, resource: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
    trace_id, bad_trace = id_hex(record.trace_id, 16, "traceId", optional=True)
    span_id, bad_span = id_hex(record.span_id, 8, "spanId", optional=True)
    time_ns = record.time_unix_nano or record.observed_time_unix_nano
    return {
        "trace_id": trace_id, "span_id": span_id, "time_ns": time_ns, "observed_ns": record.observed_time_unix_nano,
        "severity_number": record.severity_number, "severity_text": record.severity_text,
        "event_name": record.event_name, "body": any_value(record.body) if record.HasField("body") else None,
        "attributes": attributes(record.attributes), "resource": resource, "scope": scope,
        "invalid": bad_trace or bad_span or ("a time is beyond the year 2262" if time_ns > MAX_NS else None),
    }


def records_from_protobuf(body: bytes) -> list[dict[str, Any]]:
    return _items(_parse(ExportLogsServiceRequest(), body).resource_logs, "scope_logs", "log_records", _record)
