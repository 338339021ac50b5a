"""The tenant tables on a Citus cluster: distributing them by tenant (`manage.py citus_setup`)
and the few statements that differ there.

Layout (README, "Scaling past one machine"):
* distributed by `client_id`, co-located with `workflow_logs` (a tenant's logs, rollup,
  pending rows, rollup version, idempotency keys and OpenTelemetry spans live in one shard group
  on one worker, so every statement of one tenant is routed to that worker as one task):
  DISTRIBUTED below;
* reference tables (a copy on every node, joinable from any shard): the tenants and their keys,
  REFERENCE below;
* everything else stays on the coordinator: small per-tenant configuration and state (alert
  rules, their events and deliveries, scrubbing settings, saved views, model prices), the
  dashboard's users and Django's own tables. Their primary keys are plain ids, which Citus would
  need to lead with `client_id`; no statement joins them to a distributed table.

The rollup triggers (migrations 0005-0016) stay what they are and run on the shards
(`citus.enable_unsafe_triggers`): every statement in them is scoped to the clients of the rows
that fired them, whose rollup, pending rows, version and event ids are in co-located shards on
the same worker, so Citus executes them locally inside the worker's transaction (it refuses a
trigger that would reach another node) and they are exactly as atomic as on one server. Two
things are redefined for the cluster (here, not in a migration, so one server is unchanged):
* the flush runs per client, delegated to the worker holding that client
  (`logs_rollup_flush_client`, a distributed function): its advisory lock must be taken on the
  node where the insert and recount triggers take theirs, and a ctid is only meaningful on one
  shard;
* the rollup version: a sequence lives on one node, and the version trigger runs on every
  worker. Readers only need a client's version to change whenever its stored rollup changes,
  never to come back to an earlier value: on the cluster it is the greater of the old value + 1
  and the clock in microseconds (a version row deleted and made again starts above every value
  given before it, unless a node's clock goes back).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

from logs.tenant_sql.citus_functions import ANCHOR, DISTRIBUTED, _one, _run, dangerously_adapt_functions

# ANCHOR (the log table) and DISTRIBUTED (co-located with it, by client_id, in this order):
# citus_functions.py, whose trigger adaptations are about the same tables.
REFERENCE = ("tenants_client", "tenants_apikey")

# Citus needs the distribution column in every unique constraint: the log table's primary key
# (id, executed_at) gains client_id in front (the same rows are unique; lookups by id are
# tenant-scoped anyway).
_LOG_PRIMARY_KEY = (
    "ALTER TABLE workflow_logs DROP CONSTRAINT workflow_logs_pkey, "
    "ADD CONSTRAINT workflow_logs_pkey PRIMARY KEY (client_id, id, executed_at)"
)

@dataclass
class Report:
    added_nodes: list[str] = field(default_factory=list)
    distributed: list[str] = field(default_factory=list)
    reference: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    moved_rows: dict[str, int] = field(default_factory=dict)


class CitusUnavailable(Exception):
    """The server cannot run Citus (the extension is not installed or not preloaded)."""


def is_active() -> bool:
    """Is the log table distributed on this database (the Citus code paths apply)?"""
    if not _one("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')"):
        return False  # (pg_dist_partition is Citus's: a statement naming it fails without it)
    return bool(_one("SELECT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'workflow_logs'::regclass)"))


_active: list[bool] = []  # this process's answer of is_active(), once asked


def is_active_cached() -> bool:
    """is_active(), asked once per process (an app process started before citus_setup must be
    restarted: README, "Scaling past one machine")."""
    if not _active:
        _active.append(is_active())
    return _active[0]


def forget() -> None:
    _active.clear()


def ensure_extension() -> None:
    if not _one("SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'citus')"):
        raise CitusUnavailable("the Citus extension is not installed on this PostgreSQL server "
                               "(install it on every node, e.g. /work/shared/citus/build.sh, or use a managed Citus)")
    if "citus" not in (_one("SHOW shared_preload_libraries") or ""):
        raise CitusUnavailable("Citus is installed but not loaded: add shared_preload_libraries = 'citus' to "
                               "postgresql.conf on every node and restart them")
    _run("CREATE EXTENSION IF NOT EXISTS citus")


def _known_nodes() -> set[tuple[str, int]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nodename, nodeport FROM pg_dist_node")
        return {(host, int(port)) for host, port in cursor.fetchall()}


def add_nodes(coordinator: tuple[str, int] | None, workers: list[tuple[str, int]], report: Report) -> None:
    """Register the coordinator (once) and each worker not known yet."""
    if coordinator and not _one("SELECT EXISTS (SELECT FROM pg_dist_node WHERE groupid = 0)"):
        _run("SELECT citus_set_coordinator_host(%s, %s)", list(coordinator))
        report.added_nodes.append(f"{coordinator[0]}:{coordinator[1]} (coordinator)")
    known = _known_nodes()
    for host, port in workers:
        if (host, port) not in known:
            _run("SELECT citus_add_node(%s, %s)", [host, port])
            report.added_nodes.append(f"{host}:{port}")


def worker_count() -> int:
    return int(_one("SELECT count(*) FROM pg_dist_node WHERE groupid <> 0 AND isactive"))


def _citus_tables() -> dict[str, str]:
    """table name -> 'distributed' / 'reference' / 'local' of the Citus tables."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name::text, citus_table_type FROM citus_tables")
        return dict(cursor.fetchall())


