"""Reads of one tenant's failing logs by error fingerprint (error issues; migrations 0010-0011).

A failing log is one with status FAILED/ERROR or an error type (as the rollup's kinds E and F
count them); its fingerprint is `logs_error_fingerprint(type, node, message)`, a function of the
database (logs migration 0016 explains the normalisation). `FAILING` and `FINGERPRINT` are written
exactly as the partial index `wl_client_error_issue` (migration 0017) declares them, so the
planner can use it: the runs of one issue are an index range scan, newest first.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from logs.tenant_sql.reads import TABLE, read_connection
from tenants.models import Client

FAILING = "(status IN ('FAILED', 'ERROR') OR workflow_error_type IS NOT NULL)"
FINGERPRINT = "logs_error_fingerprint(workflow_error_type, workflow_error_node, workflow_error)"
# A failing log as an issue shows it: its fingerprint, the normalised message (the issue's
# pattern) and what identifies the run.
EXAMPLE_COLUMNS = ("id", "executed_at", "ticket_id", "status", "workflow_version", "workflow_error_type",
                   "workflow_error_node", "workflow_error", "fingerprint", "pattern")
_EXAMPLE_SELECT = (f"SELECT id::text, executed_at, ticket_id, status, workflow_version, workflow_error_type, "
                   f"workflow_error_node, left(workflow_error, %s), {FINGERPRINT}, "
                   f"logs_error_normalize(workflow_error) FROM {TABLE} WHERE client_id = %s AND {FAILING}")


def _examples(client: Client, condition: str, params: list[Any], tail: str, tail_params: list[Any],
              max_message: int) -> list[dict[str, Any]]:
    sql = f"{_EXAMPLE_SELECT} AND ({condition or 'TRUE'}) {tail}"
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [max_message, client.pk, *params, *tail_params])
        return [dict(zip(EXAMPLE_COLUMNS, row)) for row in cursor.fetchall()]


def failing_logs_at(client: Client, *, instants: list[dt.datetime], condition: str, params: list[Any],
                    max_message: int) -> list[dict[str, Any]]:
    """The failing logs of `client` executed at one of `instants` (an index probe each on
    (client, executed_at)) and matching `condition`: the candidates for each issue's latest
    example, which the caller matches by fingerprint and instant. Messages cut at `max_message`."""
    literal = "{" + ",".join(instant.isoformat() for instant in instants) + "}"
    return _examples(client, f"executed_at = ANY(%s::timestamptz[]) AND ({condition or 'TRUE'})", [literal, *params],
                     "ORDER BY executed_at DESC, id DESC", [], max_message)


def issue_logs(client: Client, *, fingerprint: str, start: dt.datetime, end: dt.datetime, condition: str,
               params: list[Any], limit: int, max_message: int) -> list[dict[str, Any]]:
    """The newest `limit` failing logs of `client` with this fingerprint in [start, end) matching
    `condition` (through the partial index of migration 0017)."""
    where = f"{FINGERPRINT} = %s AND executed_at >= %s AND executed_at < %s AND ({condition or 'TRUE'})"
    return _examples(client, where, [fingerprint, start, end, *params], "ORDER BY executed_at DESC, id DESC LIMIT %s",
                     [limit], max_message)


def scan_issues(client: Client, *, condition: str, params: list[Any], start: dt.datetime, end: dt.datetime,
                interval: str) -> list[tuple[Any, ...]]:
    """Per (UTC `interval` bucket, fingerprint, workflow_version) of the failing logs of `client`
    in [start, end) matching `condition`: (bucket, fingerprint, version, count, min and max
    executed_at). For filters the rollup has no dimension for (environment, category)."""
    assert interval in ("day", "hour")  # written into the statement
    sql = (f"SELECT date_trunc('{interval}', executed_at, 'UTC'), {FINGERPRINT}, workflow_version, count(*), "
           f"min(executed_at), max(executed_at) FROM {TABLE} WHERE client_id = %s AND executed_at >= %s "
           f"AND executed_at < %s AND {FAILING} AND ({condition or 'TRUE'}) GROUP BY 1, 2, 3")
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [client.pk, start, end, *params])
        return cursor.fetchall()
