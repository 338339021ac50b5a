"""Output shapes of logs. Plain functions on the hot paths; DRF serializers document them."""
from __future__ import annotations

from typing import Any

from rest_framework import serializers

from logs.models import WorkflowLog

SUMMARY_FIELDS = (
    "id", "event_id", "environment", "workflow_version", "ticket_id", "executed_at",
    "execution_time_seconds", "status", "category", "resolution_status", "customer_type",
    "workflow_error", "workflow_error_type", "workflow_error_node", "is_system_error", "created_at",
)


def log_summary(row: WorkflowLog) -> dict[str, Any]:
    """The list representation: everything but the heavy JSON (metrics, payload, metadata, extra)."""
    out = {name: getattr(row, name) for name in SUMMARY_FIELDS}
    out["id"] = str(row.id)
    return out


class LogSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkflowLog
        fields = SUMMARY_FIELDS


class IngestedLogSerializer(LogSummarySerializer):
    duplicate = serializers.BooleanField(help_text="True when this event_id/Idempotency-Key was already stored.")

    class Meta(LogSummarySerializer.Meta):
        fields = (*SUMMARY_FIELDS, "duplicate")


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
    results = BatchItemResultSerializer(many=True)


class ConnectivityCheckSerializer(serializers.Serializer):
    status = serializers.CharField()
    test = serializers.BooleanField()
