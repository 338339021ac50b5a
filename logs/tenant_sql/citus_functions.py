"""The SQL functions of the tenant tables, adapted to a Citus cluster by `manage.py citus_setup`
(logs/tenant_sql/citus.py says why each change is needed; one server is never changed).

Idempotent: every adaptation checks whether it was made already, so running it twice changes
nothing, and a later migration's new body of a function is adapted by the next run.
"""
from __future__ import annotations

import re

from django.db import connection

ANCHOR = "workflow_logs"
DISTRIBUTED = ("logs_event_ids", "logs_rollup", "logs_rollup_pending", "logs_rollup_version", "trace_spans",
               "trace_log_records", "logs_usage_rollup", "logs_usage_pending", "logs_search_docs",
               "logs_search_pending")


def _one(sql: str, params: list | None = None):  # noqa: ANN202 - a scalar of any type
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        row = cursor.fetchone()
        return row[0] if row else None


def _run(sql: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)  # None: the text is sent as it is (a function body's `%`)


_FLUSH_CLIENT = r"""
CREATE OR REPLACE FUNCTION logs_rollup_flush_client(p_client bigint, max_rows integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    moved logs_rollup_input[];
    used logs_usage_pending[];
BEGIN
    PERFORM pg_advisory_xact_lock_shared(727001, (p_client % 2147483647)::int);
    WITH taken AS (
        DELETE FROM logs_rollup_pending p
         WHERE p.client_id = p_client
           AND p.ctid = ANY(ARRAY(SELECT q.ctid FROM logs_rollup_pending q WHERE q.client_id = p_client
                                  LIMIT max_rows FOR UPDATE SKIP LOCKED))
        RETURNING p.*
    )
    SELECT array_agg(ROW(t.client_id, t.executed_at, t.execution_time_seconds, t.status, t.category,
                         t.workflow_version, t.workflow_error_type, t.workflow_error_node,
                         t.error_fingerprint)::logs_rollup_input)
      INTO moved FROM taken t;
    PERFORM logs_rollup_add_isolating(moved);
    WITH taken AS (
        DELETE FROM logs_usage_pending p
         WHERE p.client_id = p_client
           AND p.ctid = ANY(ARRAY(SELECT q.ctid FROM logs_usage_pending q WHERE q.client_id = p_client
                                  LIMIT max_rows FOR UPDATE SKIP LOCKED))
        RETURNING p.*
    )
    SELECT array_agg(ROW(t.client_id, t.hour, t.category, t.workflow_version, t.key, t.n,
                         t.total)::logs_usage_pending)
      INTO used FROM taken t;
    PERFORM logs_usage_add(used);
    RETURN coalesce(cardinality(moved), 0) + coalesce(cardinality(used), 0);
END
$$
"""

_BUMP_VERSION = r"""
CREATE OR REPLACE FUNCTION logs_rollup_bump_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO logs_rollup_version AS v (client_id, version)
    SELECT c, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
      FROM (SELECT DISTINCT client_id AS c FROM changed ORDER BY 1) AS touched
    ON CONFLICT (client_id) DO UPDATE SET version = greatest(v.version + 1, excluded.version);
    RETURN NULL;
END
$$
"""


# A trigger's transition table (`new_rows`, `old_rows`, `changed`) is a tuplestore of the shard
# it fired on; Citus re-plans any statement naming a distributed table and loses it ("executor
# could not find named tuplestore"). On the cluster each trigger function first copies its
# transition tables into arrays of the table's row type, and reads `unnest(array) AS <name>`
# wherever it read the transition table (same column names, same alias). Derived from the
# functions in the database, so a later migration's new body is converted by the next run.
_TRANSITION_READ = (r"\b(FROM|JOIN|USING)\s+({names})\b(?:\s+(?:AS\s+)?(?!(?:WHERE|ON|ORDER|GROUP|LEFT|RIGHT|INNER|JOIN"
                    r"|UNION|LIMIT|USING|CROSS|FULL|HAVING|WINDOW|EXCEPT|INTERSECT)\b)([a-z_][a-z0-9_]*))?")
_MARK = "-- citus: transition tables as arrays"


def _convert_trigger_body(body: str, table: str, transition: list[str]) -> str:
    names = "|".join(transition)

    def read(match: re.Match) -> str:
        return f"{match.group(1)} unnest(_citus_{match.group(2)}) AS {match.group(3) or match.group(2)}"

    converted = re.sub(_TRANSITION_READ.format(names=names), read, body, flags=re.IGNORECASE)
    declarations = "".join(f"\n    _citus_{name} {table}[];" for name in transition)
    copies = "".join(f"\n    _citus_{name} := ARRAY(SELECT ROW(t.*)::{table} FROM {name} t);" for name in transition)
    if re.match(r"\s*DECLARE\b", converted, flags=re.IGNORECASE):
        converted = re.sub(r"\bDECLARE\b", "DECLARE" + declarations, converted, count=1, flags=re.IGNORECASE)
    else:
        converted = "\nDECLARE" + declarations + converted
    return re.sub(r"\bBEGIN\b", f"BEGIN\n    {_MARK}{copies}", converted, count=1, flags=re.IGNORECASE)


