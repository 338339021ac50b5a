"""A trace's spans become one workflow run: `derive_run()`, a pure function of the stored spans.

Because the run is computed from every span stored for the trace (not from the request that
brought the last ones), spans may arrive in any order, in any number of exports, late or twice:
the run is the same. The mapping (README, "Send OpenTelemetry"):

* root: the earliest span marked `workflow.root = true`; else the earliest top-level span (no
  parent, or a parent in another process). No root yet: no run yet (the spans wait for it);
* executed_at, execution_time_seconds: the root's start and duration;
* status: the root's `workflow.status` (SUCCESS / PARTIAL / FAILED / ERROR); else the root's span
  status ERROR gives FAILED and anything else SUCCESS;
* error (FAILED and ERROR runs only): the exception of the root (type, message); the node is
  the name of the span where that exception was first recorded (the innermost, where it was
  raised). Without an exception on the root: the first exception recorded in the trace, else
  the status message and name of the first failed span below the root (else the root's);
* ticket_id (`ticket.id`, else the trace id), category (`ticket.category`), customer_type
  (`customer.type`), resolution_status (`ticket.resolution`): root attributes, then resource;
  environment (`deployment.environment.name` / `deployment.environment`, else production) and
  workflow_version (`service.version`): resource, then root attributes;
* metrics: llm_calls, tool_calls, input_tokens, output_tokens (summed over model calls; over the
  other spans only when no model call reports usage, so agent-level totals are not counted
  twice), total_tokens, models, spans, failed_spans, cost (with the tenant's prices), and the
  root's `workflow.metrics.<key>` attributes.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from logs.models import ENVIRONMENT_ALIASES, STATUS_SET
from otel import conventions as conv

ERROR_CODE = 2  # Status.STATUS_CODE_ERROR
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
MAX_NAME = 255
# Per model: (input, output) price per million tokens.
Prices = dict[str, tuple[Decimal, Decimal]]


def event_id(trace_id: str) -> str:
    """The run's idempotency key: one run per trace and tenant, whoever stores it first."""
    return f"otel:{trace_id}"


def _root(spans: list[dict[str, Any]]) -> dict[str, Any] | None:
    candidates = [s for s in spans if s["root_rank"] is not None]
    if not candidates:
        return None
    return min(candidates, key=lambda s: (s["root_rank"], s["start_ns"], s["span_id"]))


def _attribute(root: dict[str, Any], name: str, *, resource_first: bool = False) -> str | None:
    sources = (root["resource"] or {}, root["attributes"] or {})
    for source in reversed(sources) if not resource_first else sources:
        value = source.get(name)
        if value is not None and value != "":
            return str(value)
    return None


def _status(root: dict[str, Any]) -> str:
    given = (root["attributes"] or {}).get(conv.STATUS)
    if isinstance(given, str) and given.strip().upper() in STATUS_SET:
        return given.strip().upper()
    return "FAILED" if root["status_code"] == ERROR_CODE else "SUCCESS"


def _error(root: dict[str, Any], spans: list[dict[str, Any]]) -> tuple[str | None, str | None, str | None]:
    """(message, type, node) of a failed run."""
    recorded = sorted((s for s in spans if s["error"]), key=lambda s: (s["error"]["time_ns"], s["start_ns"]))
    chosen = root["error"]
    if chosen:
        origin = next((s for s in recorded if (s["error"]["type"], s["error"]["message"])
                       == (chosen["type"], chosen["message"])), root)
    elif recorded:
        origin = recorded[0]
        chosen = origin["error"]
    else:
        # No exception anywhere: the first failed span below the root, where the failure is named.
        failed = sorted((s for s in spans if s["status_code"] == ERROR_CODE and s is not root),
                        key=lambda s: (s["start_ns"], s["span_id"]))
        origin = failed[0] if failed else root
        return origin["status_message"] or root["status_message"], None, origin["name"][:MAX_NAME]
    return chosen["message"], (chosen["type"] or "")[:MAX_NAME] or None, origin["name"][:MAX_NAME]


def _price(model: str, prices: Prices) -> tuple[Decimal, Decimal] | None:
    """Exact model name, else the longest priced name it starts with (gpt-4o-2024-08-06 -> gpt-4o)."""
    if model in prices:
        return prices[model]
    prefixes = [name for name in prices if model.startswith(name)]
    return prices[max(prefixes, key=len)] if prefixes else None


