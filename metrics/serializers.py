"""Documentation of the metrics endpoints' answers (built by metrics/selectors.py)."""
from __future__ import annotations

from rest_framework import serializers


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


class UsageFiguresSerializer(serializers.Serializer):
    runs = serializers.IntegerField(help_text="Runs that carry token usage (received over OpenTelemetry).")
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    cost = serializers.FloatField(allow_null=True, help_text="Sum of metrics.cost (the tenant's model prices); "
                                                             "null when no run of the period has a cost.")
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField(help_text="Exclusive.")

    class Meta:
        ref_name = "UsageFigures"


class UsageSerializer(UsageFiguresSerializer):
    period_days = serializers.IntegerField()
    previous = UsageFiguresSerializer(help_text="The same figures for the period of the same length just before.")

    class Meta:
        ref_name = "MetricsUsage"
