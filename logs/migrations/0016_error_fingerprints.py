"""Error issues: a fingerprint of each failing log's normalised error, and a rollup kind per
(fingerprint, workflow version), so the dashboard groups failures like an error tracker.

Why a rollup dimension and not a column: a stored column would have to be written by ingestion
(one more value on the hot path, and the spool's rows) and backfilled by an UPDATE of every
failing log, which fires the rollup's recount per day. The fingerprint is a pure function of
three columns, so it is computed in SQL where it is needed: by the insert trigger (into the
pending row, for failing logs only), by the recount, and by the partial expression index of
migration 0017 that serves "the runs of this issue". One definition, in the database.

* `logs_error_normalize(message)`: quoted values ('...', "...", `...`, «...», “...”, „...“,
  ‘...’, 「...」), URLs,
  e-mail addresses and every token containing a digit (numbers, ids, UUIDs, dates, durations
  such as 30.5s) become `<q>`, `<url>`, `<email>`, `<n>`; runs of whitespace become one
  space; at most 300 characters are kept. ASCII character classes only, so the result does not
  depend on the database's locale (the index of 0017 must be stable).
* `logs_error_fingerprint(type, node, message)`: the first 16 hex digits of the MD5 of
  type, node and normalised message (a grouping key, not a security device).
* Rollup kind `F` (metrics/rollup.py): per hour and day, per (fingerprint `dim1`, workflow
  version `dim2`) of the failing logs (FAILED/ERROR or with an error type, as kind `E`):
  n, first_at, last_at.

The backfill runs inside this migration's transaction: it holds the pending table (ingestion
waits, then spools after its statement timeout, losing nothing) while it folds what is pending
and counts the `F` rows of every failing log already stored (measured: about 4 s per million
logs on the shared development machine). A log whose insert was in flight at that instant may
be counted without its fingerprint; `manage.py rebuild_rollups` recounts exactly.

The fingerprint reads `workflow_error`, so the update trigger of 0010_scrubbed (which recounts
only the rows whose counted columns changed) also compares a failing log's fingerprint: when
scrub_logs redacts something in a failure's message that the normalisation does not mask, the
failure moves to its new issue. The flush and the recount keep 0015's isolation of a batch
that fails on a value (`logs_rollup_add_isolating`).
"""
import importlib
import re

from django.db import migrations

NORMALIZE = r"""
CREATE FUNCTION logs_error_normalize(message text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT left(btrim(
        regexp_replace(
        regexp_replace(
        regexp_replace(
        regexp_replace(
        regexp_replace(coalesce(message, ''),
            '''[^'']*''|"[^"]*"|`[^`]*`|«[^»]*»|“[^”]*”|„[^“”]*[“”]|‘[^’]*’|「[^」]*」', '<q>', 'g'),
            '[A-Za-z][A-Za-z0-9+.-]*://[^ \t\r\n]+', '<url>', 'g'),
            '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z0-9.-]+', '<email>', 'g'),
            '[A-Za-z0-9_./:#-]*[0-9][A-Za-z0-9_./:#-]*', '<n>', 'g'),
            '[ \t\r\n]+', ' ', 'g')), 300)
$fn$;

CREATE FUNCTION logs_error_fingerprint(error_type text, error_node text, message text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT left(md5(coalesce(error_type, '') || E'\x1f' || coalesce(error_node, '') || E'\x1f'
                    || logs_error_normalize(message)), 16)
$fn$;
"""

