"""`q` on the list and the export: full-text search with a bounded plan.

The plan, newest first (the default order), chosen from how common the query's words are (the
planner's statistics of the docs): a query as rare as a ticket number, a code or a word in
under 0.5 % of the logs collects its matching docs by the words index over the whole date
range in one statement; otherwise the time windows of WINDOW_DAYS back from now (the last day,
then the week before it, the month, ...) are searched one after the other, stopping as soon as
the page is full, each by collecting its matches (a word in a few percent of the logs) or, for
words in most logs (and once collecting proved slow), by walking the newest docs and testing
each. A status filter is tested on the docs themselves (they carry the log's status), before
their words; the logs are read by id only for the docs found. Every statement runs under what
is left of the search's time budget (SEARCH_TIME_BUDGET_MS); a search that exhausts it answers
422 `search_too_broad`, asking to narrow the dates or the words: it is the question that is too
broad, not the database that is down (no 503).

`ordering=relevance`: one statement over the whole date range, best ts_rank_cd first (weights
A ticket/category/error > B final response > C trace > D note/metadata), under the same budget.

Each row carries `match`: the field that matched and a snippet with its highlights
(logs/search_snippets.py), computed for the page's rows only.
"""
from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

import orjson
import psycopg
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from central_logger.errors import ApiError
from logs import search, search_snippets
from logs.filters import LogFilterSet
from logs.tenant_sql import reads
from logs.tenant_sql import search as sql
from logs.tenant_sql.reads import JSON_FIELDS
from query.pagination import RELEVANCE, Pagination, encode_cursor, order_by
from tenants.models import Client

WINDOW_DAYS = (1, 7, 30, 90, 365)
DOC_CHUNK = 500  # with filters on the logs: matching docs read per step of a window
COLLECT_MS = 150  # collecting a window's matches longer than this: the words are common, walk instead
# The planner's statistics say which words are common (dangerously_word_frequencies): a query
# whose every term is in at least WALK_SHARE of the docs walks the newest docs from the start
# (its matches are dense; collecting them by the words index reads posting lists of millions),
# and one whose rarest term is in less than ONE_STATEMENT_SHARE (or in none of the listed
# words) is collected over the whole date range in one statement instead of window by window.
WALK_SHARE = 0.2
ONE_STATEMENT_SHARE = 0.005
# Filters the search docs carry themselves (the log's status, migration 0021; the dates): with
# no other filter, the docs found are the page, and no log is read to test them.
ON_DOCS = frozenset({"status", "start_date", "end_date"})
TOO_BROAD = ("This search took too long: narrow the date range (start_date, end_date) or use rarer or "
             "more words, then try again.")


class SearchTooBroad(ApiError):
    status_code = 422
    default_code = "search_too_broad"


def parse_q(q: str) -> search.Query:
    try:
        return search.parse(q)
    except search.QueryError as exc:
        raise ValidationError({"q": [str(exc)]}) from None


def check_ordering(ordering: str, cursor_mode: bool) -> None:
    if cursor_mode and ordering != "-executed_at":
        raise ValidationError({"ordering": ["With q, cursor pages are newest first (ordering=-executed_at); "
                                            "other orderings page by page number."]})


def _windows(start: dt.datetime | None, end: dt.datetime | None, now: dt.datetime
             ) -> Iterator[tuple[dt.datetime | None, dt.datetime | None]]:
    """[lo, hi) windows, newest first, covering [start, end) (None: open)."""
    edges: list[dt.datetime | None] = [now - dt.timedelta(days=d) for d in WINDOW_DAYS] + [None]
    hi = end
    for edge in edges:
        lo = edge if start is None or (edge is not None and edge > start) else start
        if hi is not None and lo is not None and lo >= hi:
            continue  # this window is after the range's end
        yield lo, hi
        if lo is None or lo == start:
            return
        hi = lo


class _Budget:
    def __init__(self, walk: bool = False) -> None:
        self.deadline = time.monotonic() + settings.SEARCH_TIME_BUDGET_MS / 1000
        self.walk = walk  # see _docs

    def left_ms(self) -> int:
        left = int((self.deadline - time.monotonic()) * 1000)
        if left <= 0:
            raise SearchTooBroad(TOO_BROAD)
        return left


def _run(client: Client, budget: _Budget, **kwargs: Any) -> list[tuple[Any, ...]]:
    try:
        return sql.search_page(client, timeout_ms=budget.left_ms(), **kwargs)
    except OperationalError as exc:
        if isinstance(exc.__cause__, psycopg.errors.QueryCanceled):
            raise SearchTooBroad(TOO_BROAD) from None
        raise


