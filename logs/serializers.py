"""The documented shapes of one log (drf-spectacular components LogSummary and LogDetail);
the API builds its answers with plain functions on the hot paths, these describe them."""
from __future__ import annotations

from rest_framework import serializers

from logs.models import DETAIL_FIELDS, SUMMARY_FIELDS, WorkflowLog


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
    scrubbed = serializers.DictField(
        child=serializers.IntegerField(), allow_null=True,
        help_text="How many values each scrubbing rule replaced before the log was stored, e.g. "
                  '{"email": 2, "key:password": 1} (never the values); {} when nothing was found, null when '
                  "the log was stored without scrubbing.")

    class Meta(LogSummarySerializer.Meta):
        fields = DETAIL_FIELDS
        ref_name = "LogDetail"
