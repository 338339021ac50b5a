"""The OpenTelemetry trace of a run (GET /api/v1/logs/{id}/trace): its spans as a tree's rows
and the log records attached to it, with times as offsets from the trace's first span, so a
browser draws the waterfall without 64-bit nanosecond arithmetic."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.conf import settings

from logs.tenant_sql import reads, traces
from tenants.models import Client

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _iso(ns: int) -> str:
    return (EPOCH + dt.timedelta(microseconds=ns // 1000)).isoformat().replace("+00:00", "Z")


def _ms(ns: int) -> float:
    return round(ns / 1e6, 3)


def _span(row: dict[str, Any], origin: int) -> dict[str, Any]:
    start, end = row.pop("start_ns"), row.pop("end_ns")
    resource = row.pop("resource") or {}
    row["events"] = [{"name": e.get("name"), "offset_ms": _ms(e.get("time_ns", start) - origin),
                      "attributes": e.get("attributes") or {}} for e in row["events"] or []]
    return {**row, "start_time": _iso(start), "offset_ms": _ms(start - origin), "duration_ms": _ms(end - start),
            "service_name": resource.get("service.name")}


def _record(row: dict[str, Any], origin: int) -> dict[str, Any]:
    time_ns = row.pop("time_ns")
    row.pop("resource", None)
    return {**row, "time": _iso(time_ns), "offset_ms": _ms(time_ns - origin)}


def log_trace(client: Client, *, log_id: uuid.UUID) -> dict[str, Any] | None:
    """The trace of one of `client`'s runs received over OpenTelemetry, or None (no such log, or
    one that did not come from a trace)."""
    found = reads.one(client, log_id, ("id", "payload"))
    otel = (found or {}).get("payload", {}).get("otel") if found else None
    trace_id = otel.get("trace_id") if isinstance(otel, dict) else None
    if not isinstance(trace_id, str):
        return None
    limit = settings.OTLP_TRACE_READ_LIMIT
    spans = traces.trace_spans(client, trace_id, limit=limit + 1)
    records = traces.trace_log_records(client, trace_id, limit=limit + 1)
    truncated = len(spans) > limit or len(records) > limit
    spans, records = spans[:limit], records[:limit]
    origin = min([s["start_ns"] for s in spans] + [r["time_ns"] for r in records] or [0])
    resource = spans[0]["resource"] if spans else {}
    return {"log_id": str(log_id), "trace_id": trace_id, "root_span_id": otel.get("root_span_id"),
            "start_time": _iso(origin), "resource": resource or {}, "truncated": truncated,
            "spans": [_span(s, origin) for s in spans], "log_records": [_record(r, origin) for r in records]}
