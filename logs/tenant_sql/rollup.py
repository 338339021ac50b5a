"""The metrics rollup's statements: one tenant's stored rollup, pending rows and raw edges of a
period in one snapshot, the list count, folding pending rows, recounting (migrations 0005-0009
create the tables and functions; metrics/rollup.py explains the layout and sums the rows).
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from django.db import connection, connections, router, transaction

from logs.models import WorkflowLog
from tenants.models import Client

# The stored rollup of [start, end) is kept in memory per process, keyed by the client's rollup
# version (migration 0008): every change of a client's stored rows gives it a new version in the
# same transaction, so a cached sum is exact for as long as the database shows that version.
# The pending rows and the raw edges are read on every request, in the statement that reads the
# version (one snapshot), and the stored rows only when the version differs from the cached one.
_SQL = """
WITH v AS MATERIALIZED (
    SELECT coalesce((SELECT version FROM logs_rollup_version WHERE client_id = %(client)s), 0) AS version
),
live AS MATERIALIZED (
    -- the partial hours at the edges, from the logs themselves
    SELECT w.executed_at, w.execution_time_seconds AS ets, w.status, w.category, w.workflow_version,
           w.workflow_error_type, w.workflow_error_node,
           CASE WHEN w.status IN ('FAILED', 'ERROR') OR w.workflow_error_type IS NOT NULL
                THEN logs_error_fingerprint(w.workflow_error_type, w.workflow_error_node, w.workflow_error)
           END AS fingerprint
      FROM workflow_logs w
     WHERE w.client_id = %(client)s
       AND ((w.executed_at >= %(ra0)s::timestamptz AND w.executed_at < %(ra1)s::timestamptz)
         OR (w.executed_at >= %(rb0)s::timestamptz
             AND w.executed_at < coalesce(%(rb1)s::timestamptz, 'infinity')))
    UNION ALL
    -- logs of the whole days and hours that the flusher has not folded in yet
    SELECT p.executed_at, p.execution_time_seconds, p.status, p.category, p.workflow_version,
           p.workflow_error_type, p.workflow_error_node, p.error_fingerprint
      FROM logs_rollup_pending p
     WHERE p.client_id = %(client)s
       AND ((p.executed_at >= %(d0)s::timestamptz AND p.executed_at < %(d1)s::timestamptz)
         OR (p.executed_at >= %(ha0)s::timestamptz AND p.executed_at < %(ha1)s::timestamptz)
         OR (p.executed_at >= %(hb0)s::timestamptz AND p.executed_at < %(hb1)s::timestamptz))
)
SELECT 'v'::text, NULL::"char", NULL::timestamptz, NULL::text, NULL::text, NULL::text, NULL::smallint,
       version, NULL::bigint, NULL::float8, NULL::timestamptz, NULL::timestamptz
  FROM v
