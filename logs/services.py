"""Log ingestion: from validated field values to durable rows, idempotently."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import psycopg
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from logs.ids import uuid7
from logs.models import WorkflowLog
from logs.validation import clean_log, replace_nul
from tenants.models import Client

CREATED: Literal["created"] = "created"
DUPLICATE: Literal["duplicate"] = "duplicate"
INVALID: Literal["invalid"] = "invalid"


@dataclass
class ItemResult:
    index: int
    status: Literal["created", "duplicate", "invalid"]
    id: str | None = None
    errors: dict[str, list[str]] | None = None
    # The stored values of a log (model field names; `client_id`, not `client`), when known
    # without another query: what the single-log answer summarises (serializers.log_summary).
    row: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.id is not None:
            out["id"] = self.id
        if self.errors is not None:
            out["errors"] = self.errors
        return out


def log_prepare(raw: Any, *, has_nul: bool = False, event_id: str | None = None
                ) -> tuple[dict[str, Any] | None, dict[str, list[str]] | None]:
    """Validate one raw log; NUL characters are replaced (and recorded in `extra._sanitized`)."""
    sanitized: list[str] = []
    if has_nul:
        raw, sanitized = replace_nul(raw)
    fields, errors = clean_log(raw)
    if fields is None:
        return None, errors
    if event_id is not None:
        fields["event_id"] = event_id
    if sanitized:
        fields["extra"]["_sanitized"] = {"nul_replaced_at": sanitized}
    return fields, None


def log_values(row: WorkflowLog) -> dict[str, Any]:
    """A model instance's stored values, keyed like `.values()` (`client_id`, not `client`)."""
    return {field.attname: getattr(row, field.attname) for field in row._meta.concrete_fields}


def _existing_ids(client: Client, event_ids: list[str]) -> dict[str, str]:
    if not event_ids:
        return {}
    rows = WorkflowLog.objects.for_client(client).filter(event_id__in=event_ids).values_list("event_id", "id")
    return {event_id: str(pk) for event_id, pk in rows}


def log_ingest_many(*, client: Client, items: list[dict[str, Any] | None]) -> list[ItemResult | None]:
    """Store validated logs (None entries are skipped) for `client`; returns a result per entry.

    A log whose `event_id` this tenant already stored is not stored again: its result is
    `duplicate` with the original id. Duplicates inside the same request map to the first.
    The tenant comes only from the argument: any client id in the body stays in `extra`.

    On PostgreSQL the batch is written by one `INSERT ... SELECT FROM unnest(arrays) ON CONFLICT
    DO NOTHING RETURNING id` (see `_insert_postgres`); elsewhere by the ORM's bulk_create.
    """
    if connection.vendor == "postgresql":
        return _ingest_postgres(client, items)
    return _ingest_orm(client, items)


def _ingest_orm(client: Client, items: list[dict[str, Any] | None]) -> list[ItemResult | None]:
    results: list[ItemResult | None] = [None] * len(items)
    for _attempt in range(3):
        event_ids = [f["event_id"] for f in items if f is not None and f.get("event_id")]
        known = _existing_ids(client, event_ids)
        to_create: list[tuple[ItemResult, WorkflowLog]] = []
        for index, fields in enumerate(items):
            if fields is None:
                continue
            event_id = fields.get("event_id")
            if event_id and event_id in known:
                results[index] = ItemResult(index, DUPLICATE, known[event_id])
                continue
            # An id may be pre-assigned (logs/accept.py does, so a log keeps its id if it has to
            # go to the spool instead); otherwise a fresh UUIDv7.
            row = WorkflowLog(client=client, **{"id": uuid7(), **fields})
            if event_id:
                known[event_id] = str(row.id)
            results[index] = ItemResult(index, CREATED, str(row.id))
            to_create.append((results[index], row))
        try:
            with transaction.atomic():
                WorkflowLog.objects.bulk_create([row for _, row in to_create])
        except IntegrityError:
            # A concurrent request stored one of these event_ids between our lookup and the
            # insert; look again (the unique constraint guarantees we now see it).
            continue
        for result, row in to_create:
            result.row = log_values(row)  # after the save: created_at is set
        return results
    raise IntegrityError("Could not store the logs after repeated event_id conflicts.")


