"""OpenAPI descriptions of the read API's query parameters (one place, used by the views)."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from logs.filters import MAX_DAYS, MAX_RANGE_DAYS
from logs.models import Environment, Status
from logs.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, ORDERINGS


def _multi(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR,
                            description=f"{what}. Comma-separated values match any of them (OR).")


DATE_HELP = ("ISO-8601 date (`2025-01-31`) or datetime (`2025-01-31T12:00:00Z`); without an offset it is UTC.")

METRICS_FILTER_DESCRIPTION = (
    "Filters on the `metrics` object: `metrics.<key>=<value>` or `metrics.<key>__<op>=<value>` with op one of "
    "`eq`, `ne`, `lt`, `lte`, `gt`, `gte` (key: 1-64 letters, digits or underscores). `true`/`false` compare "
    "as booleans, numbers numerically (only values stored as JSON numbers match), anything else as a string "
    "(eq/ne only). `ne` also matches logs without the key. Examples: `metrics.overall_confidence__lt=0.5`, "
    "`metrics.needs_more_info=true`. At most 10 metrics filters."
)

LOG_FILTER_PARAMETERS = [
    OpenApiParameter("environment", OpenApiTypes.STR, description=(
        f"One of {', '.join(Environment.values)} (aliases such as prod, stage, dev accepted). "
        "Comma-separated values match any of them.")),
    OpenApiParameter("status", OpenApiTypes.STR, description=(
        f"One of {', '.join(Status.values)}, any letter case; e.g. `FAILED,ERROR`. Unknown values are a 400.")),
    _multi("category", "Exact category"),
    _multi("ticket_id", "Exact ticket id"),
    _multi("workflow_version", "Exact workflow version"),
    _multi("resolution_status", "Exact resolution status"),
    _multi("customer_type", "Exact customer type"),
    _multi("workflow_error_type", "Exact error type"),
    _multi("workflow_error_node", "Exact node where the error happened"),
    OpenApiParameter("is_system_error", OpenApiTypes.BOOL, description="true or false."),
    OpenApiParameter("start_date", OpenApiTypes.STR, description=f"executed_at on or after this. {DATE_HELP}"),
    OpenApiParameter("end_date", OpenApiTypes.STR, description=(
        f"executed_at on or before this; a date-only value includes that whole UTC day. {DATE_HELP}")),
    OpenApiParameter("min_execution_time", OpenApiTypes.NUMBER, description="execution_time_seconds >= this."),
    OpenApiParameter("max_execution_time", OpenApiTypes.NUMBER, description="execution_time_seconds <= this."),
    OpenApiParameter("q", OpenApiTypes.STR, description=(
        "Case-insensitive substring search in ticket_id, category and workflow_error (max 200 characters).")),
]

LIST_PARAMETERS = [
    OpenApiParameter("ordering", OpenApiTypes.STR, enum=list(ORDERINGS), default="-executed_at", description=(
        "Sort key; ties are broken by id. Logs without an execution time sort as the smallest value.")),
    OpenApiParameter("page", OpenApiTypes.INT, default=1, description="Page number (>= 1); ignored in cursor mode."),
    OpenApiParameter("page_size", OpenApiTypes.INT, default=DEFAULT_PAGE_SIZE,
                     description=f"Rows per page, 1-{MAX_PAGE_SIZE} (outside that: 400)."),
    OpenApiParameter("cursor", OpenApiTypes.STR, description=(
        "Cursor mode: pass it empty for the first page, then the previous response's `next_cursor`. "
        "No count is computed (`total`/`pages` null); fast at any depth.")),
]

METRICS_PARAMETERS = [
    OpenApiParameter("days", OpenApiTypes.INT, default=7, description=(
        f"The N UTC calendar days ending today (00:00 UTC of today-N+1 to now), 1-{MAX_DAYS}. "
        "Not with start_date/end_date.")),
    OpenApiParameter("start_date", OpenApiTypes.STR, description=(
        f"Custom range start (with end_date; at most {MAX_RANGE_DAYS} days). {DATE_HELP}")),
    OpenApiParameter("end_date", OpenApiTypes.STR, description=(
        f"Custom range end, inclusive; a date-only value includes that whole UTC day. {DATE_HELP}")),
    OpenApiParameter("environment", OpenApiTypes.STR, description="Only this environment (comma-separated: any)."),
    _multi("category", "Only this category"),
    _multi("workflow_version", "Only this workflow version"),
]