def _convert_trigger_functions() -> list[str]:
    """Rewrite the transition-table triggers' functions of the distributed tables (above); the
    functions converted already are skipped. Returns the names converted."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT p.oid::regprocedure::text, p.proname, t.tgrelid::regclass::text, p.prosrc, "
            "array_remove(ARRAY[t.tgoldtable::text, t.tgnewtable::text], NULL) "
            "FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE NOT t.tgisinternal AND (t.tgoldtable IS NOT NULL OR t.tgnewtable IS NOT NULL) "
            "AND t.tgrelid::regclass::text = ANY(%s) ORDER BY 1", [[ANCHOR, *DISTRIBUTED]])
        found = cursor.fetchall()
    by_function: dict[str, tuple[str, str, str, set[str]]] = {}
    for signature, name, table, body, transition in found:
        entry = by_function.setdefault(signature, (name, table, body, set()))
        entry[3].update(transition)
    converted = []
    for signature, (name, table, body, transition) in by_function.items():
        if _MARK in body:
            continue
        new_body = _convert_trigger_body(body, table, sorted(transition))
        _run(f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $citus${new_body}$citus$")
        converted.append(signature)
    return converted


# Statements in triggers may only reach shards on the same node (above). Those that the planner
# cannot pin to one tenant by themselves get it as a constant:
# * the event ids of deleted logs are deleted per client;
# * TRUNCATE (of the log table: its rollup, pending rows and event ids; of the rollup: every
#   version of its clients) names the co-located shards of the shard that fired, found in
#   Citus's metadata (on one server, or on the coordinator's empty shell, the tables themselves).
_LOCAL_TRIGGERS = r"""
CREATE OR REPLACE FUNCTION logs_citus_colocated(fired text, tables text[]) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    shard bigint := substring(fired FROM '_([0-9]+)$')::bigint;
    names text;
BEGIN
    SELECT string_agg(quote_ident(s2.logicalrelid::regclass::text || '_' || s2.shardid), ', ') INTO names
      FROM pg_dist_shard s1
      JOIN pg_dist_partition p1 ON p1.logicalrelid = s1.logicalrelid
      JOIN pg_dist_partition p2 ON p2.colocationid = p1.colocationid
      JOIN pg_dist_shard s2 ON s2.logicalrelid = p2.logicalrelid AND s2.shardminvalue = s1.shardminvalue
     WHERE s1.shardid = shard AND fired = s1.logicalrelid::regclass::text || '_' || s1.shardid
       AND p2.logicalrelid::regclass::text = ANY(tables);
    -- NULL on the coordinator's (empty) shell table: Citus truncates every shard, whose own
    -- triggers do the work on the workers.
    RETURN names;
END
$$;

CREATE OR REPLACE FUNCTION logs_event_ids_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    _citus_old_rows workflow_logs[];
    c bigint;
BEGIN
    -- citus: transition tables as arrays
    _citus_old_rows := ARRAY(SELECT ROW(t.*)::workflow_logs FROM old_rows t);
    FOR c IN SELECT DISTINCT o.client_id FROM unnest(_citus_old_rows) AS o WHERE o.event_id IS NOT NULL ORDER BY 1 LOOP
        DELETE FROM logs_event_ids e USING unnest(_citus_old_rows) AS o
         WHERE e.client_id = c AND o.client_id = c AND o.event_id IS NOT NULL
           AND e.event_id = o.event_id AND e.log_id = o.id;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION logs_rollup_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    shards text := logs_citus_colocated(TG_TABLE_NAME, ARRAY['logs_rollup', 'logs_rollup_pending', 'logs_event_ids', 'logs_usage_rollup', 'logs_usage_pending']);
BEGIN
    -- citus: co-located shards
    IF shards IS NOT NULL THEN
        EXECUTE 'TRUNCATE ' || shards;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION logs_rollup_bump_all_versions() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    shard text := logs_citus_colocated(TG_TABLE_NAME, ARRAY['logs_rollup_version']);
BEGIN
    -- citus: co-located shards
    IF shard IS NOT NULL THEN
        EXECUTE 'UPDATE ' || shard
             || ' SET version = greatest(version + 1, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)';
    END IF;
    RETURN NULL;
END
$$;
"""


# Search (logs migration 0019): a deleted log's doc and queue row are deleted per client, and
# TRUNCATE names the co-located shards, as for the event ids and the rollup above.
_SEARCH_TRIGGERS = r"""
CREATE OR REPLACE FUNCTION logs_search_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    _citus_old_rows workflow_logs[];
    c bigint;
