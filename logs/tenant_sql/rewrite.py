"""Rewriting stored logs in place (`manage.py scrub_logs`): read one batch of a tenant's logs in
(executed_at, id) order, locked, and write back the text and JSON columns that changed.

Only text and JSON columns are written, never the ones the metrics rollup counts by unless
their value changed: the rollup's update trigger (migration 0010_scrubbed) recounts a day only for rows
whose client, executed_at, execution time, status, category, version or error type/node
changed, so a batch that scrubs payloads costs no recount at all.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson
from django.db import connection

from logs.models import WorkflowLog
from logs.tenant_sql.writes import json_text
from tenants.models import Client

TABLE = WorkflowLog._meta.db_table
TEXT_COLUMNS = ("ticket_id", "workflow_version", "category", "resolution_status", "customer_type", "workflow_error",
                "workflow_error_type", "workflow_error_node", "ticket_subject_hash", "requester_email_hash")
JSON_COLUMNS = ("metrics", "payload", "metadata", "extra", "scrubbed")
COLUMNS = (*TEXT_COLUMNS, *JSON_COLUMNS)


def _where(since: dt.datetime | None, after: tuple[dt.datetime, uuid.UUID] | None) -> tuple[str, list[Any]]:
    sql, params = "", []
    if since is not None:
        sql += " AND executed_at >= %s"
        params.append(since)
    if after is not None:
        sql += " AND (executed_at, id) > (%s, %s)"
        params += list(after)
    return sql, params


def count_logs(client: Client, *, since: dt.datetime | None) -> int:
    where, params = _where(since, None)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE client_id = %s{where}", [client.pk, *params])
        return int(cursor.fetchone()[0])


def batch(client: Client, *, since: dt.datetime | None, after: tuple[dt.datetime, uuid.UUID] | None, limit: int,
          lock: bool) -> list[dict[str, Any]]:
    """The next `limit` logs of `client` after `after` in (executed_at, id) order (served by the
    (client, executed_at, id) index), with `id`, `executed_at` and COLUMNS; `lock`: FOR UPDATE,
    for the caller's transaction that writes them back."""
    where, params = _where(since, after)
    sql = (f"SELECT id, executed_at, {', '.join(COLUMNS)} FROM {TABLE} WHERE client_id = %s{where} "
           f"ORDER BY executed_at, id LIMIT %s{' FOR UPDATE' if lock else ''}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [client.pk, *params, limit])
        names = ("id", "executed_at", *COLUMNS)
        rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    for row in rows:
        for name in JSON_COLUMNS:
            if isinstance(row[name], str):
                row[name] = orjson.loads(row[name])
    return rows


def update_columns(client: Client, rows: list[dict[str, Any]]) -> int:
    """Write COLUMNS of `rows` (by id) back; returns how many rows were updated."""
    if not rows:
        return 0
    assignments = ", ".join(f"{name} = u.{name}" + ("::jsonb" if name in JSON_COLUMNS else "") for name in COLUMNS)
    arrays = ", ".join(["%s::uuid[]"] + ["%s::text[]"] * len(COLUMNS))
    sql = (f"UPDATE {TABLE} AS w SET {assignments} FROM unnest({arrays}) AS u(id, {', '.join(COLUMNS)}) "
           "WHERE w.client_id = %s AND w.id = u.id")
    params: list[Any] = [[row["id"] for row in rows]]
    for name in COLUMNS:
        params.append([json_text(row.get(name)) if name in JSON_COLUMNS else row.get(name) for row in rows])
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, client.pk])
        return cursor.rowcount