def _has_usage(span: dict[str, Any]) -> bool:
    return span["input_tokens"] is not None or span["output_tokens"] is not None


def _cost(counted: list[dict[str, Any]], prices: Prices) -> dict[str, Any]:
    """`cost` of the priced model calls (when any is priced), and the models left out of it."""
    total, priced, unpriced = Decimal(0), 0, set()
    for span in counted:
        price = _price(span["model"], prices) if span["model"] else None
        if price is None:
            unpriced.add(span["model"] or "(no model)")
            continue
        priced += 1
        total += ((span["input_tokens"] or 0) * price[0] + (span["output_tokens"] or 0) * price[1]) / 1_000_000
    if not priced:
        return {}
    return {"cost": float(round(total, 6)), **({"unpriced_models": sorted(unpriced)} if unpriced else {})}


def _counted(spans: list[dict[str, Any]], calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The spans whose usage counts: the model calls'; agent-level totals only when no model
    call reports any (never both, which would count the same tokens twice)."""
    return [s for s in calls if _has_usage(s)] or [s for s in spans if _has_usage(s)]


def _models(spans: list[dict[str, Any]]) -> list[str]:
    return sorted({s["model"] for s in spans if s["model"] and s["operation"] in ("llm", None)})


def _usage(spans: list[dict[str, Any]], prices: Prices) -> dict[str, Any]:
    calls = [s for s in spans if s["operation"] == "llm"]
    counted = _counted(spans, calls)
    input_tokens = sum(s["input_tokens"] or 0 for s in counted)
    output_tokens = sum(s["output_tokens"] or 0 for s in counted)
    return {
        "llm_calls": len(calls), "tool_calls": sum(s["operation"] == "tool" for s in spans),
        "input_tokens": input_tokens, "output_tokens": output_tokens, "total_tokens": input_tokens + output_tokens,
        "models": _models(spans), "spans": len(spans),
        "failed_spans": sum(s["status_code"] == ERROR_CODE for s in spans), **_cost(counted, prices),
    }


def _custom_metrics(root: dict[str, Any]) -> dict[str, Any]:
    prefix = conv.METRICS_PREFIX
    return {name[len(prefix):]: value for name, value in (root["attributes"] or {}).items()
            if name.startswith(prefix) and len(name) > len(prefix)}


def _environment(root: dict[str, Any]) -> str:
    for name in conv.ENVIRONMENT:
        value = _attribute(root, name, resource_first=True)
        if value is not None and value.strip().lower() in ENVIRONMENT_ALIASES:
            return ENVIRONMENT_ALIASES[value.strip().lower()]
    return "production"


def _clip(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else None


def derive_run(trace_id: str, spans: list[dict[str, Any]], prices: Prices) -> dict[str, Any] | None:
    """The workflow-log fields of the run of one trace (spans as logs/tenant_sql/traces.py's
    `span_digests` returns them), or None while its root has not arrived."""
    root = _root(spans)
    if root is None:
        return None
    status = _status(root)
    message = kind = node = None
    if status in ("FAILED", "ERROR"):
        message, kind, node = _error(root, spans)
    metrics = {**_custom_metrics(root), **_usage(spans, prices)}
    return {
        "event_id": event_id(trace_id),
        "environment": _environment(root),
        "workflow_version": _clip(_attribute(root, conv.VERSION, resource_first=True), 100),
        "ticket_id": _clip(_attribute(root, conv.TICKET_ID), 255) or trace_id,
        "executed_at": EPOCH + dt.timedelta(microseconds=root["start_ns"] // 1000),
        "execution_time_seconds": (root["end_ns"] - root["start_ns"]) / 1e9,
        "status": status,
        "category": _clip(_attribute(root, conv.CATEGORY), 255),
        "resolution_status": _clip(_attribute(root, conv.RESOLUTION), 100),
        "customer_type": _clip(_attribute(root, conv.CUSTOMER_TYPE), 100),
        "workflow_error": message, "workflow_error_type": kind, "workflow_error_node": node,
        "metrics": metrics,
        "payload": {"otel": {"trace_id": trace_id, "root_span_id": root["span_id"], "root_name": root["name"],
                             "service_name": _attribute(root, conv.SERVICE, resource_first=True),
                             "scope": root["scope"]}},
        "metadata": {"otel": {"resource": root["resource"] or {}}},
    }
