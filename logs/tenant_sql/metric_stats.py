"""Aggregates over the `metrics` object of one tenant's logs (free-form JSON the rollup cannot
hold): per-version statistics of a sample for the versions comparison, and sums of usage metrics
(tokens, cost) per day, category or version. Metric keys travel as parameters, never as SQL text.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from logs.tenant_sql.reads import TABLE, read_connection
from tenants.models import Client

_NUMBER = "CASE WHEN jsonb_typeof(e.v) = 'number' THEN (e.v #>> '{{}}')::float8 END"


def version_sample_stats(client: Client, *, version: str, start: dt.datetime, end: dt.datetime, condition: str,
                         params: list[Any], limit: int) -> tuple[int, list[tuple[Any, ...]]]:
    """The newest `limit` logs of `client` with this workflow version in [start, end) matching
    `condition`: (how many were read, rows). Each row: (metric key or None for
    execution_time_seconds, JSON type 'number' / 'boolean', values, mean, sample standard
    deviation, how many are true)."""
    sample = (f"SELECT metrics, execution_time_seconds FROM {TABLE} WHERE client_id = %s AND workflow_version = %s "
              f"AND executed_at >= %s AND executed_at < %s AND ({condition or 'TRUE'}) "
              "ORDER BY executed_at DESC LIMIT %s")
    sql = (f"WITH s AS MATERIALIZED ({sample}) "
           "SELECT NULL::text, 'number', count(execution_time_seconds), avg(execution_time_seconds), "
           "stddev_samp(execution_time_seconds), NULL::bigint, (SELECT count(*) FROM s) FROM s "
           "UNION ALL "
           f"SELECT e.k, jsonb_typeof(e.v), count(*), avg({_NUMBER.format()}), stddev_samp({_NUMBER.format()}), "
           "count(*) FILTER (WHERE e.v = 'true'::jsonb), NULL FROM s, "
           "jsonb_each(CASE WHEN jsonb_typeof(s.metrics) = 'object' THEN s.metrics ELSE '{}'::jsonb END) AS e(k, v) "
           "WHERE jsonb_typeof(e.v) IN ('number', 'boolean') GROUP BY 1, 2")
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [client.pk, version, start, end, *params, limit])
        rows = cursor.fetchall()
    read = int(rows[0][6]) if rows else 0
    return read, [row[:6] for row in rows]


# A usage key (logs migration 0018, `logs_usage_of`): a key naming tokens or cost, of at most 64
# characters, whose value is a JSON number. Tested here per key of the logs read, not through that
# function: a call per log costs ~50 µs (bench/README.md), twenty times this scan's own work.
_USAGE_KEY = "k ~* '(token|cost)' AND length(k) <= 64 AND jsonb_typeof(s.metrics -> k) = 'number'"


def usage_keys(client: Client, *, start: dt.datetime, end: dt.datetime, condition: str, params: list[Any],
               sample: int, limit: int) -> list[str]:
    """The usage keys among the newest `sample` logs of `client` in [start, end) matching
    `condition`; at most `limit`, sorted."""
    sql = (f"SELECT DISTINCT k FROM (SELECT metrics FROM {TABLE} WHERE client_id = %s AND executed_at >= %s "
           f"AND executed_at < %s AND ({condition or 'TRUE'}) ORDER BY executed_at DESC LIMIT %s) AS s, "
           "jsonb_object_keys(CASE WHEN jsonb_typeof(s.metrics) = 'object' THEN s.metrics ELSE '{}'::jsonb END) "
           f"AS k WHERE {_USAGE_KEY} ORDER BY 1 LIMIT %s")
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [client.pk, start, end, *params, sample, limit])
        return [row[0] for row in cursor.fetchall()]


_USAGE_GROUPS = {
    "day": "date_trunc('day', executed_at, 'UTC')",
    "hour": "date_trunc('hour', executed_at, 'UTC')",
    "category": "category",
    "workflow_version": "workflow_version",
}


def usage_sums(client: Client, *, keys: list[str], group: str, start: dt.datetime, end: dt.datetime,
               condition: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Per `group` ("day", "hour", "category", "workflow_version") of the logs of `client` in
    [start, end) matching `condition`: (group value, logs, then per key: logs carrying it as a
    number, its exact sum as Decimal). `keys`: usage keys (`usage_keys`)."""
    number = "CASE WHEN jsonb_typeof(metrics -> %s) = 'number' THEN (metrics ->> %s)::numeric END"
    columns = "".join(f", count({number}), sum({number})" for _ in keys)
    key_params = [value for key in keys for value in (key, key, key, key)]
    sql = (f"SELECT {_USAGE_GROUPS[group]}, count(*){columns} FROM {TABLE} WHERE client_id = %s "
           f"AND executed_at >= %s AND executed_at < %s AND ({condition or 'TRUE'}) GROUP BY 1")
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [*key_params, client.pk, start, end, *params])
        return cursor.fetchall()


def _number(key: str) -> str:
    """A metrics key (a constant of ours, never the caller's) as a number; NULL when the log
    holds something else there."""
    return f"CASE WHEN jsonb_typeof(metrics -> '{key}') = 'number' THEN (metrics ->> '{key}')::numeric END"


def usage_totals(client: Client, *, condition: str, params: list[Any], start: Any, end: Any) -> tuple[Any, ...]:
    """(runs with usage, input tokens, output tokens, cost, runs with a cost) of the logs of
    `client` with start <= executed_at < end matching `condition`, over the runs that carry
    `metrics.total_tokens` (OpenTelemetry's runs); served by the partial index wl_client_usage."""
    sql = (f"SELECT count({_number('total_tokens')}), coalesce(sum({_number('input_tokens')}), 0), "
           f"coalesce(sum({_number('output_tokens')}), 0), sum({_number('cost')}), count({_number('cost')}) "
           f"FROM {TABLE} WHERE client_id = %s AND executed_at >= %s AND executed_at < %s "
           f"AND metrics ? 'total_tokens' AND ({condition or 'TRUE'})")
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [client.pk, start, end, *params])
        return tuple(cursor.fetchone())