def _row_count(table: str) -> int:
    return int(_one(f"SELECT count(*) FROM {table}"))  # noqa: S608 - a name of ours


def _detach_foreign_keys(tables: list[str]) -> list[tuple[str, str, str]]:
    """Drop the foreign keys of `tables` (to tenants_client) and return them (table, name,
    definition): a local table's foreign key to the table becoming a reference table would make
    Citus convert it to a coordinator-local table, which the partitioned log table cannot be,
    and a distributed table cannot reference a local one. They are added back once the tables
    are distributed (distributed -> reference is allowed)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                       "WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s) AND conparentid = 0 ORDER BY 1, 2",
                       [tables])
        keys = cursor.fetchall()
        for table, name, _definition in keys:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return keys


def _distribute_tables(shard_count: int | None, report: Report) -> None:
    tables = _citus_tables()
    keys = _detach_foreign_keys([table for table in (ANCHOR, *DISTRIBUTED) if table not in tables])
    for table in REFERENCE:
        if table not in tables:
            report.moved_rows[table] = _row_count(table)
            _run("SELECT create_reference_table(%s)", [table])
            report.reference.append(table)
    if ANCHOR not in tables:
        if "client_id" not in (_one("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                                    "WHERE conname = 'workflow_logs_pkey'") or ""):
            _run(_LOG_PRIMARY_KEY)
        report.moved_rows[ANCHOR] = _row_count(ANCHOR)
        _run("SELECT create_distributed_table(%s, 'client_id', shard_count => %s)",
             [ANCHOR, shard_count or int(_one("SHOW citus.shard_count"))])
        report.distributed.append(ANCHOR)
    for table in DISTRIBUTED:
        if table not in tables:
            report.moved_rows[table] = _row_count(table)
            _run("SELECT create_distributed_table(%s, 'client_id', colocate_with => %s)", [table, ANCHOR])
            report.distributed.append(table)
    for table, name, definition in keys:
        _run(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    # Shard moves (adding a node, rebalancing) copy a shard and then replay the writes made
    # meanwhile by logical replication, which needs a replica identity: the tables without a
    # primary key (the rollup's key has nullable columns; the pending rows have none) log
    # whole old rows.
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname FROM pg_class c WHERE c.relname = ANY(%s) AND c.relreplident = 'd' "
                       "AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')",
                       [[ANCHOR, *DISTRIBUTED]])
        for (table,) in cursor.fetchall():
            cursor.execute(f"ALTER TABLE {table} REPLICA IDENTITY FULL")
            report.functions.append(f"{table}: REPLICA IDENTITY FULL")


def dangerously_distribute(*, shard_count: int | None, report: Report) -> None:
    """Distribute the tenant tables and adapt their functions, in the caller's transaction
    (idempotent: what is distributed or adapted already is skipped). Existing rows are copied
    to the workers by Citus."""
    _run("SET LOCAL citus.enable_unsafe_triggers = on")
    _run("SET LOCAL citus.multi_shard_modify_mode = 'sequential'")
    _distribute_tables(shard_count, report)
    report.functions += dangerously_adapt_functions()


def persist_settings(database: str, *, node_connection_timeout_ms: int) -> None:
    """What every later session needs: triggers allowed on distributed tables (new partitions
    are distributed with the log table's triggers), and multi-shard writes and DDL over one
    connection per node (Citus requires it in a transaction that already wrote a table with a
    foreign key to a reference table, e.g. a new partition made in an ingesting transaction;
    every request-path statement is one tenant's, on one shard, anyway).

    And how long the coordinator waits for a connection to a worker: Citus's 30 s default is far
    past the ingestion budget (INGEST_DB_TIMEOUT_MS) and the client's 3 s. With a worker
    unreachable, the coordinator must give up first and say so (SQLSTATE 08006, which opens the
    breaker of that worker's tenants only: central_logger/dbguard.py); else the statement_timeout
    or our client-side deadline ends the wait, which looks like the whole database being away."""
    for name, value in (("citus.enable_unsafe_triggers", "on"), ("citus.multi_shard_modify_mode", "sequential"),
                        ("citus.node_connection_timeout", str(int(node_connection_timeout_ms)))):
        _run(f'ALTER DATABASE "{database}" SET {name} = {value}')
        _run(f"SET {name} = {value}")  # this session too (ALTER DATABASE is for the next ones)


def shard_placements() -> list[tuple[str, int, int]]:
    """(node, port, shards of the log table) per worker."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nodename, nodeport, count(*) FROM citus_shards WHERE table_name = 'workflow_logs'::regclass "
                       "GROUP BY 1, 2 ORDER BY 1, 2")
        return [(host, int(port), int(n)) for host, port, n in cursor.fetchall()]


def dangerously_pending_clients() -> list[int]:
    """The clients with logs or usage rows waiting to be folded into the rollups (every shard)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT client_id FROM logs_rollup_pending UNION SELECT client_id FROM logs_usage_pending "
                       "ORDER BY 1")
        return [client_id for (client_id,) in cursor.fetchall()]


def dangerously_flush_client(client_id: int, max_rows: int) -> int:
    """Fold up to `max_rows` pending logs of one client, on the worker that holds them (the call
    is delegated there; it commits there, so the caller must not be inside a transaction)."""
    return int(_one("SELECT logs_rollup_flush_client(%s, %s)", [client_id, max_rows]))


# A partition detached from the distributed log table keeps, on each of its shards, the foreign
# key under the name of the parent's shard it was cloned from (`<key>_<parent shard id>`), while
# Citus names a shard's constraint after the shard itself: `ALTER TABLE <detached> DROP
# CONSTRAINT <key>` would look for `<key>_<its own shard id>` and fail. Renaming each shard's
# foreign keys to the names Citus expects (on every shard, by the workers) lets the ordinary
# statement then drop them everywhere. Our constraint names are short enough that Citus appends
# the shard id without hashing (a name of 63 characters with it is left as it is).
_ALIGN_FOREIGN_KEY_NAMES = r"""DO $align$
DECLARE
    r record;
    wanted text;
BEGIN
    FOR r IN SELECT conname FROM pg_constraint WHERE conrelid = '%1$s'::regclass AND contype = 'f' LOOP
        wanted := regexp_replace(r.conname, '_[0-9]+$', substring('%1$s' FROM '_[0-9]+$'));
        IF wanted <> r.conname AND length(wanted) < 63 THEN
            EXECUTE format('ALTER TABLE %%s RENAME CONSTRAINT %%I TO %%I', '%1$s', r.conname, wanted);
        END IF;
    END LOOP;
END
$align$"""


def dangerously_align_shard_foreign_keys(table: str) -> None:
    """Give the foreign keys on the shards of the detached partition `table` the names Citus
    expects (above), so that they can be dropped by name. Each shard's rename commits on its
    worker at once (run_command_on_shards); running it again changes nothing."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT shardid, result FROM run_command_on_shards(%s, %s) WHERE NOT success",
                       [table, _ALIGN_FOREIGN_KEY_NAMES])
        failed = cursor.fetchall()
    if failed:
        raise RuntimeError(f"renaming the foreign keys of {table}'s shards failed: {failed}")

