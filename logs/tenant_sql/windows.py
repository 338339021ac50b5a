"""Reads of one tenant's logs over a time window that the metrics rollup cannot answer: the
average of a numeric `metrics.<key>`, and a window's figures cut into equal steps (the alert
preview). Both are bounded by the window through the (client, executed_at) index, so their cost
follows the number of logs in the window, not the size of the table.

`condition` is SQL text built from the filters' declarations (logs/filters.py), with
placeholders only; every value travels in `params`.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from logs.tenant_sql.reads import STATUS_NAMES, TABLE, read_connection
from tenants.models import Client

# A metric value counts when it is a JSON number (a string "0.4" does not: the same rule as the
# list's metrics filters).
_METRIC = "CASE WHEN jsonb_typeof(metrics -> %s) = 'number' THEN (metrics ->> %s)::float8 END"


def metric_average(client: Client, *, key: str, condition: str, params: list[Any], start: dt.datetime,
                   end: dt.datetime) -> tuple[float | None, int]:
    """(average, logs) of the numeric `metrics.<key>` over the logs of `client` with
    start <= executed_at < end matching `condition`; logs without a numeric value are left out."""
    sql = (f"SELECT avg(v), count(v) FROM (SELECT {_METRIC} AS v FROM {TABLE} WHERE client_id = %s "
           f"AND executed_at >= %s AND executed_at < %s AND ({condition or 'TRUE'})) m")
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [key, key, client.pk, start, end, *params])
        average, count = cursor.fetchone()
        return average, count


def stepped_figures(client: Client, *, condition: str, params: list[Any], start: dt.datetime, end: dt.datetime,
                    step_seconds: int, metric_key: str | None) -> list[tuple[Any, ...]]:
    """Per step of `step_seconds` from `start` (step 0 = [start, start + step)) of the logs of
    `client` in [start, end) matching `condition`, the steps that have logs only:
    (step, count, one count per status, p95 of execution_time_seconds, average and number of
    the numeric `metrics.<metric_key>` values (NULL, 0 without a key))."""
    statuses = "".join(f", count(*) FILTER (WHERE status = '{s}')" for s in STATUS_NAMES)
    sql = (f"SELECT floor(extract(epoch FROM executed_at - %s::timestamptz) / %s)::int AS step, count(*){statuses}, "
           "percentile_cont(0.95) WITHIN GROUP (ORDER BY execution_time_seconds), avg(v), count(v) "
           f"FROM (SELECT executed_at, status, execution_time_seconds, {_METRIC} AS v FROM {TABLE} "
           "WHERE client_id = %s AND executed_at >= %s AND executed_at < %s "
           f"AND ({condition or 'TRUE'})) w GROUP BY 1 ORDER BY 1")
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [start, step_seconds, metric_key, metric_key, client.pk, start, end, *params])
        return cursor.fetchall()


def example_ids(client: Client, *, condition: str, params: list[Any], start: dt.datetime, end: dt.datetime,
                slowest: bool = False, metric_key: str | None = None,
                error_pair: tuple[str, str | None] | None = None, limit: int = 5) -> list[str]:
    """Ids of up to `limit` logs of `client` in [start, end) matching `condition`, newest first
    (`slowest`: longest execution time first); only logs with a numeric `metrics.<metric_key>`
    when given, only logs of one (error type, node) pair (a None node: no node) when given."""
    parts, values = [condition or "TRUE"], list(params)
    if metric_key is not None:
        parts.append("jsonb_typeof(metrics -> %s) = 'number'")
        values.append(metric_key)
    if error_pair is not None:
        parts.append("workflow_error_type = %s")
        values.append(error_pair[0])
        if error_pair[1] is None:
            parts.append("workflow_error_node IS NULL")
        else:
            parts.append("workflow_error_node = %s")
            values.append(error_pair[1])
    order = "execution_time_seconds DESC NULLS LAST, id DESC" if slowest else "executed_at DESC, id DESC"
    sql = (f"SELECT id::text FROM {TABLE} WHERE client_id = %s AND executed_at >= %s AND executed_at < %s "
           f"AND ({') AND ('.join(parts)}) ORDER BY {order} LIMIT %s")
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [client.pk, start, end, *values, limit])
        return [row[0] for row in cursor.fetchall()]
