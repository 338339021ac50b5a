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
    p50_execution_time = serializers.FloatField()
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
    success_count = serializers.IntegerField()
    success_rate = serializers.FloatField()
    error_count = serializers.IntegerField()
    error_rate = serializers.FloatField(help_text="Percent of FAILED + ERROR, one decimal.")
    avg_execution_time = serializers.FloatField()
    p50_execution_time = serializers.FloatField()
    p95_execution_time = serializers.FloatField()
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()

    class Meta:
        ref_name = "VersionRow"


class VersionsSerializer(_PeriodFieldsSerializer):
    data = VersionRowSerializer(many=True)

    class Meta:
        ref_name = "MetricsVersions"


class IssueVersionSerializer(serializers.Serializer):
    workflow_version = serializers.CharField(allow_null=True)
    count = serializers.IntegerField()

    class Meta:
        ref_name = "IssueVersion"


class IssueExampleSerializer(serializers.Serializer):
    log_id = serializers.UUIDField()
    executed_at = serializers.DateTimeField()
    ticket_id = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    workflow_version = serializers.CharField(allow_null=True)
    message = serializers.CharField(allow_null=True, help_text="workflow_error (first 1,000 characters).")

    class Meta:
        ref_name = "IssueExample"


class IssueRowSerializer(serializers.Serializer):
    fingerprint = serializers.CharField(help_text="16 hex digits: error type × node × normalised message.")
    workflow_error_type = serializers.CharField(allow_null=True)
    workflow_error_node = serializers.CharField(allow_null=True)
    pattern = serializers.CharField(help_text="The normalised message: numbers, ids, quoted values, URLs and "
                                              "e-mail addresses masked as <n>, <q>, <url>, <email>.")
    count = serializers.IntegerField(help_text="Failing logs of the period matching the filters.")
    first_seen = serializers.DateTimeField(help_text="First failing log of this issue ever stored.")
    last_seen = serializers.DateTimeField(help_text="Last failing log of this issue ever stored.")
    first_version = serializers.CharField(allow_null=True, help_text="Workflow version of the first failing log.")
    new_in_version = serializers.CharField(
        allow_null=True, help_text="The version the issue is new in: first seen there, never on an older version, "
                                   "and that version is not the client's oldest. Else null.")
    versions = IssueVersionSerializer(many=True, help_text="Failing logs of the period per workflow version.")
    trend = serializers.ListField(child=serializers.IntegerField(),
                                  help_text="Failing logs per bucket, aligned with `buckets`.")
    latest = IssueExampleSerializer(allow_null=True, help_text="The latest failing log of the period.")

    class Meta:
        ref_name = "IssueRow"


class IssuesSerializer(_PeriodFieldsSerializer):
    data = IssueRowSerializer(many=True)
    total = serializers.IntegerField(help_text="Issues in the period (all pages).")
    failing_logs = serializers.IntegerField(help_text="Failing logs of those issues.")
    interval = serializers.ChoiceField(choices=["hour", "day"])
    buckets = serializers.ListField(child=serializers.DateTimeField(), help_text="Start of each trend bucket (UTC).")

    class Meta:
        ref_name = "MetricsIssues"


class IssueDetailSerializer(IssueRowSerializer):
    examples = IssueExampleSerializer(many=True, help_text="The newest 20 failing logs of the period.")
    interval = serializers.ChoiceField(choices=["hour", "day"])
    buckets = serializers.ListField(child=serializers.DateTimeField())
    period_days = serializers.IntegerField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField(help_text="Exclusive.")

    class Meta:
        ref_name = "MetricsIssue"


class VersionSideSerializer(VersionRowSerializer):
    first_seen = serializers.DateTimeField(allow_null=True)
    last_seen = serializers.DateTimeField(allow_null=True)
    sample_size = serializers.IntegerField(help_text="Newest logs of the version read for the metric means.")

    class Meta:
        ref_name = "VersionSide"


class VersionComparisonSerializer(serializers.Serializer):
    metric = serializers.CharField(help_text="success_rate, error_rate, execution_time_seconds or metrics.<key>.")
    label = serializers.CharField()
    kind = serializers.ChoiceField(choices=["rate", "mean"], help_text="rate: percent; mean: the metric's unit.")
    a = serializers.FloatField(allow_null=True)
    b = serializers.FloatField(allow_null=True)
    n_a = serializers.IntegerField()
    n_b = serializers.IntegerField()
    difference = serializers.FloatField(allow_null=True, help_text="b − a (percentage points for rates).")
    better = serializers.ChoiceField(choices=["a", "b"], allow_null=True,
                                     help_text="Which is better, where the metric's direction is known.")
    test = serializers.CharField(help_text="two-proportion z-test (rates) or Welch's t-test (means), two-sided.")
    statistic = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    significant = serializers.BooleanField(allow_null=True, help_text="p < alpha; null: too few runs to tell.")

    class Meta:
        ref_name = "VersionComparison"


class VersionCompareSerializer(_PeriodFieldsSerializer):
    a = VersionSideSerializer()
    b = VersionSideSerializer()
    comparisons = VersionComparisonSerializer(many=True)
    alpha = serializers.FloatField()
    sample_limit = serializers.IntegerField()

    class Meta:
        ref_name = "MetricsVersionCompare"


class UsageFigureSerializer(serializers.Serializer):
    runs_with = serializers.IntegerField(help_text="Runs carrying this metric as a number.")
    sum = serializers.FloatField()
    mean = serializers.FloatField(allow_null=True, help_text="Over the runs carrying it.")

    class Meta:
        ref_name = "UsageFigure"


class UsageRowSerializer(serializers.Serializer):
    group = serializers.CharField(allow_null=True, help_text="Bucket start (UTC), category or version.")
    runs = serializers.IntegerField()
    usage = serializers.DictField(child=UsageFigureSerializer(), help_text="Per usage key.")

    class Meta:
        ref_name = "UsageRow"


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
    # With `group` only:
    keys = serializers.ListField(child=serializers.CharField(), required=False,
                                 help_text="With `group`: the numeric metric keys naming tokens or cost found in "
                                           "the period (at most 10).")
    group = serializers.ChoiceField(choices=["day", "hour", "category", "workflow_version"], required=False)
    data = UsageRowSerializer(many=True, required=False,
                              help_text="With `group`: per group value, every bucket of the period in order for "
                                        "day and hour, else the values found, most runs first.")
    totals = serializers.DictField(child=serializers.FloatField(), required=False,
                                   help_text="With `group`: per key, its sum over the period.")

    class Meta:
        ref_name = "MetricsUsage"
