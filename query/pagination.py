"""Ordering and pagination of log lists: page numbers with a bounded count, or keyset cursors.

Page mode (`page`, `page_size`): OFFSET pagination. Counting millions of rows on every page
load is what makes hosted log viewers slow, so the count is bounded: when the rollup cannot
count the filter exactly (metrics/counts.py), we count at most `LIST_COUNT_EXACT_LIMIT + 1`
matching rows; above the limit the total is the PostgreSQL planner's estimate for the filtered
query and `total_is_exact` is false. When the page itself is short, the total follows from it
and no count runs at all.

Cursor mode (`cursor=` empty or a `next_cursor` token): keyset pagination on
(sort key, id), no count, constant cost at any depth. The token is opaque to clients:
base64url of `[ordering, last sort value, last id]`.

Sort order: `executed_at` / `execution_time_seconds`, either direction, ties broken by id in the
same direction. Logs without an execution time sort as the smallest value (last when longest
first, first when shortest first): exactly the order of the `(client, execution_time_seconds
DESC NULLS LAST, id DESC)` index scanned either way.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import uuid
from dataclasses import dataclass
from typing import Any, TypedDict

import orjson
from django.conf import settings
from rest_framework.exceptions import ValidationError

from logs.filters import Condition
from logs.params import parse_int
from logs.tenant_sql import reads
from metrics.counts import ListCount
from tenants.models import Client

ORDERINGS = ("-executed_at", "executed_at", "-execution_time_seconds", "execution_time_seconds")
RELEVANCE = "relevance"  # with `q` only (query/search.py)
DEFAULT_ORDERING = "-executed_at"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_CURSOR_LENGTH = 512


class Pagination(TypedDict):
    page: int | None
    page_size: int
    total: int | None
    pages: int | None
    total_is_exact: bool
    next_cursor: str | None


@dataclass(frozen=True)
class CursorPosition:
    value: Any  # datetime for executed_at, float or None for execution_time_seconds
    id: uuid.UUID


@dataclass(frozen=True)
class ListParams:
    ordering: str
    page_size: int
    page: int | None  # None in cursor mode
    cursor_mode: bool
    after: CursorPosition | None  # None on the first page


def parse_ordering(query: Any) -> str:
    ordering = (query.get("ordering") or DEFAULT_ORDERING).strip()
    if ordering == RELEVANCE:
        if not (query.get("q") or "").strip():
            raise ValidationError({"ordering": ["ordering=relevance needs a search (q)."]})
        return ordering
    if ordering not in ORDERINGS:
        raise ValidationError({"ordering": [f"Unknown ordering {ordering!r}; allowed: {', '.join(ORDERINGS)}, "
                                            f"{RELEVANCE} (with q)."]})
    return ordering


def parse_list_params(query: Any) -> ListParams:
    """Read `ordering`, `page`, `page_size` and `cursor`; a bad value is a 400 naming it."""
    ordering = parse_ordering(query)
    page_size = parse_int(query, "page_size", default=DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE)
    if "cursor" in query:
        raw = query.get("cursor") or ""
        after = decode_cursor(raw, ordering) if raw else None
        return ListParams(ordering, page_size, None, True, after)
    page = parse_int(query, "page", default=1, low=1)
    return ListParams(ordering, page_size, page, False, None)


# --- cursors ----------------------------------------------------------------------------------------

def _sort_field(ordering: str) -> str:
    return ordering.lstrip("-")


def encode_cursor(ordering: str, row: dict[str, Any]) -> str:
    value = row[_sort_field(ordering)]
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.timezone.utc).isoformat()
    raw = orjson.dumps([ordering, value, str(row["id"])])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_value(field: str, value: Any, invalid: ValidationError) -> Any:
    if field == "executed_at":
        try:
            value = dt.datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise invalid from None
        if value.tzinfo is None:
            raise invalid
        return value
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not math.isfinite(value)):
        raise invalid
    return value


def decode_cursor(token: str, ordering: str) -> CursorPosition:
    invalid = ValidationError({"cursor": ["Invalid cursor; pass the next_cursor of a previous response "
                                          "(or an empty cursor for the first page)."]})
    if len(token) > MAX_CURSOR_LENGTH:
        raise invalid
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        issued_for, value, last_id = decoded
        position_id = uuid.UUID(last_id)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise invalid from None
    if issued_for != ordering:
        raise ValidationError({"cursor": [f"This cursor was issued for ordering={issued_for!r}; "
                                          f"the request asks for ordering={ordering!r}."]})
    return CursorPosition(_cursor_value(_sort_field(ordering), value, invalid), position_id)


# --- ordering and keyset segments ---------------------------------------------------------------

def order_by(ordering: str) -> str:
    """The ORDER BY of `ordering`, ties broken by id (NULL execution times as the smallest)."""
    field, desc = _sort_field(ordering), ordering.startswith("-")
    # The table's id, qualified: the list selects `"id"::text`, and a bare `id` in ORDER BY names
    # that output column, which no index orders (on the partitioned table the planner then sorts
    # every row of the client: 1.0 s at 1M logs instead of ~1 ms).
    tie = "workflow_logs.id DESC" if desc else "workflow_logs.id ASC"
    if field == "executed_at":
        return f"executed_at {'DESC' if desc else 'ASC'}, {tie}"
    if desc:
        return f"{field} DESC NULLS LAST, {tie}"
    return f"{field} ASC NULLS FIRST, {tie}"


def keyset_segments(ordering: str, after: CursorPosition | None) -> list[Condition]:
    """The rows after `after`, as conditions to query in turn (each in the list's order).

    Each segment keeps the range on the sort column (`x <= v`), which the index can use; the
    tie-break on id only filters rows with x == v. Null execution times are a separate segment
    rather than an OR, which would stop PostgreSQL from using the index range.
    """
    if after is None:
        return [("", [])]
    field, desc = _sort_field(ordering), ordering.startswith("-")
    v, last = after.value, after.id
    if v is None:  # only execution_time_seconds can be null
        if desc:  # nulls come last: the rest of the nulls, by id
            return [(f"{field} IS NULL AND id < %s", [last])]
        # nulls come first: the rest of the nulls, then every non-null value
        return [(f"{field} IS NULL AND id > %s", [last]), (f"{field} IS NOT NULL", [])]
    sign, after_sign = ("<=", "<") if desc else (">=", ">")
    segment = (f"{field} {sign} %s AND ({field} {after_sign} %s OR ({field} = %s AND id {after_sign} %s))",
               [v, v, v, last])
    if desc and field != "executed_at":
        return [segment, (f"{field} IS NULL", [])]
    return [segment]


def _and(*conditions: Condition) -> Condition:
    parts = [sql for sql, _ in conditions if sql]
    return " AND ".join(f"({sql})" for sql in parts), [p for _, params in conditions for p in params]


# --- reading a page -----------------------------------------------------------------------------

def _cursor_page(client: Client, where: Condition, params: ListParams, columns: tuple[str, ...]
                 ) -> tuple[list[dict[str, Any]], Pagination]:
    size, rows = params.page_size, []
    for segment in keyset_segments(params.ordering, params.after):
        condition, values = _and(where, segment)
        page, _ = reads.page(client, condition=condition, params=values, order_by=order_by(params.ordering),
                             columns=columns, limit=size + 1 - len(rows), json_as_text=True)
        rows.extend(page)
        if len(rows) > size:
            break
    has_more = len(rows) > size
    rows = rows[:size]
    next_cursor = encode_cursor(params.ordering, rows[-1]) if has_more else None
    return rows, Pagination(page=None, page_size=size, total=None, pages=None, total_is_exact=False,
                            next_cursor=next_cursor)


def bounded_count(client: Client, where: Condition, limit: int) -> tuple[int, bool]:
    """(total, exact). Counts at most limit + 1 rows; above the limit, the planner's estimate."""
    counted = reads.count_at_most(client, where[0], where[1], limit + 1)
    if counted <= limit:
        return counted, True
    return max(counted, reads.estimate(client, where[0], where[1])), False


def paginate(client: Client, where: Condition, params: ListParams, columns: tuple[str, ...], *,
             count: ListCount | None = None) -> tuple[list[dict[str, Any]], Pagination]:
    """One page of the logs of `client` matching `where`, as dicts of `columns`, and its
    pagination block. `count`, when the rollup can count `where` exactly, travels after the
    page statement in the same round trip; otherwise the total is counted up to a bound."""
    if params.cursor_mode:
        return _cursor_page(client, where, params, columns)
    assert params.page is not None
    size = params.page_size
    offset = (params.page - 1) * size
    rows, counted = reads.page(client, condition=where[0], params=where[1], order_by=order_by(params.ordering),
                               columns=columns, offset=offset, limit=size, json_as_text=True,
                               then=count.statement if count is not None else None)
    known = count.total(counted[0]) if count is not None and counted is not None else None
    if len(rows) < size and (rows or params.page == 1):
        total, exact = offset + len(rows), True  # a short page tells the total
    elif known is not None:
        total, exact = known, True
    else:
        total, exact = bounded_count(client, where, settings.LIST_COUNT_EXACT_LIMIT)
    return rows, Pagination(page=params.page, page_size=size, total=total,
                            pages=math.ceil(total / size) if total else 0, total_is_exact=exact, next_cursor=None)