FORWARD = r"""
-- Hold the pending table first: inserts wait here until this migration commits.
ALTER TABLE logs_rollup_pending ADD COLUMN error_fingerprint text;
-- Fold what is pending with the functions of 0007 (they know 8 input fields), so every stored
-- log is in the rollup when the F rows are counted from the table below.
SELECT logs_rollup_flush(2147483647);

ALTER TYPE logs_rollup_input ADD ATTRIBUTE error_fingerprint text;

CREATE OR REPLACE FUNCTION logs_rollup_rows(rows logs_rollup_input[])
RETURNS TABLE (client_id bigint, grain "char", bucket timestamptz, kind "char", dim1 text, dim2 text,
               status text, bin smallint, n bigint, time_n bigint, time_sum double precision,
               first_at timestamptz, last_at timestamptz)
LANGUAGE sql STABLE AS $$
    WITH r AS (
        SELECT u.*, g.grain,
               date_trunc(CASE g.grain WHEN 'h' THEN 'hour' ELSE 'day' END, u.executed_at, 'UTC') AS bucket,
               u.status IN ('FAILED', 'ERROR') OR u.workflow_error_type IS NOT NULL AS is_error,
               logs_rollup_bin(u.execution_time_seconds) AS tbin
        FROM unnest(rows) AS u CROSS JOIN (VALUES ('h'::"char"), ('d'::"char")) AS g(grain)
    )
    SELECT client_id, grain, bucket, 'S'::"char", NULL, NULL, status, -1::smallint, count(*),
           count(execution_time_seconds), coalesce(sum(execution_time_seconds), 0), NULL::timestamptz, NULL::timestamptz
      FROM r GROUP BY client_id, grain, bucket, status
    UNION ALL
    SELECT client_id, grain, bucket, 'H', NULL, NULL, NULL, tbin, count(*), count(*), 0, NULL, NULL
      FROM r WHERE tbin IS NOT NULL GROUP BY client_id, grain, bucket, tbin
    UNION ALL
    SELECT client_id, grain, bucket, 'C', category, NULL, status, -1, count(*),
           count(execution_time_seconds), coalesce(sum(execution_time_seconds), 0), NULL, NULL
      FROM r GROUP BY client_id, grain, bucket, category, status
    UNION ALL
    SELECT client_id, grain, bucket, 'E', workflow_error_type, workflow_error_node, NULL, -1, count(*),
           0, 0, NULL, max(executed_at)
      FROM r WHERE is_error GROUP BY client_id, grain, bucket, workflow_error_type, workflow_error_node
    UNION ALL
    SELECT client_id, grain, bucket, 'V', workflow_version, NULL, status, -1, count(*),
           count(execution_time_seconds), coalesce(sum(execution_time_seconds), 0), min(executed_at), max(executed_at)
      FROM r GROUP BY client_id, grain, bucket, workflow_version, status
    UNION ALL
    SELECT client_id, grain, bucket, 'W', workflow_version, NULL, NULL, tbin, count(*), count(*), 0, NULL, NULL
      FROM r WHERE tbin IS NOT NULL GROUP BY client_id, grain, bucket, workflow_version, tbin
    UNION ALL
    SELECT client_id, grain, bucket, 'F', error_fingerprint, workflow_version, NULL, -1, count(*),
           0, 0, min(executed_at), max(executed_at)
      FROM r WHERE is_error GROUP BY client_id, grain, bucket, error_fingerprint, workflow_version
$$;

-- The fingerprint is computed here, once per failing log (NULL for the others).
CREATE OR REPLACE FUNCTION logs_rollup_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    c bigint;
BEGIN
    FOR c IN SELECT DISTINCT client_id FROM new_rows ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock_shared(727001, (c % 2147483647)::int);
    END LOOP;
    INSERT INTO logs_rollup_pending
    SELECT client_id, executed_at, execution_time_seconds, status, category, workflow_version,
           workflow_error_type, workflow_error_node,
           CASE WHEN status IN ('FAILED', 'ERROR') OR workflow_error_type IS NOT NULL
                THEN logs_error_fingerprint(workflow_error_type, workflow_error_node, workflow_error) END
      FROM new_rows;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION logs_rollup_flush(max_rows integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    clients bigint[];
    c bigint;
    moved logs_rollup_input[];
BEGIN
    SELECT array_agg(DISTINCT client_id ORDER BY client_id) INTO clients FROM logs_rollup_pending;
    IF clients IS NULL THEN
        RETURN 0;
    END IF;
    FOREACH c IN ARRAY clients LOOP
        PERFORM pg_advisory_xact_lock_shared(727001, (c % 2147483647)::int);
    END LOOP;
    WITH taken AS (
        DELETE FROM logs_rollup_pending p
         WHERE p.ctid = ANY(ARRAY(SELECT q.ctid FROM logs_rollup_pending q WHERE q.client_id = ANY(clients)
                                  LIMIT max_rows FOR UPDATE SKIP LOCKED))
        RETURNING p.*
    )
    SELECT array_agg(ROW(t.client_id, t.executed_at, t.execution_time_seconds, t.status, t.category,
                         t.workflow_version, t.workflow_error_type, t.workflow_error_node,
                         t.error_fingerprint)::logs_rollup_input)
      INTO moved FROM taken t;
    -- Same transaction: the rows leave the pending table and enter the rollup at one commit; a
    -- batch that fails on a value is split until the failing logs stand alone (0015).
    PERFORM logs_rollup_add_isolating(moved);
    RETURN coalesce(cardinality(moved), 0);
END
$$;

CREATE OR REPLACE FUNCTION logs_rollup_recount(p_client bigint, day_from timestamptz, day_to timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    DELETE FROM logs_rollup WHERE client_id = p_client AND bucket >= day_from AND bucket < day_to;
    DELETE FROM logs_rollup_pending
     WHERE client_id = p_client AND executed_at >= day_from AND executed_at < day_to;
    PERFORM logs_rollup_add_isolating(ARRAY(
        SELECT ROW(w.client_id, w.executed_at, w.execution_time_seconds, w.status, w.category,
                   w.workflow_version, w.workflow_error_type, w.workflow_error_node,
                   CASE WHEN w.status IN ('FAILED', 'ERROR') OR w.workflow_error_type IS NOT NULL
                        THEN logs_error_fingerprint(w.workflow_error_type, w.workflow_error_node, w.workflow_error)
                   END)::logs_rollup_input
        FROM workflow_logs w
        WHERE w.client_id = p_client AND w.executed_at >= day_from AND w.executed_at < day_to));
END
$$;

-- The F rows of every failing log stored so far (the pending table is empty and held).
INSERT INTO logs_rollup AS t (client_id, grain, bucket, kind, dim1, dim2, status, bin, n, time_n, time_sum,
                              first_at, last_at)
SELECT e.client_id, g.grain, date_trunc(CASE g.grain WHEN 'h' THEN 'hour' ELSE 'day' END, e.executed_at, 'UTC'),
       'F', e.fingerprint, e.workflow_version, NULL, -1, count(*), 0, 0, min(e.executed_at), max(e.executed_at)
  FROM (SELECT w.client_id, w.executed_at, w.workflow_version,
               logs_error_fingerprint(w.workflow_error_type, w.workflow_error_node, w.workflow_error) AS fingerprint
          FROM workflow_logs w
         WHERE w.status IN ('FAILED', 'ERROR') OR w.workflow_error_type IS NOT NULL) AS e
 CROSS JOIN (VALUES ('h'::"char"), ('d'::"char")) AS g(grain)
 GROUP BY 1, 2, 3, 5, 6
 ORDER BY 1, 2, 3, 5, 6;
"""

