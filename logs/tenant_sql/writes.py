"""Writes to `workflow_logs`: the one insert statement builder, event-id look-ups, retention deletes.

Single-log ingestion, batch ingestion and the spool's drain all store logs with the statement
`insert_statement()` builds; they differ only in how it is sent (`insert_rows` binds on the
server inside the caller's transaction, `insert_one_committed` sends BEGIN ... COMMIT in one
round trip).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from typing import Any

import orjson
import psycopg
from django.db import connection

from logs import partitions
from logs.ids import uuid7, uuid7_for
from logs.rawjson import RawJson
from logs.models import WorkflowLog
from tenants.models import Client

TABLE = WorkflowLog._meta.db_table
# Column name -> SQL type, in the order of a one-row statement's parameters. One statement whose
# text does not depend on the batch size: one array parameter per column instead of 24 x 100
# scalars, parsed once per connection and planned cheaply. Measured (bench/README.md): ~3x less
# server CPU per batch than the ORM's bulk_create, which builds and binds 2,300 parameters.
COLUMN_TYPES: tuple[tuple[str, str], ...] = (
    ("client_id", "int8"), ("id", "uuid"), ("event_id", "text"), ("environment", "text"),
    ("workflow_version", "text"), ("ticket_id", "text"), ("executed_at", "timestamptz"),
    ("execution_time_seconds", "float8"), ("status", "text"), ("category", "text"),
    ("resolution_status", "text"), ("customer_type", "text"), ("workflow_error", "text"),
    ("workflow_error_type", "text"), ("workflow_error_node", "text"), ("is_system_error", "bool"),
    ("ticket_subject_hash", "text"), ("requester_email_hash", "text"), ("metrics", "jsonb"),
    ("payload", "jsonb"), ("metadata", "jsonb"), ("extra", "jsonb"), ("scrubbed", "jsonb"),
    ("created_at", "timestamptz"),
)
COLUMNS = tuple(name for name, _ in COLUMN_TYPES)
# The same for every row of a statement: one scalar parameter each, not an array of 100 copies.
_SHARED = ("client_id", "created_at")
_PER_ROW = tuple((name, kind) for name, kind in COLUMN_TYPES if name not in _SHARED)
# NOT NULL JSON columns whose model default is an empty object.
_JSON_DEFAULTS = ("metrics", "payload", "extra")
# Idempotency keys: unique (client_id, event_id) across every partition (migration 0013).
EVENT_IDS = "logs_event_ids"
_COLUMN_LIST = ", ".join(COLUMNS)


def _tail(skip_known_ids: bool) -> str:
    # The drain also skips a log whose id is stored already (the database committed an insert
    # the request had given up on, then the same log was spooled): the primary key (id,
    # executed_at) conflicts, a spooled log keeping both.
    return (" ON CONFLICT DO NOTHING" if skip_known_ids else "") + " RETURNING id"


def _one_sql(p: str, events: bool, skip_known_ids: bool) -> str:
    """One log as one row of scalar parameters (`p` = `b`: bound on the server, `s`: on the
    client). psycopg dumps 21 one-element arrays in ~65 us of Python against ~5 us for 23
    scalars, and PostgreSQL skips the unnest."""
    values = ", ".join(f"%({name}){p}::{kind}" for name, kind in COLUMN_TYPES)
    if not events:
        return f"INSERT INTO {TABLE} ({_COLUMN_LIST}) VALUES ({values}){_tail(skip_known_ids)}"
    # The log is inserted only if its event id is claimed in the same statement: a concurrent
    # retry waits on the claim's unique key and, once the first commits, claims nothing.
    return (f"WITH claimed AS (INSERT INTO {EVENT_IDS} (client_id, event_id, log_id, executed_at) VALUES "
            f"(%(client_id){p}::int8, %(event_id){p}::text, %(id){p}::uuid, %(executed_at){p}::timestamptz) "
            f"ON CONFLICT DO NOTHING RETURNING 1) INSERT INTO {TABLE} ({_COLUMN_LIST}) SELECT {values} "
            f"WHERE EXISTS (SELECT FROM claimed){_tail(skip_known_ids)}")


def _many_sql(events: bool, skip_known_ids: bool) -> str:
    # JSON travels as text[] and is cast per element: psycopg has no jsonb[] dumper for str.
    arrays = ", ".join(f"%({name})b::{'text' if kind == 'jsonb' else kind}[]" for name, kind in _PER_ROW)
    names = ", ".join(name for name, _ in _PER_ROW)
    items = ", ".join(f"%({name})b::{kind}" if name in _SHARED else f"u.{name}::jsonb" if kind == "jsonb"
                      else f"u.{name}" for name, kind in COLUMN_TYPES)
    if not events:
        return (f"INSERT INTO {TABLE} ({_COLUMN_LIST}) SELECT {items} FROM unnest({arrays}) AS u({names})"
                + _tail(skip_known_ids))
    return (f"WITH u AS MATERIALIZED (SELECT * FROM unnest({arrays}) AS u({names})), "
            f"claimed AS (INSERT INTO {EVENT_IDS} (client_id, event_id, log_id, executed_at) "
            "SELECT %(client_id)b::int8, u.event_id, u.id, u.executed_at FROM u WHERE u.event_id IS NOT NULL "
            f"ON CONFLICT DO NOTHING RETURNING log_id) INSERT INTO {TABLE} ({_COLUMN_LIST}) SELECT {items} FROM u "
            f"WHERE u.event_id IS NULL OR u.id IN (SELECT log_id FROM claimed){_tail(skip_known_ids)}")


# (many, placeholder, with event ids, skip known ids) -> statement text.
_STATEMENTS = {
    (many, p, events, skip): _many_sql(events, skip) if many else _one_sql(p, events, skip)
    for many in (True, False) for p in ("b", "s") for events in (True, False) for skip in (True, False)
    if not (many and p == "s")
}


def json_text(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is RawJson:  # the text it arrived in (logs/rawjson.py): no decode, no encode
        return value.decode()
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits: orjson refuses them, the stdlib does not
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def stored_row(fields: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The stored values of one log, as the model would hold them (a copy: the caller may still
    need `fields` as given, e.g. to spool them)."""
    row = {**fields, "created_at": now}
    # A pre-assigned id (ingestion assigns one, so a log keeps it if it has to be spooled) is
    # kept; otherwise a fresh UUIDv7 carrying executed_at (the partition a lookup by id reads).
    log_id = row.get("id")
    if log_id is None:
        executed_at = row.get("executed_at")
        row["id"] = uuid7_for([executed_at])[0] if isinstance(executed_at, dt.datetime) else uuid7()
    elif not isinstance(log_id, uuid.UUID):  # a spooled log's id comes back as text
        row["id"] = uuid.UUID(str(log_id))
    for name in _JSON_DEFAULTS:  # the model's default=dict of these NOT NULL columns
        if name not in row:
            row[name] = {}
    return row


