"""Rollup maintenance off the commit path: inserts append to `logs_rollup_pending`; a flusher
folds those rows into `logs_rollup` every second; reads add the pending rows on the fly.

Why: the insert trigger of 0005 upserted ~12 rollup rows per distinct hour in every inserting
transaction. Those rows are shared by every log of a tenant in the same hour, so concurrent
single-log inserts queued on their row locks until each commit's WAL flush: measured with
pgbench, 16 connections inserting one log each for one tenant at the current time made
190-280 commits/s with the trigger and ~950 without it. An append is contention-free.

Exactness is unchanged: a log is counted either in the rollup or in the pending table, never
both and never neither, because the flusher moves rows with one statement (DELETE ...
RETURNING feeding the upsert) in one transaction, and every reader sees one snapshot of both
tables (logs/rollups.py). Locks, as in 0005: inserts and the flusher take the per-client
advisory lock SHARED (they never block each other); a recount (DELETE/UPDATE of logs, the
rebuild command) takes it EXCLUSIVE and now also drops the pending rows of the days it
recounts from the table.
"""
from django.db import migrations

FORWARD = r"""
CREATE TABLE logs_rollup_pending (
    client_id bigint NOT NULL,
    executed_at timestamptz NOT NULL,
    execution_time_seconds double precision,
    status text,
    category text,
    workflow_version text,
    workflow_error_type text,
    workflow_error_node text
);
COMMENT ON TABLE logs_rollup_pending IS 'Logs not yet folded into logs_rollup (logs/rollups.py).';
CREATE INDEX logs_rollup_pending_client_time ON logs_rollup_pending (client_id, executed_at);

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

-- Fold up to max_rows pending rows into the rollup; returns how many moved.
CREATE FUNCTION logs_rollup_flush(max_rows integer) RETURNS bigint
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

CREATE OR REPLACE FUNCTION logs_rollup_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE logs_rollup, logs_rollup_pending;
    RETURN NULL;
END
$$;

-- Logs stored before this migration are already in the rollup: nothing to move.
"""

BACKWARD = r"""
-- Fold what is pending, then restore 0005's synchronous insert trigger.
SELECT logs_rollup_flush(2147483647);
CREATE OR REPLACE FUNCTION logs_rollup_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    c bigint;
BEGIN
    FOR c IN SELECT DISTINCT client_id FROM new_rows ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock_shared(727001, (c % 2147483647)::int);
    END LOOP;
    PERFORM logs_rollup_add(ARRAY(
        SELECT ROW(w.client_id, w.executed_at, w.execution_time_seconds, w.status, w.category,
                   w.workflow_version, w.workflow_error_type, w.workflow_error_node)::logs_rollup_input
        FROM new_rows w));
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION logs_rollup_recount(p_client bigint, day_from timestamptz, day_to timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    DELETE FROM logs_rollup WHERE client_id = p_client AND bucket >= day_from AND bucket < day_to;
    PERFORM logs_rollup_add(ARRAY(
        SELECT ROW(w.client_id, w.executed_at, w.execution_time_seconds, w.status, w.category,
                   w.workflow_version, w.workflow_error_type, w.workflow_error_node)::logs_rollup_input
        FROM workflow_logs w
        WHERE w.client_id = p_client AND w.executed_at >= day_from AND w.executed_at < day_to));
END
$$;
CREATE OR REPLACE FUNCTION logs_rollup_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE logs_rollup;
    RETURN NULL;
END
$$;
DROP FUNCTION IF EXISTS logs_rollup_flush(integer);
DROP TABLE IF EXISTS logs_rollup_pending;
"""


def forward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FORWARD)


def backward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("logs", "0006_drop_redundant_client_index")]
    operations = [migrations.RunPython(forward, backward)]
