"""The usage rollup's statements (logs migrations 0018, 0020): one tenant's sums of its numeric token and
cost metrics per bucket, category or workflow version over a period, from the stored rollup,
the pending signed rows and the raw edges of the period, in one statement (one snapshot: a log
is counted in exactly one of the three, as in logs/tenant_sql/rollup.py).
"""
from __future__ import annotations

from typing import Any

from django.db import connections, router

from logs.models import WorkflowLog
from tenants.models import Client

_SQL = """
WITH live AS MATERIALIZED (
    -- the partial hours at the edges, from the logs themselves
    SELECT w.executed_at, w.category, w.workflow_version, u.key, 1 AS n, u.value AS total
      FROM workflow_logs w CROSS JOIN LATERAL logs_usage_each(w.metrics) AS u
     WHERE w.client_id = %(client)s
       AND ((w.executed_at >= %(ra0)s::timestamptz AND w.executed_at < %(ra1)s::timestamptz)
         OR (w.executed_at >= %(rb0)s::timestamptz AND w.executed_at < %(rb1)s::timestamptz))
    UNION ALL
    -- signed sums of the whole days and hours that the flusher has not folded in yet (per UTC
    -- hour: every bound below is a whole hour, logs migration 0020)
    SELECT p.hour, p.category, p.workflow_version, p.key, p.n, p.total
      FROM logs_usage_pending p
     WHERE p.client_id = %(client)s
       AND ((p.hour >= %(d0)s::timestamptz AND p.hour < %(d1)s::timestamptz)
         OR (p.hour >= %(ha0)s::timestamptz AND p.hour < %(ha1)s::timestamptz)
         OR (p.hour >= %(hb0)s::timestamptz AND p.hour < %(hb1)s::timestamptz))
)
SELECT g, key, sum(n)::bigint, sum(total) FROM (
    SELECT {bucket} AS g, key, n, total
      FROM logs_usage_rollup
     WHERE client_id = %(client)s AND kind = %(kind)s::"char" AND (
           (grain = 'd' AND bucket >= %(d0)s::timestamptz AND bucket < %(d1)s::timestamptz)
        OR (grain = 'h' AND bucket >= %(ha0)s::timestamptz AND bucket < %(ha1)s::timestamptz)
        OR (grain = 'h' AND bucket >= %(hb0)s::timestamptz AND bucket < %(hb1)s::timestamptz))
    UNION ALL
    SELECT {live_group}, live.key, live.n, live.total FROM live
) AS s
GROUP BY g, key
"""

# group: (rollup kind, the stored rows' group value, the live rows' group value)
_GROUPS = {
    "period": ("T", "NULL::timestamptz", "NULL::timestamptz"),
    "day": ("T", "date_trunc('day', bucket, 'UTC')", "date_trunc('day', live.executed_at, 'UTC')"),
    "hour": ("T", "bucket", "date_trunc('hour', live.executed_at, 'UTC')"),
    "category": ("C", "dim1", "live.category"),
    "workflow_version": ("V", "dim1", "live.workflow_version"),
}


def usage_sums(client: Client, *, group: str, period: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(group value, usage key, logs carrying it, exact sum as Decimal) of the logs of `client`
    over the period (group "period": one group, value None) (`period`: the bounds of metrics.rollup.period_params; by "hour" only hour
    rows and raw edges, so whole days must not be asked for). Rows whose signed count is not
    positive are left to the caller (a key that no log of the group carries any more)."""
    kind, bucket, live_group = _GROUPS[group]
    params = {"client": client.pk, "kind": kind, **period}
    sql = _SQL.format(bucket=bucket, live_group=live_group)
    return connections[router.db_for_read(WorkflowLog)].fetch_prepared(sql, params)
