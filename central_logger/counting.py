"""Counting rows without counting the world: bounded counts and the planner's estimates.

One implementation for the read API's list totals (logs/tenant_sql/reads.py) and the operator
console's paginator (console/admin_list.py). Each takes the SQL of the rows to count, from code.
"""
from __future__ import annotations

from typing import Any

import orjson
from django.db import OperationalError, transaction


def count_at_most(connection: Any, sql: str, params: list[Any] | tuple[Any, ...], limit: int, *,
                  timeout_ms: int | None = None) -> int | None:
    """How many rows `sql` returns, counting at most `limit` of them. With `timeout_ms`, None
    when PostgreSQL needed longer (the count is cancelled, in a savepoint of its own)."""
    bounded = f"SELECT count(*) FROM ({sql} LIMIT %s) AS bounded"
    if timeout_ms is None:
        with connection.cursor() as cursor:
            cursor.execute(bounded, [*params, limit])
            return int(cursor.fetchone()[0])
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = %s", [timeout_ms])
        try:
            with transaction.atomic(using=connection.alias):  # a savepoint: a timeout rolls back only this
                cursor.execute(bounded, [*params, limit])
                return int(cursor.fetchone()[0])
        except OperationalError:  # canceling statement due to statement timeout
            return None


def plan_rows(connection: Any, sql: str, params: list[Any] | tuple[Any, ...]) -> int:
    """PostgreSQL's row estimate for `sql` (EXPLAIN: nothing runs)."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, (str, bytes)):
        plan = orjson.loads(plan)
    return _rows(plan[0]["Plan"])


def _rows(node: dict[str, Any]) -> int:
    # On a Citus cluster the coordinator's plan is a Custom Scan estimating nothing (0 rows); the
    # estimate is the sum of its tasks' plans on the workers (one task for one tenant).
    job = node.get("Distributed Query", {}).get("Job")
    if job and job.get("Tasks"):
        return sum(_rows(task["Remote Plan"][0][0]["Plan"]) for task in job["Tasks"] if task.get("Remote Plan"))
    return int(node["Plan Rows"])


def table_rows(connection: Any, table: str) -> int | None:
    """PostgreSQL's own row estimate of a table (pg_class.reltuples), if known; of a partitioned
    table, the sum of its partitions' (autovacuum analyses partitions, never their parent)."""
    with connection.cursor() as cursor:
        # -1 means a table was never vacuumed or analysed: no estimate yet.
        cursor.execute(
            "SELECT (CASE WHEN r.relkind = 'p' THEN (SELECT sum(c.reltuples) FILTER (WHERE c.reltuples >= 0) "
            "FROM pg_partition_tree(r.oid) t JOIN pg_class c ON c.oid = t.relid WHERE t.isleaf) "
            "WHEN r.reltuples >= 0 THEN r.reltuples END)::bigint FROM pg_class r WHERE r.oid = %s::regclass", [table])
        row = cursor.fetchone()
        if not (row and row[0]):  # unknown, or the empty shell of a Citus table: its shards know
            row = _shard_rows(cursor, table) or row
    return int(row[0]) if row and row[0] is not None else None


# On a Citus coordinator a distributed table (and its partitions) is an empty shell: the rows
# and their statistics are in the shards on the workers. Each shard's estimate, summed.
_SHARD_ROWS = ("SELECT sum(c.reltuples) FILTER (WHERE c.reltuples >= 0)::bigint FROM pg_partition_tree('%s'::regclass) t "
               "JOIN pg_class c ON c.oid = t.relid WHERE t.isleaf")


def _shard_rows(cursor: Any, table: str) -> tuple[int] | None:
    cursor.execute("SELECT to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return None
    cursor.execute("SELECT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = %s::regclass AND partmethod = 'h')",
                   [table])
    if not cursor.fetchone()[0]:
        return None
    cursor.execute("SELECT sum(nullif(result, '')::bigint) FROM run_command_on_shards(%s, %s) WHERE success",
                   [table, _SHARD_ROWS])
    row = cursor.fetchone()
    return (int(row[0]),) if row and row[0] is not None else None
