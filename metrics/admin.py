"""The metrics rollup in the operator console: per client, its rollup version, how many of its
logs wait to be folded in and since when (a growing backlog means no flusher runs), and how many
rollup rows it has. Read-only: the triggers and the flusher own these tables."""
from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, Min, OuterRef, QuerySet, Subquery
from django.http import HttpRequest

from metrics.models import PendingLog, RollupRow, RollupVersion


def _per_client(model: type, **aggregate: Any) -> Subquery:
    (name, expression), = aggregate.items()
    return Subquery(model.objects.filter(client_id=OuterRef("client_id")).order_by()
                    .values("client_id").annotate(**{name: expression}).values(name)[:1])


@admin.register(RollupVersion)
class RollupStateAdmin(admin.ModelAdmin):
    list_display = ("client", "version", "pending_logs", "oldest_pending", "rollup_rows")
    list_select_related = ("client",)
    search_fields = ("client__slug",)
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet[RollupVersion]:
        return super().get_queryset(request).annotate(
            pending=_per_client(PendingLog, pending=Count("*")),
            oldest=_per_client(PendingLog, oldest=Min("executed_at")),
            rows=_per_client(RollupRow, rows=Count("*")),
        ).order_by("client__slug")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="logs pending")
    def pending_logs(self, obj: RollupVersion) -> int:
        return obj.pending or 0  # type: ignore[attr-defined]

    @admin.display(description="oldest pending (executed_at)")
    def oldest_pending(self, obj: RollupVersion) -> Any:
        return obj.oldest or "-"  # type: ignore[attr-defined]

    @admin.display(description="rollup rows")
    def rollup_rows(self, obj: RollupVersion) -> int:
        return obj.rows or 0  # type: ignore[attr-defined]
