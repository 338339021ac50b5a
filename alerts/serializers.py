"""The JSON of alert rules, events, previews and test results; the validation of a rule.

A rule is validated as a whole (a partial update is merged with the stored rule first), so a
400 always names the field at fault: `kind`, `threshold`, `window_minutes`, `metric`,
`channels` (per channel: `url`, `to`, `secret`), ...
"""
from __future__ import annotations

import math
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alerts import targets
from alerts.models import AlertRule, Kind, Operator
from logs.filters import METRIC_KEY_RE, METRIC_PREFIX
from logs.models import ENVIRONMENT_ALIASES, ENVIRONMENTS, ERROR_STATUSES, Status

MAX_WINDOW_MINUTES = 7 * 24 * 60
MAX_CHANNELS = 10
MIN_SECRET = 16
# The kinds compared with a threshold, and the ones that need enough runs to mean something.
THRESHOLD_KINDS = frozenset({Kind.ERROR_RATE, Kind.ERROR_COUNT, Kind.DURATION_P95, Kind.METRIC_AVG})
CHANNEL_TYPES = ("webhook", "slack", "email")


class FiltersSerializer(serializers.Serializer):
    environment = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=32,
                                        help_text=f"One of {', '.join(ENVIRONMENTS)} (or an alias: prod, stage, ...).")
    category = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    workflow_version = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    customer_type = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)

    class Meta:
        ref_name = "AlertFilters"

    def validate_environment(self, value: str | None) -> str | None:
        if not value:
            return None
        normalized = ENVIRONMENT_ALIASES.get(value.strip().lower())
        if normalized is None:
            raise serializers.ValidationError(f"Unknown environment {value!r}; allowed: {', '.join(ENVIRONMENTS)}.")
        return normalized

    def to_internal_value(self, data: Any) -> dict[str, str]:
        values = super().to_internal_value(data)
        return {name: value.strip() for name, value in values.items() if value and value.strip()}


class ChannelSerializer(serializers.Serializer):
    """`{"type": "webhook", "url", "secret"}`, `{"type": "slack", "url"}` or `{"type": "email", "to"}`.
    The secret is write-only: answers say `has_secret` instead."""

    type = serializers.ChoiceField(choices=CHANNEL_TYPES)
    url = serializers.CharField(required=False, max_length=targets.MAX_URL_LENGTH,
                                help_text="webhook, slack: an http(s) URL (not a private address).")
    to = serializers.EmailField(required=False, help_text="email: the address to write to.")
    secret = serializers.CharField(required=False, write_only=True, min_length=MIN_SECRET, max_length=200,
                                   help_text="webhook: the HMAC-SHA256 key of the signature. Write-only; "
                                             "omit it on an update to keep the channel's current secret.")
    has_secret = serializers.SerializerMethodField()

    class Meta:
        ref_name = "AlertChannel"

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_has_secret(self, channel: dict[str, Any]) -> bool:
        return bool(channel.get("secret"))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs["type"]
        if kind == "email":
            if not attrs.get("to"):
                raise serializers.ValidationError({"to": ["An email channel needs `to`."]})
            return {"type": kind, "to": attrs["to"]}
        if not attrs.get("url"):
            raise serializers.ValidationError({"url": [f"A {kind} channel needs `url`."]})
        try:
            targets.resolve(attrs["url"])
        except targets.TargetRefused as exc:
            raise serializers.ValidationError({"url": [str(exc)]}) from None
        channel = {"type": kind, "url": attrs["url"]}
        if kind == "webhook" and attrs.get("secret"):
            channel["secret"] = attrs["secret"]
        return channel


class LastEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    created_at = serializers.DateTimeField()
    delivery_status = serializers.CharField()

    class Meta:
        ref_name = "AlertLastEvent"


class AlertRuleSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Kind.choices)
    threshold = serializers.FloatField(required=False, allow_null=True,
                                       help_text="error_rate: percent; error_count: runs; duration_p95: seconds; "
                                                 "metric_avg: the metric's unit. Not used by no_data, new_error_type.")
    window_minutes = serializers.IntegerField(min_value=1, max_value=MAX_WINDOW_MINUTES)
    min_runs = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000,
                                        help_text="error_rate, duration_p95, metric_avg: fewer runs never fire (default 10).")
    statuses = serializers.ListField(child=serializers.ChoiceField(choices=Status.choices), required=False,
                                     allow_empty=False, max_length=4, help_text="error_count only.")
    error_type = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    error_node = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    metric = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=80,
                                   help_text="metric_avg: a key of the logs' `metrics` (`hallucination_risk` "
                                             "or `metrics.hallucination_risk`).")
    operator = serializers.ChoiceField(choices=Operator.choices, required=False,
                                       help_text="metric_avg: how the average compares with the threshold.")
    filters = FiltersSerializer(required=False)
    channels = ChannelSerializer(many=True, max_length=MAX_CHANNELS)
    repeat_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                              max_value=MAX_WINDOW_MINUTES)
    snoozed_until = serializers.DateTimeField(required=False, allow_null=True)
    state = serializers.CharField(read_only=True)
    last_value = serializers.FloatField(read_only=True, allow_null=True)
    last_evaluated_at = serializers.DateTimeField(read_only=True, allow_null=True)
    state_changed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_event = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    class Meta:
        ref_name = "AlertRule"

    @extend_schema_field(LastEventSerializer(allow_null=True))
    def get_last_event(self, rule: AlertRule) -> dict[str, Any] | None:
        event = getattr(rule, "last_event", None)
        return LastEventSerializer(event).data if event is not None else None

    def validate_threshold(self, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise serializers.ValidationError("Must be a finite number.")
        return value

    def validate_metric(self, value: str | None) -> str | None:
        if not value:
            return None
        key = value[len(METRIC_PREFIX):] if value.startswith(METRIC_PREFIX) else value
        if not METRIC_KEY_RE.match(key):
            raise serializers.ValidationError(
                "A metric key is 1-64 letters, digits or underscores, e.g. hallucination_risk.")
        return key

    def validate_channels(self, channels: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not channels:
            raise serializers.ValidationError("At least one channel.")
        previous = {c.get("url"): c.get("secret") for c in (self.instance.channels if self.instance else [])
                    if c.get("type") == "webhook"}
        errors: dict[str, Any] = {}  # by index, as DRF reports the channels' own errors
        for index, channel in enumerate(channels):
            if channel["type"] == "webhook" and not channel.get("secret"):
                if previous.get(channel["url"]):
                    channel["secret"] = previous[channel["url"]]  # an update that keeps the secret
                else:
                    errors[str(index)] = {"secret": [f"A webhook channel needs a secret of at least {MIN_SECRET} "
                                                     "characters (receivers verify the signature with it)."]}
        if errors:
            raise serializers.ValidationError(errors)
        return channels

    @staticmethod
    def _threshold_error(kind: str, threshold: float | None) -> str | None:
        if threshold is None:
            return f"A {kind} rule needs a threshold."
        if kind == Kind.ERROR_RATE and not 0 <= threshold <= 100:
            return "An error rate is a percentage, 0-100."
        if kind in (Kind.ERROR_COUNT, Kind.DURATION_P95) and threshold <= 0:
            return "Must be greater than 0."
        return None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        merged = {**self._stored(), **attrs}
        kind = merged.get("kind")
        errors: dict[str, list[str]] = {}
        if kind in THRESHOLD_KINDS:
            if (problem := self._threshold_error(kind, merged.get("threshold"))) is not None:
                errors["threshold"] = [problem]
        else:
            attrs["threshold"] = None
        if kind == Kind.METRIC_AVG and not merged.get("metric"):
            errors["metric"] = ["A metric_avg rule needs the metric's key, e.g. hallucination_risk."]
        if errors:
            raise serializers.ValidationError(errors)
        if kind != Kind.METRIC_AVG:
            attrs["operator"] = Operator.GTE
        if kind == Kind.ERROR_COUNT and not merged.get("statuses"):
            attrs["statuses"] = list(ERROR_STATUSES)
        for name in ("error_type", "error_node"):
            if name in attrs:
                attrs[name] = (attrs[name] or "").strip() or None
        return attrs

    def _stored(self) -> dict[str, Any]:
        rule = self.instance
        if rule is None:
            return {}
        return {name: getattr(rule, name) for name in ("kind", "threshold", "metric", "statuses", "operator")}


class PreviewSerializer(serializers.Serializer):
    fired = serializers.IntegerField(help_text="Times the rule would have started firing.")
    windows = serializers.IntegerField(help_text="Consecutive windows of the rule's length looked at.")
    firing_windows = serializers.IntegerField()
    last_value = serializers.FloatField(allow_null=True, help_text="The value over the latest window.")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()

    class Meta:
        ref_name = "AlertPreview"


class PreviewRequestSerializer(AlertRuleSerializer):
    """A rule as it is being written: channels and a name are not needed to preview it."""

    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    channels = serializers.ListField(child=serializers.DictField(), required=False, max_length=MAX_CHANNELS,
                                     help_text="Ignored: a preview sends nothing.")

    class Meta:
        ref_name = "AlertRuleDraft"

    def validate_channels(self, channels: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return []


class ChannelResultSerializer(serializers.Serializer):
    type = serializers.CharField()
    target = serializers.CharField()
    ok = serializers.BooleanField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_blank=True)

    class Meta:
        ref_name = "AlertChannelResult"


class TestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="Every channel took the test notification.")
    results = ChannelResultSerializer(many=True)

    class Meta:
        ref_name = "AlertTestResult"


class AlertEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rule = serializers.IntegerField(source="rule_id", allow_null=True, help_text="Null once the rule is deleted.")
    rule_name = serializers.CharField()
    kind = serializers.CharField()
    state = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    threshold = serializers.FloatField(allow_null=True)
    operator = serializers.CharField()
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    filters = serializers.DictField(child=serializers.CharField())
    examples = serializers.ListField(child=serializers.CharField())
    detail = serializers.DictField()
    url = serializers.CharField()
    created_at = serializers.DateTimeField()
    delivery_status = serializers.CharField()
    delivery_attempts = serializers.IntegerField()
    delivery_last_error = serializers.CharField(allow_blank=True)

    class Meta:
        ref_name = "AlertEvent"
