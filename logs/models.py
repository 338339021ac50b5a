from __future__ import annotations

from typing import Any

from django.db import models

from logs.ids import uuid7
from tenants.models import Client


class Status(models.TextChoices):
    SUCCESS = "SUCCESS"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"
    ERROR = "ERROR"


class Environment(models.TextChoices):
    PRODUCTION = "production"
    STAGING = "staging"
    DEVELOPMENT = "development"
    TEST = "test"


# Plain constants (Django rebuilds TextChoices.values on every access).
STATUSES = ("SUCCESS", "PARTIAL", "FAILED", "ERROR")
STATUS_SET = frozenset(STATUSES)
ERROR_STATUSES = ("FAILED", "ERROR")
ENVIRONMENTS = tuple(Environment.values)
# What clients send for the environment, any letter case, and what we store.
ENVIRONMENT_ALIASES = {
    "production": "production", "prod": "production", "prd": "production", "live": "production",
    "staging": "staging", "stage": "staging", "stg": "staging",
    "development": "development", "dev": "development", "develop": "development", "local": "development",
    "test": "test", "testing": "test", "tst": "test", "ci": "test",
}

# The longest run a log may report: a workflow run over 30 days is not a run but a bug in the
# sender, and an unbounded double (1e306) overflowed the metrics' sums and histogram (issue 19).
# Enforced by ingestion (400 naming the field) and by a CHECK constraint (migration 0015).
MAX_EXECUTION_TIME_SECONDS = 30 * 24 * 3600

# A log's summary (the list's rows, the ingestion answer): everything but the heavy JSON
# (payload, metadata, extra); and the complete log.
SUMMARY_FIELDS = (
    "id", "event_id", "environment", "workflow_version", "ticket_id", "executed_at",
    "execution_time_seconds", "status", "category", "resolution_status", "customer_type",
    "workflow_error", "workflow_error_type", "workflow_error_node", "is_system_error", "metrics",
    "created_at",
)
DETAIL_FIELDS = (*SUMMARY_FIELDS, "payload", "metadata", "extra", "ticket_subject_hash", "requester_email_hash",
                 "scrubbed")


class WorkflowLogQuerySet(models.QuerySet["WorkflowLog"]):
    """ORM access to logs. Request paths read and write logs through logs/tenant_sql; the ORM
    serves the operator console, which looks across tenants on purpose, and tests."""

    def for_client(self, client: Client) -> WorkflowLogQuerySet:
        """The tenant scope."""
        return self.filter(client=client)

    def dangerously_all_tenants(self) -> WorkflowLogQuerySet:
        """Every tenant's logs: for the operator console only (named so a reviewer sees it)."""
        return self.all()


