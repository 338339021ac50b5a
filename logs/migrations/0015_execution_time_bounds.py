"""execution_time_seconds is 0 to 30 days (2,592,000 s), and no log can stop the rollup flusher.

Before: any finite double was accepted. `logs_rollup_bin` divided it by 1 ms, which overflows
above ~1.8e305, so a single such log made every flush fail (in every worker, every second), kept
other tenants' rows pending, and made its tenant's metrics answer 400 (issue 19).

* `logs_rollup_bin` caps its input at the limit: no double (NaN and infinity included) can make
  it fail, and every bin of a time within the limit is what it was.
* `logs_rollup_flush` and `logs_rollup_recount` (the triggers of DELETE and UPDATE, and
  `rebuild_rollups`) fold through `logs_rollup_add_isolating`: when a batch fails on a value
  (SQLSTATE class 22), it is split in halves until the failing logs stand alone, and each of
  those is counted without its execution time (with a WARNING in the server log) instead of
  holding back the rest of the batch forever.
* Logs already stored with a time outside 0..2592000 (or NaN) keep it, moved to
  `extra._sanitized.execution_time_seconds`; their execution_time_seconds becomes NULL. The
  update trigger recounts their days, so the rollup is exact again.
* Then the CHECK constraint `wl_execution_time_range` (added NOT VALID, then validated, so
  ingestion is not blocked while the table is scanned) replaces `wl_execution_time_non_negative`.

Not atomic: the data fix, the constraint and its validation each commit on their own (the
validation's scan holds only a SHARE UPDATE EXCLUSIVE lock).
"""
from django.db import migrations, models

MAX = 30 * 24 * 3600

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION logs_rollup_bin(t double precision) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- least(): no input overflows the division (PostgreSQL sorts NaN above every number).
    SELECT CASE WHEN t IS NULL THEN NULL WHEN t < 0.001 THEN 0
                ELSE least(1 + floor(ln(least(t, %(max)s) / 0.001) / ln(1.04)), 32000) END::smallint
$$;

-- Add rows to the rollup; a batch that fails on a value is split until the failing logs stand
-- alone, and those are counted without their execution time. Returns how many were.
CREATE FUNCTION logs_rollup_add_isolating(rows logs_rollup_input[]) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce(cardinality(rows), 0);
    one logs_rollup_input;
BEGIN
    IF n = 0 THEN
        RETURN 0;
    END IF;
    BEGIN
        PERFORM logs_rollup_add(rows);
        RETURN 0;
    EXCEPTION WHEN data_exception THEN
        IF n > 1 THEN
            RETURN logs_rollup_add_isolating(rows[1:n / 2]) + logs_rollup_add_isolating(rows[n / 2 + 1:n]);
        END IF;
    END;
    one := rows[1];
    RAISE WARNING 'logs_rollup_flush: the log of client % executed at % is counted without its execution time (%)',
        one.client_id, one.executed_at, one.execution_time_seconds;
    one.execution_time_seconds := NULL;
    PERFORM logs_rollup_add(ARRAY[one]);
    RETURN 1;
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
    -- Only the clients locked above; rows another flusher holds are left to it.
    WITH taken AS (
        DELETE FROM logs_rollup_pending p
         WHERE p.ctid = ANY(ARRAY(SELECT q.ctid FROM logs_rollup_pending q WHERE q.client_id = ANY(clients)
                                  LIMIT max_rows FOR UPDATE SKIP LOCKED))
        RETURNING p.*
    )
    SELECT array_agg(ROW(t.client_id, t.executed_at, t.execution_time_seconds, t.status, t.category,
                         t.workflow_version, t.workflow_error_type, t.workflow_error_node)::logs_rollup_input)
      INTO moved FROM taken t;
    -- Same transaction: the rows leave the pending table and enter the rollup at one commit.
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
                   w.workflow_version, w.workflow_error_type, w.workflow_error_node)::logs_rollup_input
        FROM workflow_logs w
        WHERE w.client_id = p_client AND w.executed_at >= day_from AND w.executed_at < day_to));
