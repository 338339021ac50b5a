"""Reads of `workflow_logs` for one tenant: pages, one log, counts, estimates, the export stream,
metric-key scans and the metrics' aggregates over filtered logs.

Rows come back as plain dicts without the ORM's per-value conversion: psycopg already returns
aware datetimes and numbers, UUIDs are selected as text (they are only rendered; psycopg built
a uuid.UUID per value: -4.6 % instructions per 50-row list page, callgrind), and the JSON
columns, which Django's backend hands back as text, are parsed by orjson (or passed through as
`orjson.Fragment` for rows that are only rendered). Compiling an ORM query cost more CPU than
PostgreSQL spent answering a list page.

`condition` / `order_by` arguments are SQL text built by code (logs/filters.py,
query/pagination.py), with placeholders only; every value is in `params`. Every statement is
sent to the database the router reads logs from (the dashboard's replica, when configured and
the request is one it may serve; central_logger/replica.py).
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from django.db import connections, router
from django.db.models import UUIDField

from central_logger import counting
from logs.ids import executed_range
from logs.models import WorkflowLog
from tenants.models import Client

TABLE = WorkflowLog._meta.db_table
# Columns stored as jsonb that Django's backend reads back as text.
JSON_FIELDS = frozenset({"metrics", "payload", "metadata", "extra", "scrubbed"})
STATUS_NAMES = ("SUCCESS", "PARTIAL", "FAILED", "ERROR")
# A second statement sent after a read in the same round trip: its SQL and parameters.
Statement = tuple[str, list[Any]]


def read_connection() -> Any:
    return connections[router.db_for_read(WorkflowLog)]


def _decoded(values: dict[str, Any], json_columns: frozenset[str],
             load: Callable[[str], Any] = orjson.loads) -> dict[str, Any]:
    """The JSON columns (text) turned into values by `load`; SQL NULL stays None."""
    for name in json_columns:
        if isinstance(values[name], str):
            values[name] = load(values[name])
    return values


_SELECT: dict[tuple[tuple[str, ...], str], str] = {}


def _select(columns: tuple[str, ...], db: str) -> str:
    """`SELECT columns FROM workflow_logs WHERE client_id = %s`, built once per column set."""
    prefix = _SELECT.get((columns, db))
    if prefix is None:
        meta, quote = WorkflowLog._meta, connections[db].ops.quote_name
        select = ", ".join(
            f"{quote(f.column)}::text" if isinstance(f, UUIDField) else quote(f.column)
            for f in (meta.get_field(name) for name in columns))
        prefix = _SELECT[(columns, db)] = f"SELECT {select} FROM {quote(TABLE)} WHERE client_id = %s"
    return prefix


def _rows(client: Client, columns: tuple[str, ...], condition: str, params: list[Any], *,
          then: Statement | None = None, prepare: bool = True,
          ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]] | None]:
    """Rows of `SELECT columns ... WHERE client_id = %s AND condition`. `then`: another
    statement sent in the same round trip (one instead of two; each costs ~100 us of this
    process's CPU), whose rows come back second (None without it).

    Both are bound and prepared on the server, once per connection and statement text
    (central_logger/postgres/base.py): planning a statement over every time partition of the
    table (each with its dozen indexes) cost PostgreSQL more than running it, ~0.55 ms of CPU
    per list page against ~0.1 ms on the plain table before partitioning (bench/README.md).
    A prepared statement is planned for its first few executions, then PostgreSQL keeps a
    generic plan whose partitions are pruned when it runs. `prepare=False`: a one-off text
    (see `page`), planned once and not kept."""
    db = router.db_for_read(WorkflowLog)
    statements = [(f"{_select(columns, db)} AND {condition}", [client.pk, *params])]
    if then is not None:
        statements.append(then)
    results = connections[db].fetch_prepared_many(statements, prepare_first=prepare)
    return results[0], (results[1] if then is not None else None)


def one(client: Client, pk: Any, columns: tuple[str, ...]) -> dict[str, Any] | None:
    """One log of `client` by id, as a dict of `columns`; None when it is not theirs or absent.

    The id carries its log's executed_at to the millisecond (logs/ids.py), so the first look
    reads one partition's primary key; only a miss (a log stored before partitioning, or not
    there at all) asks every partition."""
    log_id = pk if isinstance(pk, uuid.UUID) else uuid.UUID(str(pk))
    rows: list[tuple[Any, ...]] = []
    if (span := executed_range(log_id)) is not None:
        rows, _ = _rows(client, columns, "id = %s AND executed_at >= %s AND executed_at < %s LIMIT 1",
                        [log_id, *span])
    if not rows:
        rows, _ = _rows(client, columns, "id = %s LIMIT 1", [log_id])
    return _decoded(dict(zip(columns, rows[0])), JSON_FIELDS.intersection(columns)) if rows else None


def page(client: Client, *, condition: str, params: list[Any], order_by: str, columns: tuple[str, ...],
         offset: int = 0, limit: int | None = None, json_as_text: bool = False, then: Statement | None = None,
         ) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]] | None]:
    """Logs of `client` matching `condition`, ordered, as dicts of `columns` (no limit: all).

    `json_as_text`: JSON columns stay the text PostgreSQL sent, wrapped as `orjson.Fragment`,
    which the JSON renderer writes into the response as is: for rows that are only rendered
    (parsing each row's `metrics` and serialising it again was ~7 % of a list page's
    instructions). `then`: see `_rows`; returns the page and that statement's rows."""
    # LIMIT and OFFSET are written into the text (integers from code), not bound: with a
    # parameter there the planner guesses 10 % of the rows, the generic plan looks dearer than
    # the custom ones and PostgreSQL goes on planning every execution (see `_rows`).
    bounds = f"LIMIT {'ALL' if limit is None else int(limit)} OFFSET {int(offset)}"
    sql = f"({condition or 'TRUE'}) ORDER BY {order_by} {bounds}"
    # A deep page's text (its OFFSET) is rarely run again: prepared, each would take a place
    # in the connection's cache of prepared statements from the first pages that recur.
    rows, then_rows = _rows(client, columns, sql, list(params), then=then, prepare=offset == 0)
    json_columns = JSON_FIELDS.intersection(columns)
    load = orjson.Fragment if json_as_text else orjson.loads
    return [_decoded(dict(zip(columns, row)), json_columns, load) for row in rows], then_rows


