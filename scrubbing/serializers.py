"""The documented shapes of GET/PUT/PATCH /api/v1/settings/scrubbing (the views build their
answers with scrubbing/tenant_settings.py; these describe them)."""
from __future__ import annotations

from rest_framework import serializers

from scrubbing.models import EmailMode


class CustomPatternSerializer(serializers.Serializer):
    name = serializers.RegexField(r"^[a-z][a-z0-9_]{0,39}$", help_text="Names the marker: [redacted:<name>].")
    pattern = serializers.CharField(max_length=1000, help_text="RE2 syntax (no backreferences or lookaround).")

    class Meta:
        ref_name = "ScrubbingCustomPattern"


class ScrubbingSettingsInSerializer(serializers.Serializer):
    """The settings a tenant changes (PUT: all of them, omitted ones back to their defaults;
    PATCH: only those given)."""

    disabled_rules = serializers.ListField(
        child=serializers.CharField(), required=False, max_length=40,
        help_text="Ids of default rules to turn off (see `rules`), e.g. phone or key:session.")
    extra_keys = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=100,
        help_text="More key names whose values are replaced whole, matched like the default ones.")
    custom_patterns = CustomPatternSerializer(many=True, required=False, help_text="At most 20.")
    allow_paths = serializers.ListField(
        child=serializers.CharField(max_length=300), required=False, max_length=100,
        help_text="Paths left untouched, e.g. ticket_subject_hash or payload.trace.*.observation.")
    email_mode = serializers.ChoiceField(choices=EmailMode.values, required=False,
                                         help_text="redact: [redacted:email]; hash: [email:<keyed hash>].")

    class Meta:
        ref_name = "ScrubbingSettingsIn"


class ScrubbingRuleSerializer(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.ChoiceField(choices=["value", "key"])
    description = serializers.CharField()
    example = serializers.CharField()
    enabled = serializers.BooleanField()

    class Meta:
        ref_name = "ScrubbingRule"


class ScrubbingSettingsSerializer(ScrubbingSettingsInSerializer):
    enabled = serializers.BooleanField(help_text="False only when the operator turned scrubbing off (SCRUBBING_ENABLED).")
    defaults_locked = serializers.BooleanField(help_text="True: default rules cannot be turned off on this server.")
    version = serializers.IntegerField(help_text="Grows with every change; 0: never changed (the defaults).")
    updated_at = serializers.DateTimeField(allow_null=True)
    updated_by = serializers.CharField()
    rules = ScrubbingRuleSerializer(many=True, help_text="Every default rule and whether it applies.")

    class Meta:
        ref_name = "ScrubbingSettings"
