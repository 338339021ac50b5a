"""`prepare()`: the one step between a decoded OTLP request and what is stored.

Everything either receiver stores passes through here, and nothing is stored that did not:
the span rows of `trace_spans`, the log records attached to traces (`trace_log_records`), and
the workflow logs that arrive as OTLP log records (validated by ingestion's own rules). Here
invalid items are set aside with their reason (OTLP's partial success), the values PostgreSQL
cannot store are made storable (U+0000 becomes U+FFFD), the GenAI facts of a span are extracted
once (otel/conventions.py), and the JSON columns are serialised.

The result is plain data (strings, numbers, dicts): it is what the spool keeps when PostgreSQL
is unavailable, and what the drain stores later, so both roads store the same thing.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from ingestion.services import log_prepare
from logs.models import ENVIRONMENT_ALIASES, STATUS_SET
from otel import conventions as conv
from scrubbing.services import scrub_records
from tenants.models import Client

MAX_PROBLEMS = 5  # reasons quoted in a partial success's message
WORKFLOW_LOG_KEYS = ("ticket_id", "executed_at")
# What scrubbing reads of a decoded span and of a log record attached to a trace (ids, times,
# kinds and numbers carry no secrets). Records that are workflow logs are scrubbed as logs, by
# ingestion's accept().
SPAN_TEXT = ("name", "status_message", "attributes", "events", "links", "resource")
RECORD_TEXT = ("severity_text", "event_name", "body", "attributes", "resource")


@dataclass
class Prepared:
    spans: list[dict[str, Any]] = field(default_factory=list)  # rows of trace_spans
    records: list[dict[str, Any]] = field(default_factory=list)  # rows of trace_log_records
    logs: list[dict[str, Any]] = field(default_factory=list)  # workflow-log fields (ingestion's)
    rejected: int = 0
    problems: list[str] = field(default_factory=list)

    def reject(self, what: str, reason: str) -> None:
        self.rejected += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{what}: {reason}")

    def message(self, noun: str) -> str:
        if not self.rejected:
            return ""
        return f"{self.rejected} {noun} rejected; " + "; ".join(self.problems) + (
            " ..." if self.rejected > len(self.problems) else "")


def _no_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_no_nul(k): _no_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nul(v) for v in value]
    return value


def json_text(value: Any) -> str:
    """JSON text PostgreSQL accepts (jsonb has no U+0000)."""
    text = orjson.dumps(value).decode()
    return orjson.dumps(_no_nul(value)).decode() if "\\u0000" in text else text


def _text(value: str | None, limit: int | None = None) -> str | None:
    if not value:
        return None
    value = value.replace("\x00", "\ufffd")
    return value[:limit] if limit else value


class _Shared:
    """Resource and scope dicts are shared by the spans of a scope: serialised once each."""

    def __init__(self) -> None:
        self.texts: dict[int, str] = {}
        self.keep: list[Any] = []  # the ids above stay valid while this lives

    def text(self, value: dict[str, Any]) -> str:
        key = id(value)
        found = self.texts.get(key)
        if found is None:
            found = self.texts[key] = json_text(value)
            self.keep.append(value)
        return found


def _span_row(span: dict[str, Any], shared: _Shared) -> dict[str, Any]:
    attributes = span["attributes"]
    error = conv.first_exception(span["events"])
    model = conv.first(attributes, conv.MODEL)
    return {
        "trace_id": span["trace_id"], "span_id": span["span_id"], "parent_span_id": span["parent_span_id"] or None,
        "name": _text(span["name"]) or "", "kind": span["kind"], "start_ns": span["start_ns"],
        "end_ns": span["end_ns"], "status_code": span["status_code"],
        "status_message": _text(span["status_message"]), "root_rank": conv.root_rank(span),
        "operation": conv.operation(attributes), "model": _text(str(model), 255) if model is not None else None,
        "input_tokens": conv.token_count(conv.first(attributes, conv.INPUT_TOKENS)),
        "output_tokens": conv.token_count(conv.first(attributes, conv.OUTPUT_TOKENS)),
        "error": json_text(error) if error else None,
        "attributes": json_text(attributes), "events": json_text(span["events"]), "links": json_text(span["links"]),
        "resource": shared.text(span["resource"]), "scope": shared.text(span["scope"]),
    }


def _record_row(record: dict[str, Any], shared: _Shared) -> dict[str, Any]:
    body = json_text(record["body"]) if record["body"] is not None else None
    attributes = json_text(record["attributes"])
    identity = orjson.dumps([record["trace_id"], record["span_id"], record["time_ns"], record["observed_ns"],
                             record["severity_number"], record["severity_text"], record["event_name"], body,
                             attributes])
    return {
        "trace_id": record["trace_id"], "record_id": hashlib.blake2b(identity, digest_size=16).hexdigest(),
        "span_id": record["span_id"] or None, "time_ns": record["time_ns"],
        "severity_number": record["severity_number"], "severity_text": _text(record["severity_text"]),
        "event_name": _text(record["event_name"]), "body": body, "attributes": attributes,
        "resource": shared.text(record["resource"]), "scope": shared.text(record["scope"]),
    }


def _as_workflow_log(body: Any) -> dict[str, Any] | None:
    """The record's body when it is a workflow log in our shape: an object (or its JSON text)
    with one of our statuses and a ticket id or an execution time."""
    if isinstance(body, str) and body.lstrip().startswith("{"):
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(body, dict):
        return None
    status = body.get("status")
    if not isinstance(status, str) or status.upper() not in STATUS_SET:
        return None
    return body if any(body.get(key) not in (None, "") for key in WORKFLOW_LOG_KEYS) else None


def _environment(record: dict[str, Any]) -> str | None:
    value = conv.first(record["attributes"], conv.ENVIRONMENT) or conv.first(record["resource"], conv.ENVIRONMENT)
    return str(value) if value is not None else None


def _workflow_log(record: dict[str, Any], body: dict[str, Any], prepared: Prepared, where: str) -> None:
    raw = dict(body)
    if raw.get("executed_at") in (None, "") and record["time_ns"]:
        raw["executed_at"] = dt.datetime.fromtimestamp(record["time_ns"] / 1e9, dt.timezone.utc).isoformat()
    if raw.get("environment") in (None, ""):
        environment = _environment(record)
        raw["environment"] = environment if environment and environment.lower() in ENVIRONMENT_ALIASES \
            else "production"
    if raw.get("event_id") in (None, ""):
        # A re-exported record is a duplicate, not a second log (OTLP clients retry).
        raw["event_id"] = "otel-log:" + hashlib.blake2b(orjson.dumps(
            [record["time_ns"], record["trace_id"], record["span_id"], body], option=orjson.OPT_SORT_KEYS),
            digest_size=16).hexdigest()
    fields, errors = log_prepare(_no_nul(raw))
    if fields is None:
        detail = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in sorted((errors or {}).items()))
        prepared.reject(where, f"a workflow log with invalid fields ({detail})")
        return
    fields["extra"]["_otel"] = _no_nul({
        "severity_number": record["severity_number"], "severity_text": record["severity_text"] or None,
        "attributes": record["attributes"], "resource": record["resource"], "scope": record["scope"],
        "trace_id": record["trace_id"] or None, "span_id": record["span_id"] or None})
    prepared.logs.append(fields)


def prepare(*, client: Client, spans: list[dict[str, Any]] | None = None,
            records: list[dict[str, Any]] | None = None) -> Prepared:
    """What to store of a decoded OTLP request (otel/decode.py), scrubbed, and what was rejected why."""
    prepared = Prepared()
    valid = []
    for index, span in enumerate(spans or ()):
        if span["invalid"]:
            prepared.reject(f"span {index}", span["invalid"])
        else:
            valid.append(span)
    attached = []
    for index, record in enumerate(records or ()):
        where = f"log record {index}"
        if record["invalid"]:
            prepared.reject(where, record["invalid"])
            continue
        body = _as_workflow_log(record["body"])
        if body is not None:
            _workflow_log(record, body, prepared, where)
        elif record["trace_id"]:
            attached.append(record)
        else:
            prepared.reject(where, "no trace id, and the body is not a workflow log")
    scrub_records(client, valid, SPAN_TEXT)
    scrub_records(client, attached, RECORD_TEXT)
    shared = _Shared()
    prepared.spans = [_span_row(span, shared) for span in valid]
    prepared.records = [_record_row(record, shared) for record in attached]
    return prepared
