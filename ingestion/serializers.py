"""Documentation of ingestion's requests and answers (the OpenAPI schema). Ingestion validates
with ingestion/validation.py and answers from ingestion/services.py; these describe both."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ingestion.validation import EVENT_ID_MAX, STRING_FIELDS, TICKET_ID_MAX, WORKFLOW_ERROR_MAX
from logs.models import ENVIRONMENT_ALIASES, MAX_EXECUTION_TIME_SECONDS, STATUSES
from logs.serializers import LogSummarySerializer


class IngestedLogSerializer(LogSummarySerializer):
    duplicate = serializers.BooleanField(help_text="True when this event_id/Idempotency-Key was already stored.")
    spooled = serializers.BooleanField(help_text="True when the database was unavailable and the log is in the "
                                                 "durable local spool; it reaches the database later, with this id.")

    class Meta(LogSummarySerializer.Meta):
        fields = (*LogSummarySerializer.Meta.fields, "duplicate", "spooled")
        ref_name = "IngestedLog"


def _optional_text(max_length: int, **kwargs: Any) -> serializers.CharField:
    # Empty strings are accepted (allow_blank); null means "not sent".
    return serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=max_length,
                                 trim_whitespace=False, **kwargs)


@extend_schema_field({"oneOf": [{"type": "string", "maxLength": TICKET_ID_MAX}, {"type": "integer"}],
                     "nullable": True, "description": "A string, or an integer (stored as text)."})
class TicketIdField(serializers.JSONField):
    """ticket_id as sent: a string, or an integer that is stored as its decimal text."""


class LogInSerializer(serializers.Serializer):
    """Documents LogIn: one log as a workflow sends it (validated field by field, every error reported).
    Any other top-level field is accepted and kept verbatim in `extra`."""

    environment = serializers.ChoiceField(
        choices=sorted(ENVIRONMENT_ALIASES),
        help_text="production, staging, development or test, or an alias (prod, stage, dev, ...); any letter case.")
    executed_at = serializers.DateTimeField(
        help_text="When the run happened: ISO-8601 date or datetime; without an offset it is UTC.")
    status = serializers.ChoiceField(choices=sorted(STATUSES), help_text="Any letter case; stored upper-case.")
    ticket_id = TicketIdField(required=False, allow_null=True)
    execution_time_seconds = serializers.FloatField(
        required=False, allow_null=True, min_value=0, max_value=MAX_EXECUTION_TIME_SECONDS,
        help_text="Seconds the run took: 0 to 2592000 (30 days).")
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