def _matching(client: Client, condition: str, params: list[Any]) -> tuple[str, list[Any]]:
    return f"SELECT id FROM {TABLE} WHERE client_id = %s AND ({condition or 'TRUE'})", [client.pk, *params]


def count_at_most(client: Client, condition: str, params: list[Any], limit: int) -> int:
    """How many logs of `client` match `condition`, counting at most `limit` of them."""
    count = counting.count_at_most(read_connection(), *_matching(client, condition, params), limit)
    assert count is not None
    return count


def estimate(client: Client, condition: str, params: list[Any]) -> int:
    """PostgreSQL's row estimate for the logs of `client` matching `condition`."""
    return counting.plan_rows(read_connection(), *_matching(client, condition, params))


def stream(client: Client, *, condition: str, params: list[Any], order_by: str, columns: tuple[str, ...],
           chunk_size: int) -> Iterator[dict[str, Any]]:
    """Every log of `client` matching `condition`, in order, from a server-side cursor read
    `chunk_size` rows at a time: memory stays constant whatever the number of rows."""
    connection = read_connection()
    json_columns = JSON_FIELDS.intersection(columns)
    sql = f"{_select(columns, connection.alias)} AND ({condition or 'TRUE'}) ORDER BY {order_by}"
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, [client.pk, *params])
        while chunk := cursor.fetchmany(chunk_size):
            for row in chunk:
                yield _decoded(dict(zip(columns, row)), json_columns)


def metric_keys(client: Client, condition: str, params: list[Any], limit: int) -> list[str]:
    """The sorted distinct top-level `metrics` keys of the logs of `client` matching `condition`
    (no rows travel), at most `limit`."""
    sql = (f"SELECT DISTINCT k FROM {TABLE} w, jsonb_object_keys(w.metrics) k WHERE w.client_id = %s "
           f"AND ({condition or 'TRUE'}) AND jsonb_typeof(w.metrics) = 'object' ORDER BY k LIMIT %s")
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [client.pk, *params, limit])
        return [row[0] for row in cursor.fetchall()]


