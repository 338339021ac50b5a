"""Reads of the read API: the filtered list, one log, and the export's rows.

Every function takes the caller's client first (the viewset's `self.client`) and reads through
logs/tenant_sql, whose statements start with that tenant's condition; the query string only ever
narrows it (logs/filters.py), scope first, filter second.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from logs.filters import LogFilterSet, validated_filters
from logs.models import DETAIL_FIELDS, SUMMARY_FIELDS
from logs.params import collect_errors, parse_choice
from logs.tenant_sql import reads
from metrics.counts import list_count_for
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
    condition, params = LogFilterSet.condition(filters)
    keys: list[str] = []
    if fmt == "csv":
        # A first pass in the database (distinct keys only; no rows travel), so a key that
        # appears in a single log still gets its column.
        keys = reads.metric_keys(client, condition, params, MAX_EXPORT_METRIC_COLUMNS)
    rows = reads.stream(client, condition=condition, params=params, order_by=order_by(ordering),
                        columns=SUMMARY_FIELDS if fmt == "csv" else DETAIL_FIELDS, chunk_size=EXPORT_CHUNK_SIZE)
    return Export(fmt, rows, keys)