# --- PostgreSQL fast path ------------------------------------------------------------------------
# Column name -> SQL type. One statement whose text does not depend on the batch size: one array
# parameter per column instead of 23 x 100 scalars, parsed once per connection and planned
# cheaply. Measured (bench/README.md): ~3x less server CPU per batch than bulk_create, which
# builds and binds 2,300 parameters and serialises JSON with json.dumps.
_PG_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "uuid"), ("client_id", "int8"), ("event_id", "text"), ("environment", "text"),
    ("workflow_version", "text"), ("ticket_id", "text"), ("executed_at", "timestamptz"),
    ("execution_time_seconds", "float8"), ("status", "text"), ("category", "text"),
    ("resolution_status", "text"), ("customer_type", "text"), ("workflow_error", "text"),
    ("workflow_error_type", "text"), ("workflow_error_node", "text"), ("is_system_error", "bool"),
    ("ticket_subject_hash", "text"), ("requester_email_hash", "text"), ("metrics", "jsonb"),
    ("payload", "jsonb"), ("metadata", "jsonb"), ("extra", "jsonb"), ("created_at", "timestamptz"),
)
# The same for every row of a request: one scalar parameter each, not an array of 100 copies.
# (Both come before the arrays in the statement text, in this order.)
_BATCH_COLUMNS = ("client_id", "created_at")
_ROW_COLUMNS = tuple((name, kind) for name, kind in _PG_COLUMNS if name not in _BATCH_COLUMNS)
# NOT NULL JSON columns whose model default is an empty object.
_JSON_DEFAULTS = ("metrics", "payload", "extra")


def _select_item(name: str, kind: str) -> str:
    if name in _BATCH_COLUMNS:
        return f"%b::{kind}"
    # JSON travels as text[] and is cast per element: psycopg has no jsonb[] dumper for str.
    return f"u.{name}::jsonb" if kind == "jsonb" else f"u.{name}"


_INSERT_SQL = (
    f"INSERT INTO {WorkflowLog._meta.db_table} ({', '.join(name for name, _ in _PG_COLUMNS)}) "
    "SELECT " + ", ".join(_select_item(name, kind) for name, kind in _PG_COLUMNS)
    + " FROM unnest(" + ", ".join(
        f"%b::{'text' if kind == 'jsonb' else kind}[]" for _name, kind in _ROW_COLUMNS
    ) + ") AS u(" + ", ".join(name for name, _ in _ROW_COLUMNS) + ") "
    # The partial unique index (client_id, event_id) WHERE event_id IS NOT NULL: a retried log
    # is skipped by the database itself, even when two requests race.
    "ON CONFLICT (client_id, event_id) WHERE event_id IS NOT NULL DO NOTHING RETURNING id"
)


def _insert_one_sql(placeholder: str) -> str:
    """One log as one VALUES row of scalar parameters (`%b`: bound on the server, `%s`: on the
    client). psycopg dumps 21 one-element arrays in ~65 us of Python against ~5 us for 23
    scalars, and PostgreSQL skips the unnest."""
    return (
        f"INSERT INTO {WorkflowLog._meta.db_table} ({', '.join(name for name, _ in _PG_COLUMNS)}) VALUES ("
        + ", ".join(f"{placeholder}::{kind}" for _name, kind in _PG_COLUMNS) + ") "
        "ON CONFLICT (client_id, event_id) WHERE event_id IS NOT NULL DO NOTHING RETURNING id"
    )


def ingest_timeout_sql(timeout_ms: int) -> str:
    """The ingestion transaction's server-side bound (LOCAL: the pooled connection keeps its
    default afterwards)."""
    return f"SET LOCAL statement_timeout = {int(timeout_ms)}"


