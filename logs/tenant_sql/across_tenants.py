"""The escape hatch: statements over the tenant tables that are not scoped to one tenant.

Only maintenance needs them (folding every tenant's pending rows into the metrics rollup, the
backfill of every client's rollup); no request path calls them. Each name starts with
`dangerously_` so that every departure from the tenant scope is visible where it is called.
"""
from __future__ import annotations

from django.db import connection, transaction

from logs.tenant_sql import citus, rollup
from tenants.models import Client


def dangerously_flush_rollups(max_rows: int) -> int:
    """Fold up to `max_rows` pending logs, and up to `max_rows` pending usage rows (logs
    migration 0018), of any tenants, into the rollups (one transaction: a row leaves its pending
    table and enters its rollup at one commit); returns how many rows moved in all.
    On a Citus cluster one transaction per client, on the worker that holds it (citus.py)."""
    if citus.is_active_cached():
        total = 0
        for client_id in citus.dangerously_pending_clients():
            total += citus.dangerously_flush_client(client_id, max_rows - total)
            if total >= max_rows:
                break
        return total
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT logs_rollup_flush(%s) + logs_usage_flush(%s)", [max_rows, max_rows])
        return int(cursor.fetchone()[0])


def dangerously_vacuum_pending() -> None:
    """VACUUM the pending table (autocommit; it is small once flushed). Its rows are all
    inserted and deleted within seconds, so where autovacuum is off or slow the flusher keeps
    it from bloating.

    Without truncating its empty tail: that needs the table's ACCESS EXCLUSIVE lock, which
    every ingesting transaction's RowExclusive lock on it (the insert trigger) conflicts with.
    Under load VACUUM waited for it until the statement timeout cancelled it (seen in the
    benchmark: "canceling statement due to statement timeout while truncating relation"),
    and the freed pages are reused by the next inserts anyway."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (TRUNCATE false) logs_rollup_pending, logs_usage_pending")


def dangerously_count_pending() -> int:
    """Logs of every tenant not yet folded into the rollup."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM logs_rollup_pending")
        return int(cursor.fetchone()[0])


def dangerously_recount_every_rollup() -> int:
    """Recount the rollup of every client that has logs, drop the rollup rows of clients that
    have none, refresh the rollup's statistics; returns the number of rollup rows."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT client_id FROM workflow_logs ORDER BY 1")
        client_ids = [row[0] for row in cursor.fetchall()]
        cursor.execute("DELETE FROM logs_rollup WHERE NOT client_id = ANY(%s)", [client_ids])
        cursor.execute("DELETE FROM logs_rollup_pending WHERE NOT client_id = ANY(%s)", [client_ids])
        cursor.execute("DELETE FROM logs_usage_rollup WHERE NOT client_id = ANY(%s)", [client_ids])
        cursor.execute("DELETE FROM logs_usage_pending WHERE NOT client_id = ANY(%s)", [client_ids])
    for client in Client.objects.filter(pk__in=client_ids).order_by("pk"):
        rollup.recount(client)
    return dangerously_analyze_rollup()


def dangerously_analyze_rollup() -> int:
    """Fresh statistics after a recount (the planner must know the rollup is no longer tiny,
    for hash aggregation); returns the number of rollup rows of all tenants."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE logs_rollup")
        cursor.execute("ANALYZE logs_usage_rollup")
        cursor.execute("SELECT count(*) FROM logs_rollup")
        return int(cursor.fetchone()[0])


def dangerously_latest_logs(client_ids: list[int]) -> dict[int, object]:
    """The newest executed_at of each of `client_ids` (a page of the operator console's clients),
    in one statement: one LIMIT 1 probe of the (client, executed_at) index per client, joined by
    UNION ALL. The console's correlated subquery does the same on one server; Citus refuses a
    correlated subquery beside a reference table (the clients), while each branch here names
    one tenant and is routed to the worker holding it."""
    if not client_ids:
        return {}
    branch = "(SELECT client_id, executed_at FROM workflow_logs WHERE client_id = %s ORDER BY executed_at DESC LIMIT 1)"
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join([branch] * len(client_ids)), list(client_ids))
        return dict(cursor.fetchall())