def _dicts(rows: list[tuple[Any, ...]], columns: tuple[str, ...], as_text: bool) -> list[dict[str, Any]]:
    load = orjson.Fragment if as_text else orjson.loads
    out = []
    for row in rows:
        values = dict(zip(columns, row))
        for name in JSON_FIELDS.intersection(columns):
            if isinstance(values[name], str):
                values[name] = load(values[name])
        out.append(values)
    return out


def _bounds(filters: dict[str, Any]) -> tuple[dt.datetime | None, dt.datetime | None]:
    start, end = filters.get("start_date"), filters.get("end_date")
    return (start.as_start() if start else None), (end.as_end_exclusive() if end else None)


def matching(client: Client, query: search.Query, filters: dict[str, Any], columns: tuple[str, ...], *,
             want: int, offset: int = 0, ordering: str = "-executed_at", after: tuple[Any, str] | None = None,
             as_text: bool = True, budget: _Budget | None = None) -> list[dict[str, Any]]:
    """Up to `want` matching logs of `client` after `offset`, or after the keyset position
    `after` = (executed_at, id) newest first, as dicts of `columns`. Newest first: window by
    window; any other ordering: one statement over the date range."""
    share = _share(query)
    budget = budget or _Budget(walk=share >= WALK_SHARE)
    condition, params = LogFilterSet.condition(filters)
    start, end = _bounds(filters)
    tsquery = query.tsquery()
    if ordering != "-executed_at":
        rows = _run(client, budget, tsquery=tsquery, condition=condition, params=params, columns=columns,
                    lo=start, hi=end, limit=want, offset=offset,
                    order_by=None if ordering == RELEVANCE else order_by(ordering))
        return _dicts(rows, columns, as_text)
    if after is not None:  # the cursor: windows up to its time, docs after its position
        end = min(end, after[0] + dt.timedelta(microseconds=1)) if end else after[0] + dt.timedelta(microseconds=1)
    scope = _Scope(tsquery, query.candidates(), (condition, params), filters.get("status") or None,
                   pushed=all(name in ON_DOCS or value in (None, [], "") for name, value in filters.items()))
    if share < ONE_STATEMENT_SHARE and not budget.walk:
        found = _one_statement(client, budget, scope, columns, start, end, want + offset, as_text, after)
        if found is not None:
            return found[offset:]
    found = []
    for lo, hi in _windows(start, end, timezone.now()):
        found += _window(client, budget, scope, columns, lo, hi, want + offset - len(found), as_text, after)
        if len(found) >= want + offset:
            break
    return found[offset:]


def _share(query: search.Query) -> float:
    """The estimated share of docs that hold every positive term: the least common term's
    (a phrase: its least common word; a prefix or code: unknown, so 0, treated as rare)."""
    frequencies = sql.dangerously_word_frequencies()
    shares = [0.0 if term.code is not None or term.prefix else min(frequencies.get(w, 0.0) for w in term.words)
              for term in query.positive]
    return min(shares)


class _Scope(NamedTuple):
    tsquery: str
    candidates: str | None  # a phrase's words in any order (search.Query.candidates)
    where: tuple[str, list[Any]]  # the list's filters over the logs
    statuses: list[str] | None  # the status filter, also tested on the docs
    pushed: bool  # the docs carry every filter: no need to read more docs than the page


def _one_statement(client: Client, budget: _Budget, scope: _Scope, columns: tuple[str, ...],
                   start: dt.datetime | None, end: dt.datetime | None, want: int, as_text: bool,
                   after: tuple[Any, str] | None) -> list[dict[str, Any]] | None:
    """A rare query's page: its docs over the whole range collected at once (one statement
    instead of one per window); None when that took longer than COLLECT_MS (the words were
    not that rare: the caller goes window by window)."""
    try:
        return _window(client, budget, scope, columns, start, end, want, as_text, after, once=True)
    except _Slow:
        return None


class _Slow(Exception):
    """Collecting took longer than COLLECT_MS where the caller has a cheaper way."""


def _docs(client: Client, budget: _Budget, once: bool = False, **kwargs: Any) -> list[tuple[dt.datetime, str]]:
    """The next docs of a window: collected by the words index (a rare word: milliseconds) until
    that takes longer than COLLECT_MS once (a common word: thousands of matches per window);
    from then on, for the rest of this search, by walking the newest docs. `once`: collecting
    only, _Slow when it takes longer than COLLECT_MS."""
    while True:
        left = budget.left_ms()
        collect = once or (not budget.walk and left > COLLECT_MS)
        try:
            return sql.newest_docs(client, timeout_ms=min(COLLECT_MS, left) if collect else left, walk=not collect,
                                   **kwargs)
        except OperationalError as exc:
            if not isinstance(exc.__cause__, psycopg.errors.QueryCanceled):
                raise
            if once:
                raise _Slow from None
            if not collect:
                raise SearchTooBroad(TOO_BROAD) from None
            budget.walk = True


