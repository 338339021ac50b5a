"""Alert rules and events in the operator console.

Operators see every tenant's rules (state, last value, channels without their secrets) and may
snooze one (a noisy rule paging someone at night) or delete it; everything else about a rule is
the tenant's to change, through the API or the dashboard, where it is validated (channel
addresses included). Events and their deliveries are read-only.
"""
from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from alerts.models import AlertDelivery, AlertEvent, AlertRule
from alerts.notify import target_of
from alerts.services import rule_update


def _channels(channels: list[dict[str, Any]]) -> Any:
    return format_html_join(
        "", "<div>{}: {}{}</div>",
        ((c.get("type"), target_of(c), " (signed)" if c.get("secret") else "") for c in channels)) or "-"


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "client", "kind", "coloured_state", "last_value", "threshold", "window_minutes",
                    "last_evaluated_at", "snoozed_until")
    list_filter = ("state", "kind", "client")
    list_select_related = ("client",)
    search_fields = ("name", "client__slug")
    list_per_page = 50
    fields = ("client", "name", "kind", "threshold", "operator", "window_minutes", "min_runs", "statuses",
              "error_type", "error_node", "metric", "filters", "channel_list", "repeat_minutes", "snoozed_until",
              "state", "last_value", "last_evaluated_at", "state_changed_at", "last_notified_at", "created_at",
              "updated_at")
    readonly_fields = tuple(f for f in fields if f != "snoozed_until")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: AlertRule, form: Any, change: bool) -> None:
        rule_update(rule=obj, data={"snoozed_until": obj.snoozed_until})  # the API's road

    @admin.display(description="state", ordering="state")
    def coloured_state(self, rule: AlertRule) -> Any:
        colour = "#b91c1c" if rule.state == "firing" else "#15803d"
        return format_html('<b style="color:{}">{}</b>', colour, rule.state)

    @admin.display(description="channels")
    def channel_list(self, rule: AlertRule) -> Any:
        return _channels(rule.channels)


class DeliveryInline(admin.TabularInline):
    model = AlertDelivery
    fields = ("notification", "target", "status", "attempts", "last_status_code", "last_error", "next_attempt_at",
              "delivered_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="channel")
    def target(self, row: AlertDelivery) -> str:
        return f"{row.channel.get('type')}: {target_of(row.channel)}"


@admin.register(AlertEvent)
class AlertEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "client", "rule_name", "kind", "state", "value", "threshold", "delivery_status",
                    "delivery_attempts")
    list_filter = ("state", "delivery_status", "kind", "client")
    list_select_related = ("client",)
    search_fields = ("rule_name", "client__slug")
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False
    inlines = [DeliveryInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in AlertEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