def _one_row_params(client: Client, row: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    return {
        name: client.pk if name == "client_id" else now if name == "created_at"
        else json_text(row.get(name)) if kind == "jsonb" else row.get(name)
        for name, kind in COLUMN_TYPES
    }


def insert_statement(client: Client, rows: list[dict[str, Any]], now: dt.datetime, *,
                     client_bound: bool = False, skip_known_ids: bool = False) -> tuple[str, dict[str, Any]]:
    """The INSERT of `rows` (from `stored_row()`) for `client`, and its parameters (by column).

    Server-bound (`%b`, a psycopg Cursor) unless `client_bound` (one row only: sent inside a
    multi-statement query string). The statement returns the ids it inserted; rows whose
    event_id the tenant already stored are skipped, and with `skip_known_ids` rows whose id is
    stored as well. Rows without an event id skip the claim (and its index write) entirely."""
    events = any(row.get("event_id") is not None for row in rows)
    if len(rows) == 1:
        sql = _STATEMENTS[False, "s" if client_bound else "b", events, skip_known_ids]
        return sql, _one_row_params(client, rows[0], now)
    if client_bound:
        raise ValueError("Only a one-row insert is bound on the client.")
    params: dict[str, Any] = {"client_id": client.pk, "created_at": now}  # _SHARED
    for name, kind in _PER_ROW:
        if kind == "jsonb":
            params[name] = [json_text(row.get(name)) for row in rows]
        else:
            params[name] = [row.get(name) for row in rows]
    return _STATEMENTS[True, "b", events, skip_known_ids], params


def insert_rows(client: Client, rows: list[dict[str, Any]], now: dt.datetime, *,
                skip_known_ids: bool = False) -> set[uuid.UUID]:
    """Insert `rows` of `client` in the caller's transaction; returns the ids inserted. A date
    without a partition gets one first (logs/partitions.py)."""
    partitions.ensure_covered([row["executed_at"] for row in rows])
    sql, params = insert_statement(client, rows, now, skip_known_ids=skip_known_ids)
    # A server-side-binding psycopg cursor with binary parameters (%b): Django's default
    # ClientCursor would quote the 2,100 array elements into the SQL text in Python (regex
    # escaping of every JSON string: measured at ~60 % of a batch's server CPU). Wrapped by
    # Django so the query is still logged and counted like any other.
    connection.ensure_connection()
    with connection._prepare_cursor(psycopg.Cursor(connection.connection)) as cursor:
        cursor.execute(sql, params)
        return {pk for (pk,) in cursor.fetchall()}


def ingest_timeout_sql(timeout_ms: int) -> str:
    """The ingestion transaction's server-side bound (LOCAL: the pooled connection keeps its
    default afterwards)."""
    return f"SET LOCAL statement_timeout = {int(timeout_ms)}"


def insert_one_committed(client: Client, row: dict[str, Any], now: dt.datetime, *, timeout_ms: int) -> bool:
    """Insert one log of `client` in a transaction of its own, in one round trip: BEGIN, the
    server-side timeout, the INSERT and COMMIT as one simple-protocol query string (instead of
    four round trips: Django's atomic block, SET LOCAL, INSERT, COMMIT). True when inserted,
    False when its event_id was stored already.

    The caller must not be inside a transaction. Database errors are raised as Django's, after
    the failed transaction is rolled back, so the pooled connection goes back clean."""
    statement, params = insert_statement(client, [row], now, client_bound=True)
    sql = f"BEGIN; {ingest_timeout_sql(timeout_ms)}; {statement}; COMMIT"
    for attempt in (1, 2):
        partitions.ensure_covered([row["executed_at"]])
        try:
            return bool(_send(sql, params))
        except Exception as exc:
            # Its partition was detached since this process last looked: look again, once.
            if attempt == 2 or not partitions.is_missing_partition(exc):
                raise
            partitions.invalidate()
    raise AssertionError("unreachable")


def _send(sql: str, params: Any) -> list[tuple[Any, ...]]:
    """Send BEGIN; SET LOCALs; an INSERT ... RETURNING; COMMIT as one query string: the rows the
    INSERT returned (the first result that has columns)."""
    connection.ensure_connection()
    raw = connection.connection
    try:
        with connection._prepare_cursor(psycopg.ClientCursor(raw)) as cursor:
            cursor.execute(sql, params)
            while cursor.description is None:  # past BEGIN and the SETs, to the INSERT's rows
                if not cursor.nextset():
                    raise AssertionError("the statement returned no rows: no INSERT ... RETURNING in it")
            return cursor.fetchall()
    except Exception:
        # A failed statement leaves the explicit transaction aborted (the rest of the query
        # string was skipped). A connection cut off by the deadline is already closed.
        if not raw.closed and raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            with contextlib.suppress(psycopg.Error):
                raw.rollback()
        raise


def _group_sql(rows: int, events: bool) -> str:
    """`rows` logs as one multi-row statement of client-bound scalars (the one-row statement's
    parameters, repeated): the single-log group commit."""
    row = "(" + ", ".join(f"%s::{kind}" for _, kind in COLUMN_TYPES) + ")"
    values = ", ".join([row] * rows)
    if not events:
        return f"INSERT INTO {TABLE} ({_COLUMN_LIST}) VALUES {values} RETURNING id"
    # As in `_one_sql`: a row is inserted only if it claimed its event id in this statement. Two
    # rows of one statement with the same event id: the second claims nothing.
    return (f"WITH v ({_COLUMN_LIST}) AS MATERIALIZED (VALUES {values}), "
            f"claimed AS (INSERT INTO {EVENT_IDS} (client_id, event_id, log_id, executed_at) "
            "SELECT client_id, event_id, id, executed_at FROM v WHERE event_id IS NOT NULL "
            f"ON CONFLICT DO NOTHING RETURNING log_id) INSERT INTO {TABLE} ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} "
            "FROM v WHERE event_id IS NULL OR id IN (SELECT log_id FROM claimed) RETURNING id")


def insert_group_committed(client: Client, rows: list[dict[str, Any]], *, timeout_ms: int,
                           lock_timeout_ms: int) -> set[uuid.UUID]:
    """Insert `rows` of `client` (from `stored_row()`, each with its own `created_at`) in one
    transaction and one round trip, as `insert_one_committed` does for one row. Returns the ids
    inserted: a row missing from it had its event id stored already. Rows are sent in event-id
    order, so two groups claiming the same event ids in two processes take their locks in the
    same order (no deadlock).

    The caller must not be inside a transaction; on an error nothing of the group is stored and
    the connection is rolled back clean."""
    ordered = sorted(rows, key=lambda row: row.get("event_id") or "")
    params: list[Any] = []
    for row in ordered:
        params.extend(_one_row_params(client, row, row["created_at"]).values())
    events = any(row.get("event_id") is not None for row in ordered)
    # lock_timeout: a group does not wait long on a lock another transaction holds (an event id
    # claimed and not yet committed elsewhere, a partition's DDL); the caller then stores each
    # row alone, so only the row that needs the lock waits for it.
    sql = (f"BEGIN; {ingest_timeout_sql(timeout_ms)}; SET LOCAL lock_timeout = {int(lock_timeout_ms)}; "
           f"{_group_sql(len(ordered), events)}; COMMIT")
    for attempt in (1, 2):
        partitions.ensure_covered([row["executed_at"] for row in ordered])
        try:
            return {pk for (pk,) in _send(sql, params)}
        except Exception as exc:
            if attempt == 2 or not partitions.is_missing_partition(exc):
                raise
            partitions.invalidate()
    raise AssertionError("unreachable")


def stored_event_ids(client: Client, event_ids: list[str]) -> dict[str, str]:
    """event_id -> stored log id, for those of `event_ids` that `client` has stored."""
    if not event_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT event_id, log_id::text FROM {EVENT_IDS} WHERE client_id = %s AND event_id = ANY(%s)",
                       [client.pk, list(event_ids)])
        return dict(cursor.fetchall())


