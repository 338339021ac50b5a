"""Ordering and pagination of log lists: page numbers with a bounded count, or keyset cursors.

Page mode (`page`, `page_size`): OFFSET pagination. Counting millions of rows on every page
load is what makes hosted log viewers slow, so the count is bounded: we count at most
`LIST_COUNT_EXACT_LIMIT + 1` matching rows; above the limit the total is the PostgreSQL
planner's estimate for the filtered query (`EXPLAIN (FORMAT JSON)`, microseconds) — on SQLite
the bounded value `limit + 1`, a lower bound — and `total_is_exact` is false. When the page
itself is short, the total follows from it and no count runs at all.

Cursor mode (`cursor=` empty or a `next_cursor` token): keyset pagination on
(sort key, id), no count, constant cost at any depth. The token is opaque to clients:
base64url of `[ordering, last sort value, last id]`.

Sort order: `executed_at` / `execution_time_seconds`, either direction, ties broken by id in the
same direction. Logs without an execution time sort as the smallest value (last when longest
first, first when shortest first) — the same on PostgreSQL and SQLite, and exactly the order of
the `(client, execution_time_seconds DESC NULLS LAST, id DESC)` index scanned either way.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict

import orjson
from django.conf import settings
from django.db import connection
from django.db.models import F, OrderBy, Q, QuerySet
from rest_framework.exceptions import ValidationError

from central_logger.rows import fetch_dicts

ORDERINGS = ("-executed_at", "executed_at", "-execution_time_seconds", "execution_time_seconds")
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


def _int_param(query: Any, name: str, default: int, low: int, high: int | None) -> int:
    raw = query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValidationError({name: ["Must be an integer."]}) from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValidationError({name: [f"Must be {bound}."]})
    return value


def parse_ordering(query: Any) -> str:
    ordering = (query.get("ordering") or DEFAULT_ORDERING).strip()
    if ordering not in ORDERINGS:
        raise ValidationError({"ordering": [f"Unknown ordering {ordering!r}; allowed: {', '.join(ORDERINGS)}."]})
    return ordering


def parse_list_params(query: Any) -> ListParams:
    """Read `ordering`, `page`, `page_size` and `cursor`; a bad value is a 400 naming it."""
    ordering = parse_ordering(query)
    page_size = _int_param(query, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    if "cursor" in query:
        raw = query.get("cursor") or ""
        after = decode_cursor(raw, ordering) if raw else None
        return ListParams(ordering, page_size, None, True, after)
    page = _int_param(query, "page", 1, 1, None)
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
    if _sort_field(ordering) == "executed_at":
        try:
            value = dt.datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise invalid from None
        if value.tzinfo is None:
            raise invalid
    elif value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                or not math.isfinite(value)):
        raise invalid
    return CursorPosition(value, position_id)


# --- ordering and keyset segments ---------------------------------------------------------------

def order_by_sql(ordering: str) -> str:
    """`order_by()` as SQL, for hand-written page reads: the same columns, directions and NULLS."""
    field, desc = _sort_field(ordering), ordering.startswith("-")
    column = connection.ops.quote_name(field)
    if field == "executed_at":
        return f"{column} DESC, id DESC" if desc else f"{column} ASC, id ASC"
    if desc:
        return f"{column} DESC NULLS LAST, id DESC"
    return f"{column} ASC NULLS FIRST, id ASC"


def order_by(ordering: str) -> list[OrderBy]:
    field, desc = _sort_field(ordering), ordering.startswith("-")
    if field == "executed_at":
        return [F("executed_at").desc(), F("id").desc()] if desc else [F("executed_at").asc(), F("id").asc()]
    if desc:
        return [F(field).desc(nulls_last=True), F("id").desc()]
    return [F(field).asc(nulls_first=True), F("id").asc()]


def keyset_segments(ordering: str, after: CursorPosition | None) -> list[Q]:
    """The rows after `after`, as conditions to query in turn (each in the list's order).

    Each segment keeps the range on the sort column (`x <= v`), which the index can use;
    the tie-break on id only filters rows with x == v. Null execution times are a separate
    segment rather than an OR, which would stop PostgreSQL from using the index range.
    """
    if after is None:
        return [Q()]
    field, desc = _sort_field(ordering), ordering.startswith("-")
    v, last = after.value, after.id
    if v is None:  # only execution_time_seconds can be null
        if desc:  # nulls come last: the rest of the nulls, by id
            return [Q(**{f"{field}__isnull": True, "id__lt": last})]
        # nulls come first: the rest of the nulls, then every non-null value
        return [Q(**{f"{field}__isnull": True, "id__gt": last}), Q(**{f"{field}__isnull": False})]
    if desc:
        segment = Q(**{f"{field}__lte": v}) & (Q(**{f"{field}__lt": v}) | Q(**{field: v, "id__lt": last}))
        return [segment, Q(**{f"{field}__isnull": True})] if field != "executed_at" else [segment]
    return [Q(**{f"{field}__gte": v}) & (Q(**{f"{field}__gt": v}) | Q(**{field: v, "id__gt": last}))]


# --- counting -----------------------------------------------------------------------------------

def planner_estimate(queryset: QuerySet[Any]) -> int | None:
    """PostgreSQL's row estimate for the filtered query (EXPLAIN, not executed)."""
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, (str, bytes)):
        plan = orjson.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def bounded_count(queryset: QuerySet[Any], limit: int) -> tuple[int, bool]:
    """(total, exact). Counts at most limit + 1 rows; above the limit, estimates."""
    counted = queryset.order_by()[: limit + 1].count()
    if counted <= limit:
        return counted, True
    estimate = planner_estimate(queryset)
    return max(counted, estimate or 0), False