UNION ALL
(SELECT 's', kind, {bucket} AS b, dim1, dim2, status, bin, sum(n)::bigint, sum(time_n)::bigint, sum(time_sum),
        min(first_at), max(last_at)
   FROM logs_rollup
  WHERE (SELECT version FROM v) <> %(cached)s::bigint
    AND client_id = %(client)s AND kind = ANY('{kinds}'::"char"[]) AND (
        (grain = 'd' AND bucket >= %(d0)s::timestamptz AND bucket < %(d1)s::timestamptz)
     OR (grain = 'h' AND bucket >= %(ha0)s::timestamptz AND bucket < %(ha1)s::timestamptz)
     OR (grain = 'h' AND bucket >= %(hb0)s::timestamptz AND bucket < %(hb1)s::timestamptz))
  GROUP BY kind, b, dim1, dim2, status, bin)
{live}
"""
# The `live` logs summed per kind exactly as logs_rollup_rows (migration 0005) sums them, for
# the kinds asked only. Written out rather than calling that function: PostgreSQL cannot inline
# it and plans its six aggregates on every call (~4 ms for a few hundred logs).
_LIVE_KINDS = {
    "S": """SELECT 'l', 'S'::"char", {b}, NULL, NULL, status, -1::smallint, count(*), count(ets),
               coalesce(sum(ets), 0), NULL, NULL FROM live GROUP BY 3, status""",
    "H": """SELECT 'l', 'H'::"char", {b}, NULL, NULL, NULL, logs_rollup_bin(ets), count(*), count(*), 0, NULL, NULL
              FROM live WHERE ets IS NOT NULL GROUP BY 3, 7""",
    "C": """SELECT 'l', 'C'::"char", {b}, category, NULL, status, -1::smallint, count(*), count(ets),
               coalesce(sum(ets), 0), NULL, NULL FROM live GROUP BY 3, category, status""",
    "E": """SELECT 'l', 'E'::"char", {b}, workflow_error_type, workflow_error_node, NULL, -1::smallint, count(*), 0, 0,
               NULL, max(executed_at) FROM live WHERE status IN ('FAILED', 'ERROR') OR workflow_error_type IS NOT NULL
             GROUP BY 3, workflow_error_type, workflow_error_node""",
    "V": """SELECT 'l', 'V'::"char", {b}, workflow_version, NULL, status, -1::smallint, count(*), count(ets),
               coalesce(sum(ets), 0), min(executed_at), max(executed_at) FROM live GROUP BY 3, workflow_version, status""",
    "W": """SELECT 'l', 'W'::"char", {b}, workflow_version, NULL, NULL, logs_rollup_bin(ets), count(*), count(*), 0,
               NULL, NULL FROM live WHERE ets IS NOT NULL GROUP BY 3, workflow_version, 7""",
    "F": """SELECT 'l', 'F'::"char", {b}, fingerprint, workflow_version, NULL, -1::smallint, count(*), 0, 0,
               min(executed_at), max(executed_at) FROM live
             WHERE status IN ('FAILED', 'ERROR') OR workflow_error_type IS NOT NULL
             GROUP BY 3, fingerprint, workflow_version""",
}


def _read_db() -> str:
    return router.db_for_read(WorkflowLog)


def read(client: Client, *, kinds: str, interval: str | None, period: dict[str, Any],
         cached_version: int) -> list[tuple[Any, ...]]:
    """The rows of `kinds` over the period (`period`: the bounds d0/d1, ha*/hb*, ra*/rb* of
    metrics.rollup.split_period) for `client`: first ('v', ..., version, ...), then the stored
    rollup summed per group ('s', ...) unless the client's version is `cached_version`, then the
    pending rows and raw edges summed the same way ('l', ...). Each row after the first:
    (tag, kind, bucket, dim1, dim2, status, bin, n, time_n, time_sum, first_at, last_at).
    `interval`: None (no bucket), "day" or "hour" (then only `h` rollup rows are used)."""
    assert kinds and set(kinds) <= set(_LIVE_KINDS)  # written into the statement below
    params = {"client": client.pk, **period, "cached": cached_version}
    # By hour, every stored row used is an `h` row, already the start of its hour.
    bucket = {None: "NULL::timestamptz", "hour": "bucket"}.get(interval, "date_trunc('day', bucket, 'UTC')")
    live_bucket = {None: "NULL::timestamptz"}.get(interval, f"date_trunc('{interval}', executed_at, 'UTC')")
    live = "".join(f"UNION ALL ({_LIVE_KINDS[kind].format(b=live_bucket)})\n" for kind in kinds)
    # A 90-day series by hour aggregates ~150,000 rollup rows: its hash and sort get room in
    # memory (PostgreSQL's default 4 MB spills them to disk), for that statement's transaction.
    by_hour = interval == "hour"
    using = _read_db()
    db = connections[using]
    with transaction.atomic(using=using) if by_hour else nullcontext():
        if by_hour:
            with db.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = '32MB'")
        # One statement text per (kinds, interval), prepared on the server (~0.6 ms of planning
        # saved per request; central_logger/postgres/base.py).
        return db.fetch_prepared(_SQL.format(bucket=bucket, live=live, kinds="{" + ",".join(kinds) + "}"), params)


_PERIOD_KEYS = ("d0", "d1", "ha0", "ha1", "hb0", "hb1", "ra0", "ra1", "rb0", "rb1")
# Positional parameters: client, kind, statuses, dims, the ten period bounds, cached version.
_COUNT_SQL = (
    'SELECT version, stored, live FROM logs_list_count(%s, %s::"char", %s::text[], %s::text[], '
    + ", ".join(["%s::timestamptz"] * len(_PERIOD_KEYS)) + ", %s::bigint)"
)


def list_count(client: Client, *, kind: str, statuses: list[str] | None, dims: list[str] | None,
               period: dict[str, Any], cached_version: int) -> tuple[str, list[Any]]:
    """The statement of a list's total from the rollup (`logs_list_count()`, migration 0009):
    (version, stored, live); `stored` is NULL while the client's version is `cached_version`.
    `kind`: 'S' (statuses only), 'C' (dims are categories) or 'V' (workflow versions)."""
    return _COUNT_SQL, [client.pk, kind, statuses, dims, *(period[k] for k in _PERIOD_KEYS), cached_version]


def run_list_count(statement: tuple[str, list[Any]]) -> tuple[Any, ...]:
    """The one row of a `list_count()` statement sent alone (prepared on the server)."""
    (row,) = connections[_read_db()].fetch_prepared(*statement)
    return row


def recount(client: Client) -> None:
    """Recount the rollup and the usage rollup of `client` from its logs, in one transaction holding the client's
    exclusive rollup lock (migration 0005), 31 days at a time."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(727001, (%s %% 2147483647)::int)", [client.pk])
        cursor.execute("DELETE FROM logs_rollup WHERE client_id = %s", [client.pk])
        # the usage rollup too (logs migration 0018): logs_rollup_recount recounts both per day
        cursor.execute("DELETE FROM logs_usage_rollup WHERE client_id = %s", [client.pk])
        cursor.execute("SELECT min(executed_at), max(executed_at) FROM workflow_logs WHERE client_id = %s", [client.pk])
        first, last = cursor.fetchone()
        if first is None:
            return
        # Whole UTC days: logs_rollup_recount replaces the rollup of [day, day + 31 days).
        cursor.execute(
            "SELECT logs_rollup_recount(%s, d, d + interval '31 days') FROM generate_series("
            "date_trunc('day', %s::timestamptz, 'UTC'), %s::timestamptz, interval '31 days') AS d",
            [client.pk, first, last])


def row_count(client: Client) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM logs_rollup WHERE client_id = %s", [client.pk])
        return int(cursor.fetchone()[0])


def change_token(client: Client) -> tuple[int, int]:
    """(rollup version, pending rows) of `client`: changes whenever one of its logs is stored
    (a pending row at once, a new version at the next flush), deleted or updated (a recount
    gives a new version). Two index probes."""
    sql = ("SELECT coalesce((SELECT version FROM logs_rollup_version WHERE client_id = %s), 0), "
           "(SELECT count(*) FROM logs_rollup_pending WHERE client_id = %s)")
    with connections[_read_db()].cursor() as cursor:
        cursor.execute(sql, [client.pk, client.pk])
        version, pending = cursor.fetchone()
        return int(version), int(pending)