def _window(client: Client, budget: _Budget, scope: _Scope, columns: tuple[str, ...],
            lo: dt.datetime | None, hi: dt.datetime | None, want: int, as_text: bool,
            before: tuple[Any, str] | None, once: bool = False) -> list[dict[str, Any]]:
    """The newest `want` matching logs of one window: the matching docs are taken in their
    index's order (a common word: the newest few; a rare word: all of the window's, at once),
    DOC_CHUNK at a time when the list has filters the docs do not carry, and the logs among
    them that pass the list's filters are read by id; the next chunk only when the page is not
    full yet."""
    rows: list[dict[str, Any]] = []
    where = scope.where
    chunk = want if scope.pushed else max(DOC_CHUNK, want)
    while len(rows) < want:
        docs = _docs(client, budget, once=once, tsquery=scope.tsquery, lo=lo, hi=hi, before=before, limit=chunk,
                     statuses=scope.statuses, candidates=scope.candidates)
        if not docs:
            break
        condition = "id = ANY(%s::uuid[]) AND executed_at >= %s AND executed_at <= %s"
        if where[0]:
            condition += f" AND ({where[0]})"
        page, _ = reads.page(client, condition=condition, params=[[i for _, i in docs], docs[-1][0], docs[0][0],
                                                                   *where[1]],
                             order_by=order_by("-executed_at"), columns=columns, limit=want - len(rows),
                             json_as_text=as_text)
        rows += page
        if len(docs) < chunk:
            break
        before = docs[-1]
    return rows


def with_matches(client: Client, rows: list[dict[str, Any]], query: search.Query) -> list[dict[str, Any]]:
    """Each row with its `match` (field, snippet, highlights)."""
    if not rows:
        return rows
    times = [row["executed_at"] for row in rows]
    texts = {log["id"]: log for log in sql.texts(client, [row["id"] for row in rows], min(times), max(times))}
    for row in rows:
        log = texts.get(row["id"])
        row["match"] = search_snippets.match(log, query) if log is not None else None
    return rows


def search_list(client: Client, q: str, filters: dict[str, Any], *, ordering: str, page: int | None,
                page_size: int, cursor_mode: bool, after: Any, columns: tuple[str, ...]
                ) -> tuple[list[dict[str, Any]], Pagination]:
    """One page of the logs of `client` matching `q` and `filters`, each with its match."""
    query = parse_q(q)
    check_ordering(ordering, cursor_mode)
    offset = 0 if cursor_mode else (page - 1) * page_size  # type: ignore[operator]
    position = (after.value, str(after.id)) if after is not None else None
    rows = matching(client, query, filters, columns, want=page_size + 1, offset=offset,
                    ordering=ordering, after=position)
    has_more = len(rows) > page_size
    rows = with_matches(client, rows[:page_size], query)
    if cursor_mode:
        next_cursor = encode_cursor("-executed_at", rows[-1]) if has_more else None
        return rows, Pagination(page=None, page_size=page_size, total=None, pages=None, total_is_exact=False,
                                next_cursor=next_cursor)
    # The total is only known when the search reached its end; otherwise "at least one more".
    total = offset + len(rows) + (1 if has_more else 0)
    return rows, Pagination(page=page, page_size=page_size, total=total, pages=math.ceil(total / page_size),
                            total_is_exact=not has_more, next_cursor=None)


EXPORT_CHUNK = 2000


def export_rows(client: Client, q: str, filters: dict[str, Any], columns: tuple[str, ...]
                ) -> tuple[list[dict[str, Any]], Iterator[dict[str, Any]]]:
    """(the first chunk, every row) of the logs of `client` matching `q` and `filters`, newest
    first, read EXPORT_CHUNK at a time by keyset, each chunk under its own time budget. The
    first chunk is read before this returns, so a too broad search is a 422, not a cut file."""
    query = parse_q(q)
    first = matching(client, query, filters, columns, want=EXPORT_CHUNK, as_text=False)

    def chunks() -> Iterator[dict[str, Any]]:
        chunk = first
        while chunk:
            yield from chunk
            if len(chunk) < EXPORT_CHUNK:
                return
            last = chunk[-1]
            chunk = matching(client, query, filters, columns, want=EXPORT_CHUNK, as_text=False,
                             after=(last["executed_at"], str(last["id"])))

    return first, chunks()