BEGIN
    -- citus: transition tables as arrays
    _citus_old_rows := ARRAY(SELECT ROW(t.*)::workflow_logs FROM old_rows t);
    FOR c IN SELECT DISTINCT o.client_id FROM unnest(_citus_old_rows) AS o ORDER BY 1 LOOP
        DELETE FROM logs_search_docs d USING unnest(_citus_old_rows) AS o
         WHERE d.client_id = c AND o.client_id = c AND d.log_id = o.id;
        DELETE FROM logs_search_pending p USING unnest(_citus_old_rows) AS o
         WHERE p.client_id = c AND o.client_id = c AND p.log_id = o.id;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION logs_search_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    shards text := logs_citus_colocated(TG_TABLE_NAME, ARRAY['logs_search_docs', 'logs_search_pending']);
BEGIN
    -- citus: co-located shards
    IF shards IS NOT NULL THEN
        EXECUTE 'TRUNCATE ' || shards;
    END IF;
    RETURN NULL;
END
$$;
"""


def _custom_plans(report: list[str]) -> None:
    """Functions pinned to generic plans (logs_list_count, migration 0009: planning saved per
    call) get custom ones: Citus cannot route a statement whose tenant is still a parameter
    ("could not create distributed plan ... parameters in SQL functions")."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT oid::regprocedure::text FROM pg_proc WHERE pronamespace = 'public'::regnamespace "
                       "AND 'plan_cache_mode=force_generic_plan' = ANY(proconfig) ORDER BY 1")
        names = [name for (name,) in cursor.fetchall()]
    for name in names:
        _run(f"ALTER FUNCTION {name} SET plan_cache_mode = force_custom_plan")
        report.append(f"{name} (custom plans)")


def _plpgsql_writers(report: list[str]) -> None:
    """SQL-language functions that write a distributed table (logs_rollup_add) become PL/pgSQL
    with the same body: Citus cannot plan a SQL function's statement with parameters over a
    distributed table, while PL/pgSQL hands it the values (custom plans)."""
    tables = "|".join([ANCHOR, *DISTRIBUTED])
    with connection.cursor() as cursor:
        cursor.execute("SELECT oid::regprocedure::text, proname, pg_get_function_arguments(oid), prosrc FROM pg_proc "
                       "WHERE pronamespace = 'public'::regnamespace AND prorettype = 'void'::regtype "
                       "AND prolang = (SELECT oid FROM pg_language WHERE lanname = 'sql') AND prosrc ~ %s ORDER BY 1",
                       [rf"\m({tables})\M"])
        found = cursor.fetchall()
    for signature, name, arguments, body in found:
        _run(f"CREATE OR REPLACE FUNCTION {name}({arguments}) RETURNS void LANGUAGE plpgsql AS "
             f"$citus$ BEGIN {body.strip().rstrip(';')}; END $citus$")
        report.append(f"{signature} (PL/pgSQL)")


def _distribute_functions(report: list[str]) -> None:
    """Our SQL functions (trigger bodies and what they call) on every node. Functions Citus
    already knows are skipped."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace "
            "AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') "
            "AND NOT EXISTS (SELECT FROM pg_dist_object o WHERE o.classid = 'pg_proc'::regclass AND o.objid = p.oid) "
            "ORDER BY 1")
        names = [name for (name,) in cursor.fetchall()]
    for name in names:
        if name.startswith("logs_rollup_flush_client("):
            continue
        _run("SELECT create_distributed_function(%s)", [name])
        report.append(name)


def dangerously_adapt_functions() -> list[str]:
    """Adapt the functions (every tenant's rows pass through them); returns what changed."""
    changed: list[str] = []
    if "clock_timestamp" not in (_one("SELECT prosrc FROM pg_proc WHERE proname = 'logs_rollup_bump_version'") or ""):
        _run(_BUMP_VERSION)
    if "IF shards IS NOT NULL" not in (_one("SELECT prosrc FROM pg_proc WHERE proname = 'logs_rollup_on_truncate'") or ""):
        _run(_LOCAL_TRIGGERS)
        changed.append("logs_event_ids_on_delete(), logs_rollup_on_truncate(), logs_rollup_bump_all_versions() "
                       "(shard-local)")
    if "IF shards IS NOT NULL" not in (_one("SELECT prosrc FROM pg_proc WHERE proname = 'logs_search_on_truncate'") or ""):
        _run(_SEARCH_TRIGGERS)
        changed.append("logs_search_on_delete(), logs_search_on_truncate() (shard-local)")
    _distribute_functions(changed)
    _custom_plans(changed)
    _plpgsql_writers(changed)
    changed += [f"{name} (transition tables as arrays)" for name in _convert_trigger_functions()]
    _run(_FLUSH_CLIENT)
    if not _one("SELECT EXISTS (SELECT FROM pg_dist_object WHERE classid = 'pg_proc'::regclass "
                "AND objid = 'logs_rollup_flush_client(bigint, integer)'::regprocedure)"):
        _run("SELECT create_distributed_function('logs_rollup_flush_client(bigint, integer)', 'p_client', "
             "colocate_with => 'workflow_logs')")
        changed.append("logs_rollup_flush_client(bigint, integer)")
    return changed
