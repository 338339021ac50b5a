"""Operator console over every tenant's logs: read-only, searchable, fast at millions of rows."""
from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from console import admin_render
from console.admin_list import (
    CategoryFilter,
    ErrorTypeFilter,
    EstimatedCountPaginator,
    ExecutedAtRangeFilter,
    WorkflowVersionFilter,
)
from logs.models import WorkflowLog

# Shorter terms would match too much and cannot use the trigram index.
MIN_ERROR_SEARCH_LENGTH = 3


def log_search(queryset: QuerySet[WorkflowLog], term: str) -> QuerySet[WorkflowLog]:
    """The admin search box, kept index-friendly.

    * a UUID is an exact log id lookup (primary key), nothing else;
    * otherwise a ticket id prefix (`12345` finds 12345 and 123456; index `wl_ticket_pattern`)
      or, from 3 characters on, the error text (case-insensitive substring; on PostgreSQL served
      by the partial trigram index `wl_error_trgm` over failed runs only).
    """
    term = term.strip()
    if not term:
        return queryset
    try:
        return queryset.filter(pk=uuid.UUID(term))
    except ValueError:
        pass
    condition = Q(ticket_id__startswith=term)
    if len(term) >= MIN_ERROR_SEARCH_LENGTH:
        condition |= Q(workflow_error__icontains=term)
    return queryset.filter(condition)


class WorkflowLogChangeList(ChangeList):
    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet[WorkflowLog]:
        # The list shows none of the JSON columns, which hold most of a log's bytes (the trace
        # alone can be ~1 MiB): don't read (and de-TOAST) them for 50 rows per page.
        return super().get_queryset(request, exclude_parameters).defer(
            "metrics", "payload", "metadata", "extra", "workflow_error")


@admin.register(WorkflowLog)
class WorkflowLogAdmin(admin.ModelAdmin):
    list_display = ("executed_at", "client", "ticket_id", "status_badge", "category", "environment",
                    "execution_time", "workflow_version")
    list_display_links = ("executed_at", "ticket_id")
    list_filter = ("client", "status", "environment", CategoryFilter, WorkflowVersionFilter, ErrorTypeFilter,
                   ExecutedAtRangeFilter)
    list_select_related = ("client",)
    date_hierarchy = "executed_at"
    search_fields = ("ticket_id",)  # shows the box; the search itself is log_search()
    search_help_text = ("A log id (UUID) finds that log; anything else matches a ticket id prefix "
                        f"or, from {MIN_ERROR_SEARCH_LENGTH} characters, the error text.")
    # Only the indexed column is sortable: sorting millions of rows by category would not be.
    sortable_by = ("executed_at",)
    ordering = ("-executed_at", "-id")
    list_per_page = 50
    list_max_show_all = 200
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    preserve_filters = True

    fieldsets = (
        ("Run", {"fields": ("id", "client", "ticket_id", "status_badge", "environment", "executed_at",
                            "execution_time", "workflow_version", "category", "resolution_status",
                            "customer_type", "event_id", "created_at", "scrubbed_note")}),
        ("Error", {"fields": ("workflow_error_html", "workflow_error_type", "workflow_error_node", "is_system_error")}),
        ("ReAct iterations", {"fields": ("trace_steps",)}),
        ("JSON", {"fields": ("metrics_json", "payload_json", "trace_json", "metadata_json", "extra_json")}),
        ("Hashes", {"fields": ("ticket_subject_hash", "requester_email_hash"), "classes": ("collapse",)}),
    )
    readonly_fields = tuple(name for _, options in fieldsets for name in options["fields"])

    class Media:
        css = {"all": ("tenants/admin.css",)}

    # --- read-only: nobody adds or edits a log; only a superuser deletes -------------------------
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def get_queryset(self, request: HttpRequest) -> QuerySet[WorkflowLog]:
        # The operator console looks across tenants on purpose.
        queryset = WorkflowLog.objects.dangerously_all_tenants()
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return WorkflowLogChangeList

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[WorkflowLog],
                           search_term: str) -> tuple[QuerySet[WorkflowLog], bool]:
        return log_search(queryset, search_term), False

    # --- columns -------------------------------------------------------------------------------
    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: WorkflowLog) -> SafeString:
        return admin_render.status_badge(obj.status)

    @admin.display(description="execution time")
    def execution_time(self, obj: WorkflowLog) -> str:
        return "-" if obj.execution_time_seconds is None else f"{obj.execution_time_seconds:.2f} s"

    # --- detail page ---------------------------------------------------------------------------
    @admin.display(description="scrubbing")
    def scrubbed_note(self, obj: WorkflowLog) -> SafeString:
        return format_html('<span class="cl-scrubbed">{}</span>', admin_render.scrubbed_note(obj.scrubbed))

    @admin.display(description="workflow error")
    def workflow_error_html(self, obj: WorkflowLog) -> SafeString:
        return admin_render.with_markers(obj.workflow_error or "-")

    @admin.display(description="steps")
    def trace_steps(self, obj: WorkflowLog) -> SafeString:
        return admin_render.trace_steps_html(obj.payload)

    @admin.display(description="metrics")
    def metrics_json(self, obj: WorkflowLog) -> SafeString:
        return admin_render.json_block("metrics", obj.metrics, open_=True)

    @admin.display(description="payload")
    def payload_json(self, obj: WorkflowLog) -> SafeString:
        # The trace has its own block below; repeating it here would double a large page.
        payload = obj.payload
        if isinstance(payload, dict) and "trace" in payload:
            payload = {k: v for k, v in payload.items() if k != "trace"}
            return format_html("{}<p class='help'>{}</p>", admin_render.json_block("payload", payload, open_=True),
                               "payload.trace is shown under Trace.")
        return admin_render.json_block("payload", payload, open_=True)

    @admin.display(description="trace")
    def trace_json(self, obj: WorkflowLog) -> SafeString:
        return admin_render.json_block("payload.trace", admin_render.trace_of(obj.payload))

    @admin.display(description="metadata")
    def metadata_json(self, obj: WorkflowLog) -> SafeString:
        return admin_render.json_block("metadata", obj.metadata, open_=True)

    @admin.display(description="extra (fields we do not model)")
    def extra_json(self, obj: WorkflowLog) -> SafeString:
        return admin_render.json_block("extra", obj.extra)
