"""Output shapes of logs. Plain functions on the hot paths; DRF serializers document them."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from logs.models import WorkflowLog
from logs.validation import (
    ENVIRONMENT_ALIASES,
    EVENT_ID_MAX,
    STATUSES,
    STRING_FIELDS,
    TICKET_ID_MAX,
    WORKFLOW_ERROR_MAX,
)

# The list representation: everything but the heavy JSON (payload, metadata, extra).
# The list reads exactly these columns with `.values()` (no model instances on the hot path).
SUMMARY_FIELDS = (
    "id", "event_id", "environment", "workflow_version", "ticket_id", "executed_at",
    "execution_time_seconds", "status", "category", "resolution_status", "customer_type",
    "workflow_error", "workflow_error_type", "workflow_error_node", "is_system_error", "metrics",
    "created_at",
)
DETAIL_FIELDS = (*SUMMARY_FIELDS, "payload", "metadata", "extra", "ticket_subject_hash", "requester_email_hash")


def log_summary(row: Mapping[str, Any]) -> dict[str, Any]:
    """The summary of one log from its stored values (a `.values()` row or the ingested fields)."""
    out = {name: row.get(name) for name in SUMMARY_FIELDS}
    out["id"] = str(row["id"])
    return out


def log_detail(values: dict[str, Any]) -> dict[str, Any]:
    """The complete log (summary + trace/payload, metadata, extra and the hashes) from its
    DETAIL_FIELDS values."""
    return {**values, "id": str(values["id"])}


class LogSummarySerializer(serializers.ModelSerializer):
    """Documents LogSummary (the list rows)."""

    metrics = serializers.DictField(help_text="The client's metrics object, e.g. overall_confidence, needs_more_info.")

    class Meta:
        model = WorkflowLog
        fields = SUMMARY_FIELDS
        ref_name = "LogSummary"


class LogDetailSerializer(LogSummarySerializer):
    """Documents LogDetail (one complete log)."""

    payload = serializers.DictField(help_text="The full payload; the agent's trace is `payload.trace`.")
    metadata = serializers.DictField(allow_null=True)
    extra = serializers.DictField(help_text="Every top-level field the client sent that has no column.")

    class Meta(LogSummarySerializer.Meta):
        fields = DETAIL_FIELDS
        ref_name = "LogDetail"


class IngestedLogSerializer(LogSummarySerializer):
    duplicate = serializers.BooleanField(help_text="True when this event_id/Idempotency-Key was already stored.")
    spooled = serializers.BooleanField(help_text="True when the database was unavailable and the log is in the "
                                                 "durable local spool; it reaches the database later, with this id.")

    class Meta(LogSummarySerializer.Meta):
        fields = (*SUMMARY_FIELDS, "duplicate", "spooled")
        ref_name = "IngestedLog"


# --- request documentation (ingestion validates with logs/validation.py; these describe it) ------

def _optional_text(max_length: int, **kwargs: Any) -> serializers.CharField:
    # Empty strings are accepted (allow_blank); null means "not sent".
    return serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=max_length,
                                 trim_whitespace=False, **kwargs)


@extend_schema_field({"oneOf": [{"type": "string", "maxLength": TICKET_ID_MAX}, {"type": "integer"}],
                     "nullable": True, "description": "A string, or an integer (stored as text)."})
class TicketIdField(serializers.JSONField):
    """ticket_id as sent: a string, or an integer that is stored as its decimal text."""


class LogInSerializer(serializers.Serializer):
    """Documents LogIn: one log as a workflow sends it (validated by `logs.validation.clean_log`).
    Any other top-level field is accepted and kept verbatim in `extra`."""

    environment = serializers.ChoiceField(
        choices=sorted(ENVIRONMENT_ALIASES),
        help_text="production, staging, development or test, or an alias (prod, stage, dev, ...); any letter case.")
    executed_at = serializers.DateTimeField(
        help_text="When the run happened: ISO-8601 date or datetime; without an offset it is UTC.")
    status = serializers.ChoiceField(choices=sorted(STATUSES), help_text="Any letter case; stored upper-case.")
    ticket_id = TicketIdField(required=False, allow_null=True)
    execution_time_seconds = serializers.FloatField(required=False, allow_null=True, min_value=0)
    event_id = serializers.CharField(required=False, allow_null=True, allow_blank=False, min_length=1,
                                     max_length=EVENT_ID_MAX, trim_whitespace=False,
                                     help_text="Idempotency key (see Idempotency-Key).")
    workflow_version = _optional_text(STRING_FIELDS["workflow_version"])
    category = _optional_text(STRING_FIELDS["category"])
    resolution_status = _optional_text(STRING_FIELDS["resolution_status"])
    customer_type = _optional_text(STRING_FIELDS["customer_type"])
    workflow_error = _optional_text(WORKFLOW_ERROR_MAX, help_text="The error message, if the run failed.")
    workflow_error_type = _optional_text(STRING_FIELDS["workflow_error_type"])
    workflow_error_node = _optional_text(STRING_FIELDS["workflow_error_node"])
    is_system_error = serializers.BooleanField(required=False, allow_null=True)
    ticket_subject_hash = _optional_text(STRING_FIELDS["ticket_subject_hash"])
    requester_email_hash = _optional_text(STRING_FIELDS["requester_email_hash"])
    metrics = serializers.DictField(required=False, allow_null=True)
    payload = serializers.DictField(required=False, allow_null=True, help_text="The agent's trace is payload.trace.")
    metadata = serializers.DictField(required=False, allow_null=True)
    trace = serializers.JSONField(required=False, help_text="A top-level trace is stored as payload.trace.")

    class Meta:
        ref_name = "LogIn"


class ConnectivityCheckInSerializer(serializers.Serializer):
    """The real client's connectivity check: `test: true` with at most these fields; stores nothing."""

    test = serializers.BooleanField(help_text="Must be true.")
    client_id = serializers.JSONField(required=False, help_text="Ignored: the tenant comes from the key.")
    environment = serializers.JSONField(required=False)
    workflow_version = serializers.JSONField(required=False)

    class Meta:
        ref_name = "ConnectivityCheckIn"


