"""Statements over a tenant's OpenTelemetry tables, `trace_spans` and `trace_log_records`.

Written by otel/ (POST /v1/traces and /v1/logs, and the spool's drain of what they spooled), read
by the trace of a log (query/) and pruned by retention. Inserts are one statement per table and
request, whatever the number of rows (one array parameter per column, as for workflow logs), and
skip what is stored already: a re-exported span or log record changes nothing.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import psycopg
from django.db import connection, connections, router

from logs.models import TraceLogRecord, TraceSpan
from tenants.models import Client

SPANS = TraceSpan._meta.db_table
RECORDS = TraceLogRecord._meta.db_table
# Column -> SQL type, as the rows of otel/prepare.py carry them (JSON already as text).
SPAN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("trace_id", "text"), ("span_id", "text"), ("parent_span_id", "text"), ("name", "text"), ("kind", "int2"),
    ("start_ns", "int8"), ("end_ns", "int8"), ("status_code", "int2"), ("status_message", "text"),
    ("root_rank", "int2"), ("operation", "text"), ("model", "text"), ("input_tokens", "int8"),
    ("output_tokens", "int8"), ("error", "jsonb"), ("attributes", "jsonb"), ("events", "jsonb"), ("links", "jsonb"),
    ("resource", "jsonb"), ("scope", "jsonb"),
)
RECORD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("trace_id", "text"), ("record_id", "text"), ("span_id", "text"), ("time_ns", "int8"),
    ("severity_number", "int2"), ("severity_text", "text"), ("event_name", "text"), ("body", "jsonb"),
    ("attributes", "jsonb"), ("resource", "jsonb"), ("scope", "jsonb"),
)
# What the derivation of a run reads of each span: the values extracted at ingestion, and the
# attributes and resource of the spans that may be the run's root only.
DIGEST_COLUMNS = ("trace_id", "span_id", "parent_span_id", "name", "start_ns", "end_ns", "status_code",
                  "status_message", "root_rank", "operation", "model", "input_tokens", "output_tokens", "error")
READ_COLUMNS = ("span_id", "parent_span_id", "name", "kind", "start_ns", "end_ns", "status_code", "status_message",
                "operation", "model", "input_tokens", "output_tokens", "attributes", "events", "links", "resource",
                "scope")
RECORD_READ_COLUMNS = ("record_id", "span_id", "time_ns", "severity_number", "severity_text", "event_name", "body",
                       "attributes", "resource", "scope")


def _insert_sql(table: str, columns: tuple[tuple[str, str], ...], key: str) -> str:
    names = [name for name, _ in columns]
    select = ", ".join(f"u.{name}::jsonb" if kind == "jsonb" else f"u.{name}" for name, kind in columns)
    arrays = ", ".join(f"%b::{'text' if kind == 'jsonb' else kind}[]" for _, kind in columns)
    return (f"INSERT INTO {table} (client_id, received_at, {', '.join(names)}) "
            f"SELECT %b::int8, %b::timestamptz, {select} FROM unnest({arrays}) AS u({', '.join(names)}) "
            f"ON CONFLICT (client_id, trace_id, {key}) DO NOTHING RETURNING trace_id")


_INSERT_SPANS = _insert_sql(SPANS, SPAN_COLUMNS, "span_id")
_INSERT_RECORDS = _insert_sql(RECORDS, RECORD_COLUMNS, "record_id")


def _insert(sql: str, client: Client, columns: tuple[tuple[str, str], ...], rows: list[dict[str, Any]],
            now: dt.datetime) -> list[str]:
    params: list[Any] = [client.pk, now, *([row[name] for row in rows] for name, _ in columns)]
    # Server-side binding with binary parameters, as logs/tenant_sql/writes.py does for logs:
    # Django's client-side binding would quote thousands of JSON strings in Python.
    connection.ensure_connection()
    with connection._prepare_cursor(psycopg.Cursor(connection.connection)) as cursor:
        cursor.execute(sql, params)
        return [trace_id for (trace_id,) in cursor.fetchall()]


def lock_traces(client: Client, trace_ids: list[str]) -> None:
    """Serialise the writers of each of these traces of `client` until the transaction ends, so
    a run is derived from every span committed before it (two exports of one trace, handled by
    two workers at once, would otherwise each miss the other's spans). Locks are taken in one
    order (sorted keys), so two transactions never wait on each other in a cycle; the key space
    (one bigint) is not the rollup's (two integers)."""
    if not trace_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT DISTINCT hashtextextended(%s::text || ':' || t, 0) "
            "AS k FROM unnest(%s::text[]) AS t ORDER BY 1) AS keys", [client.pk, sorted(set(trace_ids))])


