"""Helpers to build a valid Central Logger log dict.

Unlike :class:`central_logger_sdk.CentralLogger` (which never raises), the
builder validates its arguments and raises ``ValueError`` on a programming
error (unknown status, negative duration...), so mistakes surface in tests
instead of as rejected logs in production.
"""
from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timezone
from typing import Any, Dict, Mapping, Optional

__all__ = [
    "Status",
    "Environment",
    "hash_pii",
    "utc_now_iso",
    "to_iso",
    "new_event_id",
    "build_log",
    "LogBuilder",
    "TOP_LEVEL_FIELDS",
]


class Status:
    """Allowed values of the ``status`` field."""

    SUCCESS = "SUCCESS"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"
    ERROR = "ERROR"
    ALL = frozenset({SUCCESS, PARTIAL, FAILED, ERROR})


class Environment:
    """Allowed values of the ``environment`` field."""

    PRODUCTION = "production"
    STAGING = "staging"
    DEVELOPMENT = "development"
    TEST = "test"
    ALL = frozenset({PRODUCTION, STAGING, DEVELOPMENT, TEST})


#: Top-level fields of a log known to the collector (others are kept as-is).
TOP_LEVEL_FIELDS = frozenset(
    {
        "event_id",
        "environment",
        "executed_at",
        "ticket_id",
        "status",
        "execution_time_seconds",
        "category",
        "workflow_version",
        "resolution_status",
        "customer_type",
        "workflow_error",
        "workflow_error_type",
        "workflow_error_node",
        "is_system_error",
        "metrics",
        "payload",
        "metadata",
        "ticket_subject_hash",
        "requester_email_hash",
    }
)


def hash_pii(value: Optional[str], salt: str = "") -> Optional[str]:
    """Return the salted SHA-256 hex digest of a PII value (e-mail, subject...).

    The value is normalised first (``str(value).strip().lower()``), so
    ``" Bob@Example.COM "`` and ``"bob@example.com"`` hash the same. The digest
    is ``sha256((salt + normalised).encode("utf-8")).hexdigest()``. Use the
    same salt everywhere you want hashes to be comparable. ``None`` -> ``None``.
    """
    if value is None:
        return None
    normalised = str(value).strip().lower()
    return hashlib.sha256((salt + normalised).encode("utf-8")).hexdigest()


def to_iso(moment: datetime) -> str:
    """ISO-8601 with an explicit offset. Naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.isoformat(timespec="microseconds")


def utc_now_iso() -> str:
    """Current time in UTC, e.g. ``2025-01-31T12:00:00.123456+00:00``."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def new_event_id() -> str:
    """A fresh idempotency key (uuid4 hex)."""
    return uuid.uuid4().hex


def build_log(
    status: str,
    *,
    environment: Optional[str] = None,
    executed_at: Any = None,
    ticket_id: Optional[str] = None,
    execution_time_seconds: Optional[float] = None,
    category: Optional[str] = None,
    workflow_version: Optional[str] = None,
    resolution_status: Optional[str] = None,
    customer_type: Optional[str] = None,
    workflow_error: Optional[str] = None,
    workflow_error_type: Optional[str] = None,
    workflow_error_node: Optional[str] = None,
    is_system_error: Optional[bool] = None,
    metrics: Optional[Mapping[str, Any]] = None,
    trace: Optional[Mapping[str, Any]] = None,
    payload: Optional[Mapping[str, Any]] = None,
    metadata: Optional[Mapping[str, Any]] = None,
    requester_email: Optional[str] = None,
    ticket_subject: Optional[str] = None,
    pii_salt: str = "",
    event_id: Optional[str] = None,
    **extra: Any,
) -> Dict[str, Any]:
    """Build a log dict the collector accepts.

    * ``status`` must be one of :class:`Status`.
    * ``environment`` may be omitted: :class:`CentralLogger` fills in its own.
    * ``executed_at`` defaults to now (UTC); a ``datetime`` is converted to
      ISO-8601 with offset (naive = UTC); a string is passed through.
    * ``requester_email`` / ``ticket_subject`` are never included in clear:
      they are hashed with :func:`hash_pii` into ``requester_email_hash`` /
      ``ticket_subject_hash``.
    * ``trace`` is stored as ``payload["trace"]``.
    * ``None`` arguments are left out; ``extra`` keys are added as-is.
    """
    if status not in Status.ALL:
        raise ValueError(f"status must be one of {sorted(Status.ALL)}, got {status!r}")
    if environment is not None and environment not in Environment.ALL:
        raise ValueError(
            f"environment must be one of {sorted(Environment.ALL)}, got {environment!r}"
        )
    if execution_time_seconds is not None:
        execution_time_seconds = float(execution_time_seconds)
        if not execution_time_seconds >= 0:  # also rejects NaN
            raise ValueError("execution_time_seconds must be >= 0")
    if event_id is not None and (not isinstance(event_id, str) or len(event_id) > 200):
        raise ValueError("event_id must be a string of at most 200 characters")

    if executed_at is None:
        executed_at = utc_now_iso()
    elif isinstance(executed_at, datetime):
        executed_at = to_iso(executed_at)
    elif not isinstance(executed_at, str):
        raise ValueError("executed_at must be a datetime or an ISO-8601 string")

    log: Dict[str, Any] = {"status": status, "executed_at": executed_at}
    optional = {
        "event_id": event_id,
        "environment": environment,
        "ticket_id": ticket_id,
        "execution_time_seconds": execution_time_seconds,
        "category": category,
        "workflow_version": workflow_version,
        "resolution_status": resolution_status,
        "customer_type": customer_type,
        "workflow_error": workflow_error,
        "workflow_error_type": workflow_error_type,
        "workflow_error_node": workflow_error_node,
        "is_system_error": is_system_error,
        "metrics": dict(metrics) if metrics is not None else None,
        "metadata": dict(metadata) if metadata is not None else None,
        "requester_email_hash": hash_pii(requester_email, pii_salt),
        "ticket_subject_hash": hash_pii(ticket_subject, pii_salt),
    }
    for key, value in optional.items():
        if value is not None:
            log[key] = value
    if payload is not None or trace is not None:
        body = dict(payload) if payload is not None else {}
        if trace is not None:
            body["trace"] = dict(trace)
        log["payload"] = body
    for key, value in extra.items():
        if value is not None:
            log[key] = value
    return log