class LogBatchInSerializer(serializers.Serializer):
    logs = serializers.ListField(
        child=LogInSerializer(), min_length=1, max_length=settings.MAX_BATCH_SIZE,
        help_text="1 to MAX_BATCH_SIZE logs. Every log is judged on its own: invalid ones are reported per "
                  "index (207 Multi-Status) and the valid ones stored; if none is valid, 400.")

    class Meta:
        ref_name = "LogBatchIn"


class BatchItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "duplicate", "invalid"])
    id = serializers.UUIDField(required=False)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class BatchResultSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.UUIDField(allow_null=True),
                                help_text="One entry per submitted log, in request order; null for invalid logs.")
    count = serializers.IntegerField(help_text="Logs accepted (created + duplicate).")
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    spooled = serializers.BooleanField(help_text="True when the logs went to the durable local spool (202).")
    results = BatchItemResultSerializer(many=True)


class ConnectivityCheckSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok"])
    test = serializers.BooleanField()

    class Meta:
        ref_name = "ConnectivityCheck"


# --- read API documentation (responses are built by selectors; these describe them) ------------

class PaginationSerializer(serializers.Serializer):
    page = serializers.IntegerField(allow_null=True, help_text="Null in cursor mode.")
    page_size = serializers.IntegerField()
    total = serializers.IntegerField(
        allow_null=True, help_text="Exact up to LIST_COUNT_EXACT_LIMIT, else an estimate; null in cursor mode.")
    pages = serializers.IntegerField(allow_null=True, help_text="ceil(total / page_size); null in cursor mode.")
    total_is_exact = serializers.BooleanField()
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Cursor mode: pass as `cursor` for the next page; null at the end (and in page mode).")

    class Meta:
        ref_name = "Pagination"


