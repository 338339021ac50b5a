"""Writes of the metrics app: recounting the rollup from the logs (the backfill and repair)."""
from __future__ import annotations

from logs.tenant_sql import rollup
from logs.tenant_sql.across_tenants import dangerously_analyze_rollup, dangerously_recount_every_rollup
from tenants.models import Client


def rollup_rebuild(*, client: Client | None = None) -> int:
    """Recount the metrics rollup of `client` (or of every client) from its logs; returns the
    number of rollup rows (of that client, or of all).

    The triggers keep the rollup exact as logs come and go; this is the backfill (after a bulk
    load with triggers disabled) and the repair. Per client, in one transaction holding the
    client's exclusive rollup lock, 31 days at a time.
    """
    if client is None:
        return dangerously_recount_every_rollup()
    rollup.recount(client)
    dangerously_analyze_rollup()
    return rollup.row_count(client)
