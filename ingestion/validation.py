"""Validation and normalisation of one incoming log.

Plain functions rather than a DRF serializer: ingestion is the hot path (a batch of 100 logs
validates in well under a millisecond this way). `clean_log()` returns either the model field
values or a dict of field errors, never raises. Each field has one small checker; the table
`_CHECKS` lists them in the order errors are reported.
"""
from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import msgspec
import orjson
from django.conf import settings

from logs.models import ENVIRONMENT_ALIASES, ENVIRONMENTS, MAX_EXECUTION_TIME_SECONDS, STATUS_SET, STATUSES
from logs.rawjson import RawJson, object_text

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
MAX_SANITIZED_PATHS = 20
REQUIRED = "This field is required."


class Invalid(Exception):
    """One field's value is refused; the message says why."""


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


# --- one checker per field: the stored value, or Invalid -------------------------------------------
# Canonical values (`production`, `SUCCESS`) are recognised by one lookup before any
# normalisation: the common well-formed log pays for nothing else.

def _environment(value: Any) -> str:
    environment = ENVIRONMENT_ALIASES.get(value) if isinstance(value, str) else None
    if environment is None and isinstance(value, str):
        environment = ENVIRONMENT_ALIASES.get(value.strip().lower())
    if environment is None:
        raise Invalid(f"Unknown environment {value!r}; allowed: {', '.join(ENVIRONMENTS)} "
                      "(aliases: prod, stage, dev, testing, ...).")
    return environment


def _status(value: Any) -> str:
    if isinstance(value, str) and value in STATUS_SET:
        return value
    if isinstance(value, str) and value.strip().upper() in STATUS_SET:
        return value.strip().upper()
    raise Invalid(f"Unknown status {value!r}; allowed: {', '.join(sorted(STATUSES))}.")


def _executed_at(value: Any) -> dt.datetime:
    when, problem = parse_timestamp(value)
    if problem:
        raise Invalid(problem)
    assert when is not None
    return when


def _seconds(value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(float(value)):
        raise Invalid("Must be a finite number of seconds.")
    if value < 0:
        raise Invalid("Must be greater than or equal to 0.")
    if value > MAX_EXECUTION_TIME_SECONDS:
        raise Invalid(f"Must be at most {MAX_EXECUTION_TIME_SECONDS} seconds (30 days).")
    return float(value)


def _ticket_id(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):  # integers are stored as text
        value = str(value)
    if not isinstance(value, str):
        raise Invalid("Must be a string.")
    if len(value) > TICKET_ID_MAX:
        raise Invalid(f"Must be at most {TICKET_ID_MAX} characters.")
    return value


def _event_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid("Must be a non-empty string.")
    if len(value) > EVENT_ID_MAX:
        raise Invalid(f"Must be at most {EVENT_ID_MAX} characters.")
    return value


def _text(max_length: int) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise Invalid("Must be a string.")
        if len(value) > max_length:
            raise Invalid(f"Must be at most {max_length} characters.")
        return value
    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("Must be true or false.")
    return value


def _json_object(value: Any) -> dict[str, Any] | RawJson:
    if isinstance(value, RawJson):  # the parser checked its syntax: an object starts with {
        if not value.startswith(b"{"):
            raise Invalid("Must be a JSON object.")
        return value
    if not isinstance(value, dict):
        raise Invalid("Must be a JSON object.")
    return value


# (field, checker, required, value stored when the field is absent or null; _ABSENT: none)
_ABSENT = object()
_CHECKS: tuple[tuple[str, Callable[[Any], Any], bool, Any], ...] = (
    ("environment", _environment, True, _ABSENT),
    ("status", _status, True, _ABSENT),
    ("executed_at", _executed_at, True, _ABSENT),
    ("execution_time_seconds", _seconds, False, _ABSENT),
    ("ticket_id", _ticket_id, False, _ABSENT),
    ("event_id", _event_id, False, _ABSENT),
    *((name, _text(limit), False, _ABSENT) for name, limit in STRING_FIELDS.items()),
    ("workflow_error", _text(WORKFLOW_ERROR_MAX), False, _ABSENT),
    ("is_system_error", _boolean, False, _ABSENT),
    ("metrics", _json_object, False, {}),
    ("payload", _json_object, False, {}),
    ("metadata", _json_object, False, _ABSENT),
)


def clean_log(raw: Any, *, raw_extra: list[tuple[str, bytes]] | None = None
              ) -> tuple[dict[str, Any] | None, dict[str, list[str]] | None]:
    """Validate one log. Returns (model field values, None) or (None, {field: [messages]}).
    `raw_extra`: the fields without a column as (name, JSON text), when `raw` holds only the
    known fields (clean_raw_log)."""
    if not isinstance(raw, dict):
        return None, {"non_field_errors": ["Each log must be a JSON object."]}
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    get = raw.get
    for name, check, required, default in _CHECKS:
        value = get(name)
        if value is None:
            if required:
                errors[name] = [REQUIRED]
            elif default is not _ABSENT:
                out[name] = {}  # a fresh object per log: the only default is {}
            continue
        try:
            out[name] = check(value)
        except Invalid as exc:
            errors[name] = [str(exc)]
    if errors:
        return None, errors
    if raw_extra is None:
        out["extra"] = _extra(raw, out)
    else:
        out["extra"] = object_text(raw_extra) if raw_extra else {}
    return out, None


# JSON columns kept as text by clean_raw_log (extra too: the fields without a column).
_RAW_COLUMNS = frozenset(OBJECT_FIELDS)
_decode_scalar = msgspec.json.decode


def clean_raw_log(raw: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, list[str]] | None]:
    """`clean_log` for a log whose values are still JSON text (msgspec.Raw, from
    body.read_batch_body): the fields with a column are decoded and checked, the JSON objects
    (payload, metrics, metadata, the unknown fields that make up `extra`) stay text, as
    RawJson, for PostgreSQL to parse (scrubbing/engine.py decodes one only when it must look
    inside). A top-level `trace`, which moves into the payload, takes the decoding road."""
    if "trace" in raw:
        try:
            return clean_log({key: orjson.loads(value) for key, value in raw.items()})
        except orjson.JSONDecodeError as exc:
            return None, {"non_field_errors": [f"Invalid JSON: {exc}"]}
    known: dict[str, Any] = {}
    extra: list[tuple[str, bytes]] = []
    for key, value in raw.items():
        if key in _RAW_COLUMNS:
            text = RawJson(value)
            known[key] = None if text == b"null" else text
        elif key in KNOWN_FIELDS:
            try:
                known[key] = _decode_scalar(value)
            except msgspec.DecodeError as exc:  # e.g. a number beyond a double's range
                return None, {key: [f"Invalid value: {exc}"]}
        else:
            extra.append((key, bytes(value)))
    return clean_log(known, raw_extra=extra)


def _extra(raw: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """Every top-level field without a column, kept verbatim (secrets are scrubbed later, with
    the rest of the log: scrubbing/); a top-level `trace`, which some clients send, moves into
    payload.trace."""
    extra = {key: value for key, value in raw.items() if key not in KNOWN_FIELDS}
    if "trace" in raw:
        if "trace" in out["payload"]:
            extra["trace"] = raw["trace"]
        else:
            out["payload"] = {**out["payload"], "trace": raw["trace"]}
    return extra


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