BACKWARD = r"""
DELETE FROM logs_rollup WHERE kind = 'F';
ALTER TABLE logs_rollup_pending DROP COLUMN error_fingerprint;
ALTER TYPE logs_rollup_input DROP ATTRIBUTE error_fingerprint;
CREATE OR REPLACE FUNCTION logs_rollup_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    c bigint;
BEGIN
    FOR c IN SELECT DISTINCT client_id FROM new_rows ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock_shared(727001, (c % 2147483647)::int);
    END LOOP;
    INSERT INTO logs_rollup_pending
    SELECT client_id, executed_at, execution_time_seconds, status, category, workflow_version,
           workflow_error_type, workflow_error_node
      FROM new_rows;
    RETURN NULL;
END
$$;
"""
# Back to 0007's functions: the same bodies without the fingerprint (written from the forward
# ones, so the two cannot drift apart).
_NO_F = r"""
    UNION ALL
    SELECT client_id, grain, bucket, 'F', error_fingerprint, workflow_version, NULL, -1, count(*),
           0, 0, min(executed_at), max(executed_at)
      FROM r WHERE is_error GROUP BY client_id, grain, bucket, error_fingerprint, workflow_version
"""


def _without_fingerprint(sql: str) -> str:
    sql = sql.replace(_NO_F, "\n")
    sql = sql.replace(",\n                         t.error_fingerprint)::logs_rollup_input", ")::logs_rollup_input")
    return re.sub(r",\n                   CASE WHEN w\.status.*?END\)::logs_rollup_input", ")::logs_rollup_input", sql,
                  flags=re.S)


