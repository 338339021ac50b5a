"""Validation and normalisation of one incoming log.

A plain function rather than a DRF serializer: ingestion is the hot path (a batch of 100 logs
validates in well under a millisecond this way) and the rules are simple enough to read here.
`clean_log()` returns either the model field values or a dict of field errors, never raises.
"""
from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from functools import lru_cache
from typing import Any

from django.conf import settings

from logs.models import Environment, Status

STATUSES = frozenset(Status.values)
ENVIRONMENTS = tuple(Environment.values)
ENVIRONMENT_ALIASES = {
    "production": "production", "prod": "production", "prd": "production", "live": "production",
    "staging": "staging", "stage": "staging", "stg": "staging",
    "development": "development", "dev": "development", "develop": "development", "local": "development",
    "test": "test", "testing": "test", "tst": "test", "ci": "test",
}

# Top-level string fields with a column, and their maximum lengths.
STRING_FIELDS = {
    "workflow_version": 100,
    "category": 255,
    "resolution_status": 100,
    "customer_type": 100,
    "workflow_error_type": 255,
    "workflow_error_node": 255,
    "ticket_subject_hash": 255,
    "requester_email_hash": 255,
}
OBJECT_FIELDS = ("metrics", "payload", "metadata")
EVENT_ID_MAX = 200
TICKET_ID_MAX = 255
WORKFLOW_ERROR_MAX = 100_000
KNOWN_FIELDS = frozenset({
    "event_id", "environment", "executed_at", "status", "ticket_id", "execution_time_seconds",
    "workflow_error", "is_system_error", "trace", *STRING_FIELDS, *OBJECT_FIELDS,
})
# Fields that must never be stored as sent.
REDACTED_FIELDS = frozenset({"api_key", "apikey", "x-api-key", "authorization"})
MAX_SANITIZED_PATHS = 20


@lru_cache(maxsize=8)
def _zone(name: str) -> dt.tzinfo:
    return dt.timezone.utc if name.upper() == "UTC" else zoneinfo.ZoneInfo(name)


