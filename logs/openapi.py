"""OpenAPI descriptions of the filter and period parameters shared by the read API and the metrics."""
from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from logs.filters import MAX_SEARCH_LENGTH, MAX_VALUE_LENGTH, MAX_VALUES_PER_FILTER
from logs.models import ENVIRONMENT_ALIASES, Environment, Status
from logs.periods import MAX_DAYS, MAX_RANGE_DAYS

# The schemas below state the server's rules exactly where OpenAPI can (bounds, lengths, enums,
# formats, "no NUL"), because the contract-fuzzing test holds the server to them both ways: every
# request the schema allows must be accepted, and every request it forbids must be a 4xx.
NO_NUL = "^[^\\u0000]*$"


def _comma_list(items: dict[str, Any]) -> dict[str, Any]:
    """A comma-separated query value (`?status=FAILED,ERROR`): an array serialised with
    style=form, explode=false. Items cannot contain a comma (it separates them)."""
    return {"type": "array", "items": items, "maxItems": MAX_VALUES_PER_FILTER}


def _multi(name: str, what: str) -> OpenApiParameter:
    items = {"type": "string", "maxLength": MAX_VALUE_LENGTH, "pattern": "^[^,\\u0000]*$"}
    return OpenApiParameter(name, _comma_list(items), style="form", explode=False,
                            description=f"{what}. Comma-separated values match any of them (OR).")


DATE_HELP = ("ISO-8601 date (`2025-01-31`) or datetime (`2025-01-31T12:00:00Z`); without an offset it is UTC.")
# RFC 3339 full-date or date-time (a naive datetime is accepted too, as UTC).
DATE_OR_DATETIME: dict[str, Any] = {"anyOf": [{"type": "string", "format": "date"},
                                              {"type": "string", "format": "date-time"}]}
SECONDS: dict[str, Any] = {"type": "number", "minimum": 0}

METRICS_FILTER_DESCRIPTION = (
    "Filters on the `metrics` object: `metrics.<key>=<value>` or `metrics.<key>__<op>=<value>` with op one of "
    "`eq`, `ne`, `lt`, `lte`, `gt`, `gte` (key: 1-64 letters, digits or underscores). `true`/`false` compare "
    "as booleans, numbers numerically (only values stored as JSON numbers match), anything else as a string "
    "(eq/ne only). `ne` also matches logs without the key. Examples: `metrics.overall_confidence__lt=0.5`, "
    "`metrics.needs_more_info=true`. At most 10 metrics filters."
)

LOG_FILTER_PARAMETERS = [
    OpenApiParameter("environment", _comma_list({"type": "string", "enum": sorted(ENVIRONMENT_ALIASES)}),
                     style="form", explode=False, description=(
        f"One of {', '.join(Environment.values)} (aliases such as prod, stage, dev accepted; any letter case). "
        "Comma-separated values match any of them.")),
    OpenApiParameter("status", _comma_list({"type": "string", "enum": list(Status.values)}),
                     style="form", explode=False, description=(
        f"One of {', '.join(Status.values)}, any letter case; e.g. `FAILED,ERROR`. Unknown values are a 400.")),
    _multi("category", "Exact category"),
    _multi("ticket_id", "Exact ticket id"),
    _multi("workflow_version", "Exact workflow version"),
    _multi("resolution_status", "Exact resolution status"),
    _multi("customer_type", "Exact customer type"),
    _multi("workflow_error_type", "Exact error type"),
    _multi("workflow_error_node", "Exact node where the error happened"),
    OpenApiParameter("is_system_error", OpenApiTypes.BOOL, description="true or false."),
    OpenApiParameter("start_date", DATE_OR_DATETIME, description=(
        f"executed_at on or after this. {DATE_HELP} Not after end_date (else 400).")),
    OpenApiParameter("end_date", DATE_OR_DATETIME, description=(
        f"executed_at on or before this; a date-only value includes that whole UTC day. {DATE_HELP}")),
    OpenApiParameter("min_execution_time", SECONDS, description=(
        "execution_time_seconds >= this. Not greater than max_execution_time (else 400).")),
    OpenApiParameter("max_execution_time", SECONDS, description="execution_time_seconds <= this."),
    OpenApiParameter("q", {"type": "string", "maxLength": MAX_SEARCH_LENGTH, "pattern": NO_NUL}, description=(
        "Full-text search in the ticket id, category, error type, node and message, every string of "
        "`payload.trace`, `payload.final_response`, `payload.private_note` and the string values of `metadata` "
        "(any language; case and accents ignored). Words match whole words in any order; `\"quoted words\"` "
        "match as a phrase; `-word` or `-\"a phrase\"` excludes; `word*` matches words starting with it; ids and "
        "codes (`T-9999`, `ERR_CONN`, `12345`) match as prefixes. Each row then carries `match` (the field and a "
        "highlighted snippet). A search that would take too long answers 422 `search_too_broad`: narrow the "
        f"dates or the words (max {MAX_SEARCH_LENGTH} characters).")),
    OpenApiParameter("error_issue", {"type": "string", "pattern": "^[0-9a-fA-F]{16}$"}, description=(
        "The failing logs of one error issue: its `fingerprint` from `/api/v1/metrics/issues`.")),
]

METRICS_PARAMETERS = [
    OpenApiParameter("days", {"type": "integer", "minimum": 1, "maximum": MAX_DAYS, "default": 7}, description=(
        f"The N UTC calendar days ending today (00:00 UTC of today-N+1 to now), 1-{MAX_DAYS}. "
        "Not with start_date/end_date (else 400).")),
    OpenApiParameter("start_date", DATE_OR_DATETIME, description=(
        f"Custom range start: needs end_date, not after it, at most {MAX_RANGE_DAYS} days before it "
        f"(else 400). {DATE_HELP}")),
    OpenApiParameter("end_date", DATE_OR_DATETIME, description=(
        f"Custom range end, inclusive; a date-only value includes that whole UTC day. Needs start_date. {DATE_HELP}")),
    OpenApiParameter("environment", _comma_list({"type": "string", "enum": sorted(ENVIRONMENT_ALIASES)}),
                     style="form", explode=False, description="Only this environment (comma-separated: any)."),
    _multi("category", "Only this category"),
    _multi("workflow_version", "Only this workflow version"),
]