_INSERT_ONE_SQL = _insert_one_sql("%b")
# One log outside any transaction (the single-log endpoint, in production): BEGIN, the ingestion
# timeout, the INSERT and COMMIT as one simple-protocol query, one round trip instead of four
# (Django's atomic block, SET LOCAL, INSERT, COMMIT). Parameters are bound on the client, which
# for 23 scalars is cheap (libpq quotes the JSON text); several statements in one call need it.
_INSERT_ONE_CLIENT_BOUND_SQL = _insert_one_sql("%s")


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits: orjson refuses them, the stdlib does not
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _ingest_postgres(client: Client, items: list[dict[str, Any] | None]) -> list[ItemResult | None]:
    results: list[ItemResult | None] = [None] * len(items)
    now = timezone.now()
    # Plain dicts, no WorkflowLog instances: the columns are read straight from them (a model's
    # __init__ per log cost more than the rest of this function) and the single-log answer is
    # a summary of the same values (views.create).
    pending: list[tuple[int, dict[str, Any]]] = []
    first_by_event: dict[str, int] = {}
    repeats: list[tuple[int, str]] = []  # later copies of an event_id inside this request
    for index, fields in enumerate(items):
        if fields is None:
            continue
        event_id = fields.get("event_id")
        if event_id:
            if event_id in first_by_event:
                repeats.append((index, event_id))
                continue
            first_by_event[event_id] = index
        pending.append((index, stored_row(fields, now)))

    for _attempt in range(3):
        inserted = _insert_postgres(client, [row for _, row in pending], now) if pending else set()
        conflicted: list[tuple[int, dict[str, Any]]] = []
        for index, row in pending:
            if row["id"] in inserted:
                results[index] = ItemResult(index, CREATED, str(row["id"]), row=row)
            else:
                conflicted.append((index, row))
        if not conflicted:
            break
        # Rows skipped by ON CONFLICT: their event_id is already stored; answer with that id.
        known = _existing_ids(client, [row["event_id"] for _, row in conflicted])
        pending = []
        for index, row in conflicted:
            if row["event_id"] in known:
                results[index] = ItemResult(index, DUPLICATE, known[row["event_id"]])
            else:
                # The conflicting row was deleted (retention) between our INSERT and SELECT:
                # try to store it again.
                pending.append((index, row))
        if not pending:
            break
    else:
        raise IntegrityError("Could not store the logs after repeated event_id conflicts.")

    for index, event_id in repeats:
        first = results[first_by_event[event_id]]
        assert first is not None
        results[index] = ItemResult(index, DUPLICATE, first.id)
    return results