def insert_spans(client: Client, rows: list[dict[str, Any]], now: dt.datetime) -> set[str]:
    """Store spans of `client` (rows of otel/prepare.py) in the caller's transaction, skipping
    those stored already; returns the trace ids that got at least one new span."""
    return set(_insert(_INSERT_SPANS, client, SPAN_COLUMNS, rows, now)) if rows else set()


def insert_log_records(client: Client, rows: list[dict[str, Any]], now: dt.datetime) -> int:
    """Store log records attached to traces of `client`, skipping those stored already; returns
    how many were new."""
    return len(_insert(_INSERT_RECORDS, client, RECORD_COLUMNS, rows, now)) if rows else 0


def span_digests(client: Client, trace_ids: list[str]) -> list[dict[str, Any]]:
    """Every stored span of these traces of `client`, as the derivation of a run needs it (on
    the primary, in the writing transaction: it must see what that transaction wrote)."""
    if not trace_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(DIGEST_COLUMNS)}, CASE WHEN root_rank IS NOT NULL THEN attributes END, "
            f"CASE WHEN root_rank IS NOT NULL THEN resource END, CASE WHEN root_rank IS NOT NULL THEN scope END "
            f"FROM {SPANS} WHERE client_id = %s AND trace_id = ANY(%s)", [client.pk, list(trace_ids)])
        rows = cursor.fetchall()
    names = (*DIGEST_COLUMNS, "attributes", "resource", "scope")
    out = []
    for row in rows:
        values = dict(zip(names, row))
        for name in ("error", "attributes", "resource", "scope"):
            if isinstance(values[name], str):
                values[name] = orjson.loads(values[name])
        out.append(values)
    return out


def _read(sql: str, params: list[Any], names: tuple[str, ...], json_names: frozenset[str]) -> list[dict[str, Any]]:
    """Rows of a read of the request paths, from the database the router reads logs from."""
    with connections[router.db_for_read(TraceSpan)].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    out = []
    for row in rows:
        values = dict(zip(names, row))
        for name in json_names:
            if isinstance(values[name], str):
                values[name] = orjson.loads(values[name])
        out.append(values)
    return out


def trace_spans(client: Client, trace_id: str, *, limit: int) -> list[dict[str, Any]]:
    """The spans of one trace of `client`, earliest first (at most `limit`)."""
    return _read(f"SELECT {', '.join(READ_COLUMNS)} FROM {SPANS} WHERE client_id = %s AND trace_id = %s "
                 "ORDER BY start_ns, span_id LIMIT %s", [client.pk, trace_id, limit], READ_COLUMNS,
                 frozenset({"attributes", "events", "links", "resource", "scope"}))


def trace_log_records(client: Client, trace_id: str, *, limit: int) -> list[dict[str, Any]]:
    """The log records attached to one trace of `client`, earliest first (at most `limit`)."""
    return _read(f"SELECT {', '.join(RECORD_READ_COLUMNS)} FROM {RECORDS} WHERE client_id = %s AND trace_id = %s "
                 "ORDER BY time_ns, record_id LIMIT %s", [client.pk, trace_id, limit], RECORD_READ_COLUMNS,
                 frozenset({"body", "attributes", "resource", "scope"}))


def delete_older_than(client: Client, cutoff: dt.datetime, *, limit: int) -> int:
    """Delete at most `limit` of the oldest spans and at most `limit` of the oldest attached log
    records of `client` that started before `cutoff` (retention; served by the (client, time)
    indexes); returns how many rows went."""
    cutoff_ns = int(cutoff.timestamp()) * 1_000_000_000 + cutoff.microsecond * 1_000
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {SPANS} WHERE client_id = %s AND (trace_id, span_id) IN (SELECT trace_id, span_id FROM "
            f"{SPANS} WHERE client_id = %s AND start_ns < %s ORDER BY start_ns LIMIT %s)",
            [client.pk, client.pk, cutoff_ns, limit])
        deleted = cursor.rowcount
        cursor.execute(
            f"DELETE FROM {RECORDS} WHERE client_id = %s AND (trace_id, record_id) IN (SELECT trace_id, record_id "
            f"FROM {RECORDS} WHERE client_id = %s AND time_ns < %s ORDER BY time_ns LIMIT %s)",
            [client.pk, client.pk, cutoff_ns, limit])
        return deleted + cursor.rowcount


def count_older_than(client: Client, cutoff: dt.datetime) -> int:
    cutoff_ns = int(cutoff.timestamp()) * 1_000_000_000 + cutoff.microsecond * 1_000
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT count(*) FROM {SPANS} WHERE client_id = %s AND start_ns < %s) + "
                       f"(SELECT count(*) FROM {RECORDS} WHERE client_id = %s AND time_ns < %s)",
                       [client.pk, cutoff_ns, client.pk, cutoff_ns])
        return int(cursor.fetchone()[0])