def parse_timestamp(value: Any) -> tuple[dt.datetime | None, str | None]:
    """ISO-8601 date or datetime; naive values are read in NAIVE_TIMESTAMP_TIMEZONE (UTC)."""
    if not isinstance(value, str):
        return None, "Must be an ISO-8601 timestamp string, e.g. 2025-01-01T12:00:00Z."
    if len(value) > 64:
        return None, "Timestamp is too long."
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None, f"Invalid ISO-8601 timestamp: {value!r}."
    if parsed.tzinfo is None:
        zone = _zone(settings.NAIVE_TIMESTAMP_TIMEZONE)
        if zone is dt.timezone.utc:  # the default: already UTC, nothing to convert
            return parsed.replace(tzinfo=zone), None
        parsed = parsed.replace(tzinfo=zone)
    try:
        return parsed.astimezone(dt.timezone.utc), None
    except (OverflowError, ValueError):
        return None, f"Timestamp {value!r} is out of range once converted to UTC."


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fail(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


_STRING_LIMITS = tuple(STRING_FIELDS.items())


def clean_log(raw: Any) -> tuple[dict[str, Any] | None, dict[str, list[str]] | None]:
    """Validate one log. Returns (model field values, None) or (None, {field: [messages]}).

    Written for the common well-formed log (it runs for every log of every batch): each field
    is read once, and canonical values (`production`, `SUCCESS`) are recognised by one lookup
    before any normalisation. Errors are reported per field, in a fixed order.
    """
    if not isinstance(raw, dict):
        return None, {"non_field_errors": ["Each log must be a JSON object."]}
    errors: dict[str, list[str]] = {}
    get = raw.get

    # environment (required, normalised; aliases and any case/whitespace accepted)
    env = get("environment")
    if env is None:
        _fail(errors, "environment", "This field is required.")
        environment = None
    else:
        environment = ENVIRONMENT_ALIASES.get(env) if isinstance(env, str) else None
        if environment is None and isinstance(env, str):
            environment = ENVIRONMENT_ALIASES.get(env.strip().lower())
        if environment is None:
            _fail(errors, "environment", f"Unknown environment {env!r}; allowed: {', '.join(ENVIRONMENTS)} "
                                         "(aliases: prod, stage, dev, testing, ...).")
    out: dict[str, Any] = {"environment": environment}

    # status (required, any case)
    status = get("status")
    if status is None:
        _fail(errors, "status", "This field is required.")
    elif isinstance(status, str) and status in STATUSES:
        out["status"] = status
    elif isinstance(status, str) and status.strip().upper() in STATUSES:
        out["status"] = status.strip().upper()
    else:
        _fail(errors, "status", f"Unknown status {status!r}; allowed: {', '.join(sorted(STATUSES))}.")

    # executed_at (required)
    executed_at = get("executed_at")
    if executed_at is None:
        _fail(errors, "executed_at", "This field is required.")
    else:
        when, problem = parse_timestamp(executed_at)
        if problem:
            _fail(errors, "executed_at", problem)
        else:
            out["executed_at"] = when

    # execution_time_seconds: a finite number >= 0
    ets = get("execution_time_seconds")
    if ets is not None:
        if not _number(ets) or not math.isfinite(float(ets)):
            _fail(errors, "execution_time_seconds", "Must be a finite number of seconds.")
        elif ets < 0:
            _fail(errors, "execution_time_seconds", "Must be greater than or equal to 0.")
        else:
            out["execution_time_seconds"] = float(ets)

    # ticket_id: string (integers are accepted and stored as text)
    ticket = get("ticket_id")
    if ticket is not None:
        if isinstance(ticket, int) and not isinstance(ticket, bool):
            ticket = str(ticket)
        if not isinstance(ticket, str):
            _fail(errors, "ticket_id", "Must be a string.")
        elif len(ticket) > TICKET_ID_MAX:
            _fail(errors, "ticket_id", f"Must be at most {TICKET_ID_MAX} characters.")
        else:
            out["ticket_id"] = ticket

    event_id = get("event_id")
    if event_id is not None:
        if not isinstance(event_id, str) or not event_id:
            _fail(errors, "event_id", "Must be a non-empty string.")
        elif len(event_id) > EVENT_ID_MAX:
            _fail(errors, "event_id", f"Must be at most {EVENT_ID_MAX} characters.")
        else:
            out["event_id"] = event_id

    for name, max_length in _STRING_LIMITS:
        value = get(name)
        if value is None:
            continue
        if isinstance(value, str) and len(value) <= max_length:
            out[name] = value
        elif not isinstance(value, str):
            _fail(errors, name, "Must be a string.")
        else:
            _fail(errors, name, f"Must be at most {max_length} characters.")

    werr = get("workflow_error")
    if werr is not None:
        if not isinstance(werr, str):
            _fail(errors, "workflow_error", "Must be a string.")
        elif len(werr) > WORKFLOW_ERROR_MAX:
            _fail(errors, "workflow_error", f"Must be at most {WORKFLOW_ERROR_MAX} characters.")
        else:
            out["workflow_error"] = werr

    sys_err = get("is_system_error")
    if sys_err is not None:
        if not isinstance(sys_err, bool):
            _fail(errors, "is_system_error", "Must be true or false.")
        else:
            out["is_system_error"] = sys_err

    metrics, payload, metadata = get("metrics"), get("payload"), get("metadata")
    if metrics is None or isinstance(metrics, dict):
        out["metrics"] = {} if metrics is None else metrics
    else:
        _fail(errors, "metrics", "Must be a JSON object.")
    if payload is None or isinstance(payload, dict):
        out["payload"] = {} if payload is None else payload
    else:
        _fail(errors, "payload", "Must be a JSON object.")
    if metadata is not None:
        if isinstance(metadata, dict):
            out["metadata"] = metadata
        else:
            _fail(errors, "metadata", "Must be a JSON object.")

    if errors:
        return None, errors

    extra = {key: value for key, value in raw.items() if key not in KNOWN_FIELDS}
    # Some clients send the trace at the top level; it belongs in payload.trace.
    if "trace" in raw:
        if "trace" in out["payload"]:
            extra["trace"] = raw["trace"]
        else:
            out["payload"] = {**out["payload"], "trace": raw["trace"]}
    for key in [k for k in extra if k.lower() in REDACTED_FIELDS]:
        extra[key] = "[redacted]"
    out["extra"] = extra
    return out, None


def replace_nul(value: Any, path: str = "", found: list[str] | None = None) -> tuple[Any, list[str]]:
    """Replace U+0000 (which PostgreSQL cannot store in text or JSONB) by U+FFFD, in keys and
    values, and report where it was found. Called only when the raw body contains `\\u0000`."""
    found = [] if found is None else found
    if isinstance(value, str):
        if "\x00" in value:
            if len(found) < MAX_SANITIZED_PATHS:
                found.append(path or "$")
            return value.replace("\x00", "\ufffd"), found
        return value, found
    if isinstance(value, dict):
        clean = {}
        for key, item in value.items():
            if "\x00" in key:
                key = key.replace("\x00", "\ufffd")
                if len(found) < MAX_SANITIZED_PATHS:
                    found.append(f"{path}.{key}" if path else key)
            clean[key], _ = replace_nul(item, f"{path}.{key}" if path else key, found)
        return clean, found
    if isinstance(value, list):
        return [replace_nul(item, f"{path}[{i}]", found)[0] for i, item in enumerate(value)], found
    return value, found