class LogListSerializer(serializers.Serializer):
    data = LogSummarySerializer(many=True)
    pagination = PaginationSerializer()

    class Meta:
        ref_name = "LogList"


class StatusCountsSerializer(serializers.Serializer):
    SUCCESS = serializers.IntegerField()
    PARTIAL = serializers.IntegerField()
    FAILED = serializers.IntegerField()
    ERROR = serializers.IntegerField()

    class Meta:
        ref_name = "StatusCounts"


class PeriodFiguresSerializer(serializers.Serializer):
    total_tickets = serializers.IntegerField()
    success_rate = serializers.FloatField(help_text="Percent of SUCCESS, one decimal; 0 when empty.")
    avg_execution_time = serializers.FloatField(help_text="Seconds, 3 decimals; 0 when empty.")
    error_count = serializers.IntegerField(help_text="FAILED + ERROR.")
    status_counts = StatusCountsSerializer()
    p50_execution_time = serializers.FloatField()
    p95_execution_time = serializers.FloatField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField(help_text="Exclusive.")

    class Meta:
        ref_name = "PeriodFigures"


class OverviewSerializer(PeriodFiguresSerializer):
    period_days = serializers.IntegerField()
    previous = PeriodFiguresSerializer(help_text="The same figures for the period of the same length just before.")

    class Meta:
        ref_name = "MetricsOverview"


class _PeriodFieldsSerializer(serializers.Serializer):
    period_days = serializers.IntegerField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField(help_text="Exclusive.")


class CategoryRowSerializer(serializers.Serializer):
    category = serializers.CharField(allow_null=True)
    count = serializers.IntegerField()
    success_count = serializers.IntegerField()
    success_rate = serializers.FloatField()
    error_count = serializers.IntegerField()
    avg_execution_time = serializers.FloatField()

    class Meta:
        ref_name = "CategoryRow"


class CategoriesSerializer(_PeriodFieldsSerializer):
    data = CategoryRowSerializer(many=True)

    class Meta:
        ref_name = "MetricsCategories"


class TimeseriesRowSerializer(serializers.Serializer):
    bucket = serializers.DateTimeField(help_text="Start of the UTC hour or day.")
    count = serializers.IntegerField()
    success_count = serializers.IntegerField()
    success_rate = serializers.FloatField()
    error_count = serializers.IntegerField()
    avg_execution_time = serializers.FloatField()
    p95_execution_time = serializers.FloatField()

    class Meta:
        ref_name = "TimeseriesRow"


class TimeseriesSerializer(_PeriodFieldsSerializer):
    data = TimeseriesRowSerializer(many=True)
    interval = serializers.ChoiceField(choices=["hour", "day"])

    class Meta:
        ref_name = "MetricsTimeseries"


class ErrorGroupSerializer(serializers.Serializer):
    workflow_error_type = serializers.CharField(allow_null=True)
    workflow_error_node = serializers.CharField(allow_null=True)
    count = serializers.IntegerField()
    latest_log_id = serializers.UUIDField()
    latest_executed_at = serializers.DateTimeField()
    latest_message = serializers.CharField(allow_null=True, help_text="workflow_error of the latest log (first 1,000 characters).")

    class Meta:
        ref_name = "ErrorGroup"


class ErrorsSerializer(_PeriodFieldsSerializer):
    data = ErrorGroupSerializer(many=True)

    class Meta:
        ref_name = "MetricsErrors"


class VersionRowSerializer(serializers.Serializer):
    workflow_version = serializers.CharField(allow_null=True)
    count = serializers.IntegerField()
    success_rate = serializers.FloatField()
    error_count = serializers.IntegerField()
    avg_execution_time = serializers.FloatField()
    p95_execution_time = serializers.FloatField()
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()

    class Meta:
        ref_name = "VersionRow"


class VersionsSerializer(_PeriodFieldsSerializer):
    data = VersionRowSerializer(many=True)

    class Meta:
        ref_name = "MetricsVersions"