class LogBuilder:
    """Fluent builder, handy when a workflow fills a log step by step.

    >>> log = (LogBuilder(ticket_id="T-1", category="billing")
    ...        .metric("tokens", 1200).trace_step("classify", ok=True)
    ...        .requester_email("bob@example.com", salt="s")
    ...        .success(execution_time_seconds=1.5))
    """

    def __init__(self, *, pii_salt: str = "", **fields: Any) -> None:
        self._salt = pii_salt
        self._fields: Dict[str, Any] = dict(fields)
        self._metrics: Dict[str, Any] = dict(self._fields.pop("metrics", None) or {})
        self._metadata: Dict[str, Any] = dict(self._fields.pop("metadata", None) or {})
        self._trace: Dict[str, Any] = dict(self._fields.pop("trace", None) or {})

    def set(self, **fields: Any) -> "LogBuilder":
        self._fields.update(fields)
        return self

    def metric(self, name: str, value: Any) -> "LogBuilder":
        self._metrics[name] = value
        return self

    def meta(self, name: str, value: Any) -> "LogBuilder":
        self._metadata[name] = value
        return self

    def trace_step(self, node: str, **data: Any) -> "LogBuilder":
        self._trace.setdefault("steps", []).append({"node": node, **data})
        return self

    def requester_email(self, email: str, salt: Optional[str] = None) -> "LogBuilder":
        self._fields["requester_email_hash"] = hash_pii(email, self._salt if salt is None else salt)
        return self

    def ticket_subject(self, subject: str, salt: Optional[str] = None) -> "LogBuilder":
        self._fields["ticket_subject_hash"] = hash_pii(subject, self._salt if salt is None else salt)
        return self

    def error(self, exc: BaseException, *, node: Optional[str] = None, system: bool = False) -> "LogBuilder":
        self._fields["workflow_error"] = str(exc)
        self._fields["workflow_error_type"] = type(exc).__name__
        if node is not None:
            self._fields["workflow_error_node"] = node
        self._fields["is_system_error"] = system
        return self

    def build(self, status: str, **fields: Any) -> Dict[str, Any]:
        merged = {**self._fields, **fields}
        if self._metrics:
            merged["metrics"] = {**self._metrics, **(merged.get("metrics") or {})}
        if self._metadata:
            merged["metadata"] = {**self._metadata, **(merged.get("metadata") or {})}
        if self._trace:
            merged["trace"] = {**self._trace, **(merged.get("trace") or {})}
        merged.setdefault("pii_salt", self._salt)
        return build_log(status, **merged)

    def success(self, **fields: Any) -> Dict[str, Any]:
        return self.build(Status.SUCCESS, **fields)

    def partial(self, **fields: Any) -> Dict[str, Any]:
        return self.build(Status.PARTIAL, **fields)

    def failed(self, **fields: Any) -> Dict[str, Any]:
        return self.build(Status.FAILED, **fields)

    def errored(self, **fields: Any) -> Dict[str, Any]:
        return self.build(Status.ERROR, **fields)