class WorkflowLog(models.Model):
    """One workflow run (one ticket handled by the AI), as the client reported it.

    Queryable fields are columns; the heavy, free-form parts are JSON (`metrics`, `payload`
    with the trace, `metadata`), and every top-level field we do not know is kept in `extra`
    so nothing a client sends is silently dropped.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # No single-column index: every composite index below leads with client_id and serves the
    # foreign key's lookups, so one more index would only cost each insert.
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="logs", db_index=False)
    # Client-chosen idempotency key (body `event_id` or `Idempotency-Key` header), unique per tenant
    # (through logs_event_ids).
    event_id = models.CharField(max_length=200, null=True, blank=True)

    environment = models.CharField(max_length=16, choices=Environment.choices)
    workflow_version = models.CharField(max_length=100, null=True, blank=True)
    ticket_id = models.CharField(max_length=255, null=True, blank=True)
    executed_at = models.DateTimeField()
    execution_time_seconds = models.FloatField(null=True, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices)
    category = models.CharField(max_length=255, null=True, blank=True)
    resolution_status = models.CharField(max_length=100, null=True, blank=True)
    customer_type = models.CharField(max_length=100, null=True, blank=True)

    workflow_error = models.TextField(null=True, blank=True)
    workflow_error_type = models.CharField(max_length=255, null=True, blank=True)
    workflow_error_node = models.CharField(max_length=255, null=True, blank=True)
    is_system_error = models.BooleanField(null=True, blank=True)

    ticket_subject_hash = models.CharField(max_length=255, null=True, blank=True)
    requester_email_hash = models.CharField(max_length=255, null=True, blank=True)

    metrics = models.JSONField(default=dict, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(null=True, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    # How many values each scrubbing rule replaced ({"email": 2, "key:password": 1}), never the
    # values; {} when nothing was found, null when the log was stored without scrubbing.
    scrubbed = models.JSONField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)

    objects = WorkflowLogQuerySet.as_manager()

    class Meta:
        db_table = "workflow_logs"
        ordering = ["-executed_at", "-id"]
        indexes = [
            # The default list (newest first), date ranges, and the metrics window.
            models.Index(fields=["client", "-executed_at", "-id"], name="wl_client_executed"),
            # status=FAILED,ERROR lists and status counts.
            models.Index(fields=["client", "status", "-executed_at"], name="wl_client_status"),
            # category filter and per-category metrics.
            models.Index(fields=["client", "category", "-executed_at"], name="wl_client_category"),
            # environment filter (dashboards usually look at production only).
            models.Index(fields=["client", "environment", "-executed_at"], name="wl_client_env"),
            # "what did the AI do on ticket 12345".
            models.Index(fields=["client", "ticket_id"], name="wl_client_ticket"),
            # Also wl_client_exec_time (client, execution_time_seconds DESC NULLS LAST, id DESC) for
            # "which tickets took longest", created in migration 0003 (CONCURRENTLY, in SQL).
            # Operator console (admin): all tenants newest first (its default ordering), the
            # date hierarchy's min/max, and status/date filters without a client.
            models.Index(fields=["-executed_at", "-id"], name="wl_executed"),
            # Operator console search by ticket id across tenants: exact and prefix (LIKE 'x%'),
            # which a plain btree cannot serve under a non-C collation.
            models.Index(fields=["ticket_id"], name="wl_ticket_pattern", opclasses=["varchar_pattern_ops"]),
        ]
        # Partitioned by range of executed_at (migration 0011, logs/partitions.py): the primary
        # key in the database is (id, executed_at). Idempotent retries are held by the unique
        # (client_id, event_id) of the table logs_event_ids, which the insert statement writes
        # (logs/tenant_sql/writes.py): a unique index of this table would have to include
        # executed_at, and a retry with another executed_at would slip through it.
        constraints = [
            models.CheckConstraint(
                condition=models.Q(execution_time_seconds__gte=0, execution_time_seconds__lte=MAX_EXECUTION_TIME_SECONDS),
                name="wl_execution_time_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id or '-'} {self.status} @ {self.executed_at:%Y-%m-%d %H:%M}"


class TraceQuerySet(models.QuerySet[Any]):
    """ORM access to a tenant's OpenTelemetry data (tests and the operator console); request
    paths read and write it through logs/tenant_sql/traces.py."""

    def for_client(self, client: Client) -> TraceQuerySet:
        """The tenant scope."""
        return self.filter(client=client)


class TraceSpan(models.Model):
    """One OpenTelemetry span of a tenant, as received on POST /v1/traces (otel/).

    Stored once per (client, trace_id, span_id): a re-exported span changes nothing, and the
    same trace id sent by two tenants is two traces. Times are the exporter's nanoseconds,
    exactly. Besides the span as sent, a few values are extracted once at ingestion so that the
    run of a trace is derived without parsing every span's attributes again: `root_rank`,
    `operation`, `model`, the token counts and the first exception (`error`).
    """

    pk = models.CompositePrimaryKey("client", "trace_id", "span_id")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    trace_id = models.CharField(max_length=32)  # lower-case hex, as in the OTLP JSON mapping
    span_id = models.CharField(max_length=16)
    parent_span_id = models.CharField(max_length=16, null=True, blank=True)
    name = models.TextField()
    kind = models.SmallIntegerField(default=0)  # SpanKind: 0 unspecified, 1 internal, 2 server ...
    start_ns = models.BigIntegerField()
    end_ns = models.BigIntegerField()
    status_code = models.SmallIntegerField(default=0)  # 0 unset, 1 ok, 2 error
    status_message = models.TextField(null=True, blank=True)
    # 0: marked as the run's root (attribute workflow.root); 1: top level (no parent, or a
    # remote one); NULL: neither.
    root_rank = models.SmallIntegerField(null=True, blank=True)
    operation = models.CharField(max_length=16, null=True, blank=True)  # llm, tool, agent
    model = models.CharField(max_length=255, null=True, blank=True)
    input_tokens = models.BigIntegerField(null=True, blank=True)
    output_tokens = models.BigIntegerField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)  # the first exception event: type, message, time_ns
    attributes = models.JSONField(default=dict)
    events = models.JSONField(default=list)
    links = models.JSONField(default=list)
    resource = models.JSONField(default=dict)
    scope = models.JSONField(default=dict)
    received_at = models.DateTimeField()

    objects = TraceQuerySet.as_manager()

    class Meta:
        db_table = "trace_spans"
        indexes = [
            # Retention: a tenant's spans older than its period, oldest first.
            models.Index(fields=["client", "start_ns"], name="ts_client_start"),
        ]


class TraceLogRecord(models.Model):
    """An OpenTelemetry log record attached to a tenant's trace (POST /v1/logs): shown with the
    trace's spans. `record_id` is a digest of the record's content, so a re-exported record is
    stored once."""

    pk = models.CompositePrimaryKey("client", "trace_id", "record_id")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    trace_id = models.CharField(max_length=32)
    record_id = models.CharField(max_length=32)
    span_id = models.CharField(max_length=16, null=True, blank=True)
    time_ns = models.BigIntegerField()
    severity_number = models.SmallIntegerField(default=0)
    severity_text = models.TextField(null=True, blank=True)
    event_name = models.TextField(null=True, blank=True)
    body = models.JSONField(null=True, blank=True)
    attributes = models.JSONField(default=dict)
    resource = models.JSONField(default=dict)
    scope = models.JSONField(default=dict)
    received_at = models.DateTimeField()

    objects = TraceQuerySet.as_manager()

    class Meta:
        db_table = "trace_log_records"
        indexes = [
            models.Index(fields=["client", "time_ns"], name="tlr_client_time"),
        ]
