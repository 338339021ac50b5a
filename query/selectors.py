"""Reads of the read API: the filtered list, one log, and the export's rows.

Every function takes the caller's client first (the viewset's `self.client`) and reads through
logs/tenant_sql, whose statements start with that tenant's condition; the query string only ever
narrows it (logs/filters.py), scope first, filter second.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rest_framework.exceptions import ValidationError

from logs.filters import LogFilterSet, validated_filters
from logs.models import DETAIL_FIELDS, SUMMARY_FIELDS
from logs.params import collect_errors, parse_choice
from logs.periods import MAX_DAYS
from logs.tenant_sql import reads, rollup
from metrics import rollup as metrics_rollup
from metrics.counts import list_count_for
from query import search
from query.pagination import Pagination, order_by, paginate, parse_list_params, parse_ordering
from tenants.models import Client

EXPORT_FORMATS = ("csv", "ndjson")
EXPORT_CHUNK_SIZE = 2000
MAX_EXPORT_METRIC_COLUMNS = 200


def log_list(client: Client, *, query: Any) -> tuple[list[dict[str, Any]], Pagination]:
    """One page of log summaries of `client` filtered by `query` (no payload/metadata/extra
    is read), with its pagination block; every bad parameter is reported in one 400."""
    filters, params = collect_errors(lambda: validated_filters(LogFilterSet, query),
                                     lambda: parse_list_params(query))
    if q := filters.pop("q", None):
        return search.search_list(client, q, filters, ordering=params.ordering, page=params.page,
                                  page_size=params.page_size, cursor_mode=params.cursor_mode, after=params.after,
                                  columns=SUMMARY_FIELDS)
    return paginate(client, LogFilterSet.condition(filters), params, SUMMARY_FIELDS,
                    count=list_count_for(client, filters))


def log_get(client: Client, *, log_id: uuid.UUID) -> dict[str, Any] | None:
    """One complete log of `client`, or None (absent, or another tenant's)."""
    return reads.one(client, log_id, DETAIL_FIELDS)


@dataclass(frozen=True)
class Export:
    format: str
    rows: Iterator[dict[str, Any]]
    metric_keys: list[str]  # CSV: one column per metric key found in the exported logs


def log_export(client: Client, *, query: Any) -> Export:
    """Every log of `client` matching `query`, in list order, streamed. Everything that can
    fail with a 400 happens here, before the first byte of the answer is sent."""
    fmt, filters, ordering = collect_errors(
        lambda: parse_choice(query, "format", EXPORT_FORMATS, "csv"),
        lambda: validated_filters(LogFilterSet, query),
        lambda: parse_ordering(query),
    )
    columns = SUMMARY_FIELDS if fmt == "csv" else DETAIL_FIELDS
    if q := filters.pop("q", None):
        if ordering != "-executed_at":
            raise ValidationError({"ordering": ["With q, the export is newest first (ordering=-executed_at)."]})
        first, rows = search.export_rows(client, q, filters, columns)
        # CSV metric columns: the keys of the first chunk's logs (a search has no cheap pass over all).
        keys = sorted({k for row in first if isinstance(row.get("metrics"), dict) for k in row["metrics"]})
        return Export(fmt, rows, keys[:MAX_EXPORT_METRIC_COLUMNS])
    condition, params = LogFilterSet.condition(filters)
    keys: list[str] = []
    if fmt == "csv":
        # A first pass in the database (distinct keys only; no rows travel), so a key that
        # appears in a single log still gets its column.
        keys = reads.metric_keys(client, condition, params, MAX_EXPORT_METRIC_COLUMNS)
    rows = reads.stream(client, condition=condition, params=params, order_by=order_by(ordering),
                        columns=columns, chunk_size=EXPORT_CHUNK_SIZE)
    return Export(fmt, rows, keys)


def log_changes(client: Client) -> dict[str, str]:
    """A token that changes whenever a log of `client` is stored, deleted or updated, whatever its
    executed_at: the dashboard's live probe (one row of two index probes)."""
    version, pending = rollup.change_token(client)
    return {"token": f"{version}.{pending}"}


VALUE_SAMPLE = 5000
MAX_VALUES = 200
ROLLUP_FIELDS = {"category": "category", "workflow_version": "workflow_version"}


def log_values(client: Client, *, field: str, now: Any) -> dict[str, Any]:
    """The values a filter of `field` can take, for the dashboard's dropdowns: category and
    workflow version from the metrics rollup over the last MAX_DAYS days (every value, with its
    log count); error type and node from the rollup's error groups of those days; customer type and
    resolution from the newest VALUE_SAMPLE logs (the rollup has no such dimension). Most logs
    first, at most MAX_VALUES."""
    start = now - dt.timedelta(days=MAX_DAYS)
    if field in ROLLUP_FIELDS and metrics_rollup.enabled():
        stats = metrics_rollup.group_stats(client, start=start, end=now, group=ROLLUP_FIELDS[field])
        counts = [(value, s["count"]) for value, s in stats.items() if value]
    elif field in ("workflow_error_type", "workflow_error_node") and metrics_rollup.enabled():
        totals: dict[str, int] = {}
        for group in metrics_rollup.error_groups(client, start=start, end=now):
            value = group[field]
            if value:
                totals[value] = totals.get(value, 0) + group["count"]
        counts = list(totals.items())
    else:
        counts = reads.recent_values(client, field=field, sample=VALUE_SAMPLE, limit=MAX_VALUES)
    counts.sort(key=lambda item: (-item[1], item[0]))
    return {"field": field, "values": [{"value": value, "count": count} for value, count in counts[:MAX_VALUES]]}