_GROUP_EXPRESSIONS = {
    None: None,
    "category": "category",
    "workflow_version": "workflow_version",
    "bucket:day": "date_trunc('day', executed_at, 'UTC')",
    "bucket:hour": "date_trunc('hour', executed_at, 'UTC')",
}


def scan_stats(client: Client, *, condition: str, params: list[Any], start: Any, end: Any, group: str | None,
               fractions: tuple[float, ...]) -> list[tuple[Any, ...]]:
    """Per group (None: the whole set, one row even when empty) of the logs of `client` with
    start <= executed_at < end matching `condition`: (group, count, one count per status,
    avg, min and max executed_at, percentile_cont per fraction of execution_time_seconds).

    The metrics read this when a filter the rollup has no dimension for narrows them."""
    expr = _GROUP_EXPRESSIONS[group]
    fractions_sql = "".join(f", percentile_cont({float(f)!r}) WITHIN GROUP (ORDER BY execution_time_seconds)"
                            for f in fractions)
    statuses = "".join(f", count(*) FILTER (WHERE status = '{s}')" for s in STATUS_NAMES)
    sql = (f"SELECT {expr or 'NULL'}, count(*){statuses}, avg(execution_time_seconds), min(executed_at), "
           f"max(executed_at){fractions_sql} FROM {TABLE} WHERE client_id = %s AND executed_at >= %s "
           f"AND executed_at < %s AND ({condition or 'TRUE'})" + (" GROUP BY 1" if expr else ""))
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [client.pk, start, end, *params])
        return cursor.fetchall()


def exact_percentiles(client: Client, *, start: Any, end: Any, group: str | None,
                      fractions: tuple[float, ...]) -> list[tuple[Any, ...]]:
    """(group, percentile_cont per fraction) of the execution times of every log of `client`
    with start <= executed_at < end: for metrics periods small enough to read exactly."""
    cols = ", ".join(f"percentile_cont({float(f)!r}) WITHIN GROUP (ORDER BY execution_time_seconds)" for f in fractions)
    sql = (f"SELECT {_GROUP_EXPRESSIONS[group] or 'NULL'}, {cols} FROM {TABLE} WHERE client_id = %s "
           "AND executed_at >= %s AND executed_at < %s AND execution_time_seconds IS NOT NULL GROUP BY 1")
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [client.pk, start, end])
        return cursor.fetchall()


def scan_error_groups(client: Client, *, condition: str, params: list[Any], start: Any, end: Any,
                      limit: int) -> list[tuple[Any, ...]]:
    """The most common (workflow_error_type, workflow_error_node) pairs, with their count and
    latest executed_at, among the failing logs of `client` in [start, end) matching `condition`
    (failing: an error type, or status FAILED/ERROR); count desc, latest first, nulls first."""
    sql = (f"SELECT workflow_error_type, workflow_error_node, count(*), max(executed_at) FROM {TABLE} "
           "WHERE client_id = %s AND executed_at >= %s AND executed_at < %s "
           "AND (workflow_error_type IS NOT NULL OR status IN ('FAILED', 'ERROR')) "
           f"AND ({condition or 'TRUE'}) GROUP BY 1, 2 "
           "ORDER BY 3 DESC, 4 DESC, 1 ASC NULLS FIRST, 2 ASC NULLS FIRST LIMIT %s")
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [client.pk, start, end, *params, limit])
        return cursor.fetchall()


VALUE_FIELDS = ("customer_type", "resolution_status", "category", "workflow_version", "workflow_error_type",
                "workflow_error_node")


def recent_values(client: Client, *, field: str, sample: int, limit: int) -> list[tuple[str, int]]:
    """The distinct non-empty values of `field` among the newest `sample` logs of `client`, with
    how many of them carry each; most frequent first, at most `limit`."""
    assert field in VALUE_FIELDS  # a column name, written into the statement
    sql = (f"SELECT {field}, count(*) FROM (SELECT {field} FROM {TABLE} WHERE client_id = %s "
           f"ORDER BY executed_at DESC, id DESC LIMIT %s) AS s WHERE {field} IS NOT NULL AND {field} <> '' "
           "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s")
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [client.pk, sample, limit])
        return cursor.fetchall()