def stored_row(fields: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The stored values of one log, as the model would hold them (a copy: the caller may still
    need `fields` as given, e.g. to spool them)."""
    row = {**fields, "created_at": now}
    # A pre-assigned id (logs/accept.py, the spool) is kept; otherwise a fresh UUIDv7.
    log_id = row.get("id")
    if log_id is None:
        row["id"] = uuid7()
    elif not isinstance(log_id, uuid.UUID):  # a spooled log's id may come back as text
        row["id"] = uuid.UUID(str(log_id))
    for name in _JSON_DEFAULTS:  # the model's default=dict of these NOT NULL columns
        if name not in row:
            row[name] = {}
    return row


def _one_row_params(client: Client, row: dict[str, Any], now: dt.datetime) -> list[Any]:
    return [
        client.pk if name == "client_id" else now if name == "created_at"
        else _json_text(row.get(name)) if kind == "jsonb" else row.get(name)
        for name, kind in _PG_COLUMNS
    ]


def log_ingest_one_committed(*, client: Client, fields: dict[str, Any], timeout_ms: int) -> ItemResult | None:
    """Store one validated log in a transaction of its own, in one round trip, with the server
    bounding it to `timeout_ms` (SET LOCAL statement_timeout, as the transactional path does).

    Returns the `created` result, or None when this path does not apply: not PostgreSQL, inside
    a transaction (tests, or a caller's atomic block: a COMMIT here would end theirs), or the
    tenant already stored the log's event_id. The caller then takes `log_ingest_many()` in a
    transaction, which tells the duplicate. Database errors are raised as Django's, after the
    failed transaction is rolled back, so the pooled connection goes back clean.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block or not connection.get_autocommit():
        return None
    now = timezone.now()
    row = stored_row(fields, now)
    sql = f"BEGIN; {ingest_timeout_sql(timeout_ms)}; {_INSERT_ONE_CLIENT_BOUND_SQL}; COMMIT"
    connection.ensure_connection()
    raw = connection.connection
    try:
        with connection._prepare_cursor(psycopg.ClientCursor(raw)) as cursor:
            cursor.execute(sql, _one_row_params(client, row, now))
            cursor.nextset()  # past BEGIN and SET, to the INSERT's rows
            cursor.nextset()
            inserted = cursor.fetchall()
    except Exception:
        # A failed statement leaves the explicit transaction aborted (the rest of the query
        # string was skipped). A connection cut off by the deadline is already closed.
        if not raw.closed and raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            with contextlib.suppress(psycopg.Error):
                raw.rollback()
        raise
    if not inserted:
        return None  # ON CONFLICT: the event_id is stored already
    return ItemResult(0, CREATED, str(row["id"]), row=row)


# The columns in the order of a one-row insert_statement()'s parameters.
INSERT_COLUMNS = tuple(name for name, _ in _PG_COLUMNS)


def insert_statement(client: Client, rows: list[dict[str, Any]], now: dt.datetime) -> tuple[str, list[Any]]:
    """The INSERT of `rows` (from `stored_row()`) and its parameters, for a server-binding cursor."""
    if len(rows) == 1:
        return _INSERT_ONE_SQL, _one_row_params(client, rows[0], now)
    params: list[Any] = [client.pk, now]  # _BATCH_COLUMNS
    for name, kind in _ROW_COLUMNS:
        if kind == "jsonb":
            params.append([_json_text(row.get(name)) for row in rows])
        else:
            params.append([row.get(name) for row in rows])
    return _INSERT_SQL, params


def _insert_postgres(client: Client, rows: list[dict[str, Any]], now: dt.datetime) -> set[Any]:
    sql, params = insert_statement(client, rows, now)
    # A server-side-binding psycopg cursor with binary parameters (%b): Django's default
    # ClientCursor would quote the 2,100 array elements into the SQL text in Python (regex
    # escaping of every JSON string: measured at ~60 % of a batch's server CPU). Wrapped by
    # Django so the query is still logged/counted like any other.
    connection.ensure_connection()
    with connection._prepare_cursor(psycopg.Cursor(connection.connection)) as cursor:
        cursor.execute(sql, params)
        return {pk for (pk,) in cursor.fetchall()}


def rollups_rebuild(*, client: Client | None = None) -> int:
    """Recount the metrics rollup (PostgreSQL) of one client, or of all, from workflow_logs.

    The triggers keep the rollup exact as logs come and go; this is the backfill (after a bulk
    load with triggers disabled, or to check/repair). Per client, in one transaction holding the
    client's exclusive rollup lock, 31 days at a time. Returns the number of rollup rows.
    """
    if connection.vendor != "postgresql":
        return 0
    table = WorkflowLog._meta.db_table
    client_ids = [client.pk] if client is not None else list(
        WorkflowLog.objects.order_by().values_list("client_id", flat=True).distinct())
    with connection.cursor() as cursor:
        if client is None:
            cursor.execute("DELETE FROM logs_rollup WHERE NOT client_id = ANY(%s)", [client_ids])
            cursor.execute("DELETE FROM logs_rollup_pending WHERE NOT client_id = ANY(%s)", [client_ids])
        for client_id in sorted(client_ids):
            with transaction.atomic():
                cursor.execute("SELECT pg_advisory_xact_lock(727001, (%s %% 2147483647)::int)", [client_id])
                cursor.execute("DELETE FROM logs_rollup WHERE client_id = %s", [client_id])
                cursor.execute(f"SELECT min(executed_at), max(executed_at) FROM {table} WHERE client_id = %s",
                               [client_id])
                first, last = cursor.fetchone()
                if first is None:
                    continue
                day = first.astimezone(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
                while day <= last:
                    # Whole days only: logs_rollup_recount replaces the rollup of [day, day + 31d).
                    cursor.execute("SELECT logs_rollup_recount(%s, %s, %s)",
                                   [client_id, day, day + dt.timedelta(days=31)])
                    day += dt.timedelta(days=31)
        # Fresh statistics: the planner must know the rollup is no longer tiny (hash aggregation).
        cursor.execute("ANALYZE logs_rollup")
        cursor.execute("SELECT count(*) FROM logs_rollup" + ("" if client is None else " WHERE client_id = %s"),
                       [] if client is None else [client.pk])
        return cursor.fetchone()[0]