def count_older_than(client: Client, cutoff: dt.datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE client_id = %s AND executed_at < %s", [client.pk, cutoff])
        return int(cursor.fetchone()[0])


def delete_older_than(client: Client, cutoff: dt.datetime, *, limit: int) -> int:
    """Delete at most `limit` of the oldest logs of `client` executed before `cutoff` (one short
    statement, served by the (client, executed_at) index); returns how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {TABLE} WHERE client_id = %s AND id IN (SELECT id FROM {TABLE} "
            "WHERE client_id = %s AND executed_at < %s ORDER BY executed_at LIMIT %s)",
            [client.pk, client.pk, cutoff, limit])
        return cursor.rowcount


# What a run derived from an OpenTelemetry trace may change as later spans arrive (otel/runs.py).
RUN_UPDATE_COLUMNS = tuple((name, kind) for name, kind in COLUMN_TYPES
                           if name not in ("client_id", "id", "event_id", "created_at", "extra", "is_system_error",
                                           "ticket_subject_hash", "requester_email_hash"))
_UPDATE_RUNS = (
    f"UPDATE {TABLE} AS w SET " + ", ".join(
        f"{name} = u.{name}::jsonb" if kind == "jsonb" else f"{name} = u.{name}" for name, kind in RUN_UPDATE_COLUMNS)
    + " FROM unnest(%b::uuid[], " + ", ".join(f"%b::{'text' if kind == 'jsonb' else kind}[]"
                                              for _, kind in RUN_UPDATE_COLUMNS)
    + ") AS u(id, " + ", ".join(name for name, _ in RUN_UPDATE_COLUMNS) + ") WHERE w.client_id = %b AND w.id = u.id"
)


def update_runs(client: Client, rows: list[dict[str, Any]]) -> int:
    """Rewrite the derived fields of runs of `client` (rows with `id` and the fields of
    RUN_UPDATE_COLUMNS) in one statement, in the caller's transaction; returns how many.

    The rollup's update trigger recounts a day only when a counted column really changed
    (logs migration 0010_scrubbed): new tokens or tool calls of a run cost no recount."""
    if not rows:
        return 0
    params: list[Any] = [[uuid.UUID(str(row["id"])) for row in rows]]
    for name, kind in RUN_UPDATE_COLUMNS:
        params.append([json_text(row.get(name)) if kind == "jsonb" else row.get(name) for row in rows])
    params.append(client.pk)
    connection.ensure_connection()
    with connection._prepare_cursor(psycopg.Cursor(connection.connection)) as cursor:
        cursor.execute(_UPDATE_RUNS, params)
        return cursor.rowcount