def _restored_functions() -> str:
    """0010's rows, flush and recount functions, minus the fingerprint."""
    functions = FORWARD[FORWARD.index("CREATE OR REPLACE FUNCTION logs_rollup_rows"):FORWARD.index("-- The F rows")]
    functions = functions.replace(functions[functions.index("-- The fingerprint is computed"):
                                            functions.index("CREATE OR REPLACE FUNCTION logs_rollup_flush")], "")
    return _without_fingerprint(functions)


_SCRUBBED = importlib.import_module("logs.migrations.0010_scrubbed")


def _fingerprint(alias: str) -> str:
    return (f"CASE WHEN {alias}.status IN ('FAILED', 'ERROR') OR {alias}.workflow_error_type IS NOT NULL "
            f"THEN logs_error_fingerprint({alias}.workflow_error_type, {alias}.workflow_error_node, "
            f"{alias}.workflow_error) END")


def _update_trigger() -> str:
    """0010_scrubbed's update trigger with a failing log's fingerprint among the compared values:
    a changed message recounts its day only when it moves the failure to another issue (a
    succeeding log's message, or a change the normalisation masks anyway, recounts nothing)."""
    sql = _SCRUBBED.FORWARD
    for alias in ("o", "n"):
        sql = sql.replace(f"{alias}.workflow_error_node)", f"{alias}.workflow_error_node, {_fingerprint(alias)})")
    assert sql.count("logs_error_fingerprint(") == 8, "0010_scrubbed's trigger changed: compare the fingerprint again"
    return sql


def _normalize_sql(cursor) -> str:  # noqa: ANN001 - a DB-API cursor
    """NORMALIZE with the inner call qualified by this schema: PostgreSQL 17 and later build and
    maintain indexes with search_path = pg_catalog, pg_temp, and the fingerprint is an index
    expression (0017), so an unqualified call would not be found there."""
    cursor.execute("SELECT quote_ident(current_schema())")
    schema = cursor.fetchone()[0]
    return NORMALIZE.replace("|| logs_error_normalize(message)", f"|| {schema}.logs_error_normalize(message)")


def forward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute(_normalize_sql(cursor))
        cursor.execute(FORWARD)
        cursor.execute(_update_trigger())


def backward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(BACKWARD)
        cursor.execute(_restored_functions())
        cursor.execute(_SCRUBBED.FORWARD)
        cursor.execute("DROP FUNCTION IF EXISTS logs_error_fingerprint(text, text, text)")
        cursor.execute("DROP FUNCTION IF EXISTS logs_error_normalize(text)")


class Migration(migrations.Migration):
    dependencies = [("logs", "0015_execution_time_bounds")]
    operations = [migrations.RunPython(forward, backward)]
