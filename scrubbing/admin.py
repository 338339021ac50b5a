"""Operators edit a tenant's scrubbing settings here, through the same validation and service as
the API (scrubbing/tenant_settings.py), and see where `scrub_logs` runs got to."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from scrubbing.models import EmailMode, ScrubbingSettings, ScrubRun
from scrubbing.rules import KEY_RULES, VALUE_RULES
from scrubbing.tenant_settings import scrubbing_settings_update
from scrubbing.validation import SettingsInvalid, clean_settings

RULE_CHOICES = [(rule.id, f"{rule.id}: {rule.description}") for rule in VALUE_RULES] + [
    (rule.id, f"{rule.id}: values of keys ending with {' / '.join(rule.words)}") for rule in KEY_RULES]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class ScrubbingSettingsForm(forms.ModelForm):
    disabled_rules = forms.MultipleChoiceField(choices=RULE_CHOICES, required=False,
                                               widget=forms.CheckboxSelectMultiple, help_text="Default rules turned off.")
    extra_keys = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                 help_text="One key name per line; their values are replaced whole.")
    custom_patterns = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                      help_text="One per line: name: pattern (RE2 syntax), e.g. order_ref: ORD-[0-9]{6}")
    allow_paths = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text="One path per line, left untouched, e.g. payload.trace.*.observation")
    email_mode = forms.ChoiceField(choices=EmailMode.choices)

    class Meta:
        model = ScrubbingSettings
        fields = ("client",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        row = self.instance
        if row.pk:
            self.fields["client"].disabled = True
            self.initial.update(
                disabled_rules=row.disabled_rules, extra_keys="\n".join(row.extra_keys),
                custom_patterns="\n".join(f"{item['name']}: {item['pattern']}" for item in row.custom_patterns),
                allow_paths="\n".join(row.allow_paths), email_mode=row.email_mode)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        try:
            clean_settings(self.settings_data(), current={})
        except SettingsInvalid as exc:
            for name, messages in exc.errors.items():
                field = name.split("[")[0]
                self.add_error(field if field in self.fields else None, f"{name}: {' '.join(messages)}")
        return cleaned

    def settings_data(self) -> dict[str, Any]:
        patterns = []
        for line in _lines(self.cleaned_data.get("custom_patterns") or ""):
            name, _, pattern = line.partition(":")
            patterns.append({"name": name.strip(), "pattern": pattern.strip()})
        return {"disabled_rules": self.cleaned_data.get("disabled_rules") or [],
                "extra_keys": _lines(self.cleaned_data.get("extra_keys") or ""), "custom_patterns": patterns,
                "allow_paths": _lines(self.cleaned_data.get("allow_paths") or ""),
                "email_mode": self.cleaned_data.get("email_mode") or EmailMode.REDACT}


@admin.register(ScrubbingSettings)
class ScrubbingSettingsAdmin(admin.ModelAdmin):
    form = ScrubbingSettingsForm
    list_display = ("client", "email_mode", "version", "updated_at", "updated_by")
    search_fields = ("client__slug",)
    readonly_fields = ("version", "updated_at", "updated_by")

    def save_model(self, request: HttpRequest, obj: ScrubbingSettings, form: Any, change: bool) -> None:
        client = obj.client
        try:
            scrubbing_settings_update(client=client, data=form.settings_data(), partial=False,
                                      actor=f"staff {request.user.get_username()}")
        except SettingsInvalid as exc:  # validated by the form already; only a concurrent change lands here
            raise forms.ValidationError(str(exc.errors)) from None
        fresh = ScrubbingSettings.objects.for_client(client).get()
        obj.pk, obj.version = fresh.pk, fresh.version


@admin.register(ScrubRun)
class ScrubRunAdmin(admin.ModelAdmin):
    list_display = ("client", "since", "scanned", "changed", "replaced", "started_at", "updated_at", "finished_at")
    list_filter = ("client",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