END
$$;
""".replace("%(max)s", str(MAX))

FUNCTIONS_BACKWARD = r"""
CREATE OR REPLACE FUNCTION logs_rollup_bin(t double precision) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN t IS NULL THEN NULL WHEN t < 0.001 THEN 0
                ELSE least(1 + floor(ln(t / 0.001) / ln(1.04)), 32000) END::smallint
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
                         t.workflow_version, t.workflow_error_type, t.workflow_error_node)::logs_rollup_input)
      INTO moved FROM taken t;
    PERFORM logs_rollup_add(moved);
    RETURN coalesce(cardinality(moved), 0);
END
$$;
CREATE OR REPLACE FUNCTION logs_rollup_recount(p_client bigint, day_from timestamptz, day_to timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    DELETE FROM logs_rollup WHERE client_id = p_client AND bucket >= day_from AND bucket < day_to;
    DELETE FROM logs_rollup_pending
     WHERE client_id = p_client AND executed_at >= day_from AND executed_at < day_to;
    PERFORM logs_rollup_add(ARRAY(
        SELECT ROW(w.client_id, w.executed_at, w.execution_time_seconds, w.status, w.category,
                   w.workflow_version, w.workflow_error_type, w.workflow_error_node)::logs_rollup_input
        FROM workflow_logs w
        WHERE w.client_id = p_client AND w.executed_at >= day_from AND w.executed_at < day_to));
END
$$;
DROP FUNCTION IF EXISTS logs_rollup_add_isolating(logs_rollup_input[]);
"""

# Out of range, NaN included (NaN is not <= anything but NaN in PostgreSQL).
FIX_ROWS = r"""
UPDATE workflow_logs
   SET extra = coalesce(extra, '{}'::jsonb) || jsonb_build_object('_sanitized',
           coalesce(extra -> '_sanitized', '{}'::jsonb)
           || jsonb_build_object('execution_time_seconds', to_jsonb(execution_time_seconds))),
       execution_time_seconds = NULL
 WHERE execution_time_seconds IS NOT NULL
   AND NOT (execution_time_seconds >= 0 AND execution_time_seconds <= %(max)s)
""".replace("%(max)s", str(MAX))

CONSTRAINT = (
    "ALTER TABLE workflow_logs ADD CONSTRAINT wl_execution_time_range "
    f"CHECK (execution_time_seconds >= 0 AND execution_time_seconds <= {MAX}) NOT VALID"
)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("logs", "0014_time_partitions")]

    operations = [
        migrations.RunSQL(FUNCTIONS, FUNCTIONS_BACKWARD),
        migrations.RunSQL(FIX_ROWS, migrations.RunSQL.noop),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="workflowlog", name="wl_execution_time_non_negative"),
                migrations.AddConstraint(
                    model_name="workflowlog",
                    constraint=models.CheckConstraint(
                        condition=models.Q(execution_time_seconds__gte=0, execution_time_seconds__lte=MAX),
                        name="wl_execution_time_range"),
                ),
            ],
            database_operations=[
                migrations.RunSQL(CONSTRAINT, "ALTER TABLE workflow_logs DROP CONSTRAINT wl_execution_time_range"),
                migrations.RunSQL("ALTER TABLE workflow_logs VALIDATE CONSTRAINT wl_execution_time_range",
                                  migrations.RunSQL.noop),
                migrations.RunSQL(
                    "ALTER TABLE workflow_logs DROP CONSTRAINT wl_execution_time_non_negative",
                    "ALTER TABLE workflow_logs ADD CONSTRAINT wl_execution_time_non_negative "
                    "CHECK (execution_time_seconds IS NULL OR execution_time_seconds >= 0)"),
            ],
        ),
    ]