def paginate(filtered: Callable[[], QuerySet[Any]], params: ListParams, columns: tuple[str, ...], *,
             count: Callable[[], int] | None = None,
             read_page: Callable[[int, int], tuple[list[dict[str, Any]], int | None]] | None = None,
             ) -> tuple[list[dict[str, Any]], Pagination]:
    """One page of the filtered rows (`filtered()`: the queryset, built only when needed) as dicts
    of `columns`, and its pagination block. `count`, when given, returns the exact total (else it
    is counted up to a bound). `read_page(offset, limit)`, when given, reads a numbered page
    without the ORM (the same rows in the same order), with the exact total when it learned it
    in the same round trip (else None)."""
    size = params.page_size
    if params.cursor_mode:
        queryset, ordering = filtered(), order_by(params.ordering)
        rows: list[dict[str, Any]] = []
        for segment in keyset_segments(params.ordering, params.after):
            need = size + 1 - len(rows)
            rows.extend(fetch_dicts(queryset.filter(segment).order_by(*ordering)[:need], columns))
            if len(rows) > size:
                break
        has_more = len(rows) > size
        rows = rows[:size]
        next_cursor = encode_cursor(params.ordering, rows[-1]) if has_more else None
        return rows, Pagination(page=None, page_size=size, total=None, pages=None,
                                total_is_exact=False, next_cursor=next_cursor)

    assert params.page is not None
    offset = (params.page - 1) * size
    known: int | None = None
    if read_page is not None:
        rows, known = read_page(offset, size)
    else:
        rows = fetch_dicts(filtered().order_by(*order_by(params.ordering))[offset: offset + size], columns)
    if len(rows) < size and (rows or params.page == 1):
        total, exact = offset + len(rows), True  # a short page tells the total: no count needed
    elif known is not None:
        total, exact = known, True
    elif count is not None:
        total, exact = count(), True
    else:
        total, exact = bounded_count(filtered(), settings.LIST_COUNT_EXACT_LIMIT)
    return rows, Pagination(page=params.page, page_size=size, total=total,
                            pages=math.ceil(total / size) if total else 0,
                            total_is_exact=exact, next_cursor=None)
