"""Tokens and cost in the rollup: the numeric usage metrics of each log, summed per hour and day
by category (kind U) and by workflow version (kind Y).

Why: the latency-and-cost page sums `metrics.total_tokens`, `metrics.cost_usd`, … per day,
category and version. Summed from the logs, a 90-day answer at a million logs read every row's
`metrics` (over the 5 s statement timeout on the shared development machine); from the rollup it
reads a few thousand rows.

* `logs_usage_of(metrics)`: the numeric members of `metrics` whose key contains "token" or
  "cost" (any case; at most 10 per log, keys of at most 64 characters, |value| < 1e300), as a
  JSON object, or NULL.
* Kind U: dim1 = usage key, dim2 = category; kind Y: dim1 = usage key, dim2 = workflow version.
  n = time_n = logs carrying the key, time_sum = the sum of its values.
* Off the commit path: the insert trigger only records each pending log's id (16 bytes); the
  flusher, in the background, reads the usage of the logs it folds by primary key; a recount
  reads it from the table. Readers compute the usage of the raw edges and the pending rows
  only when they ask for U or Y.

The backfill runs in this migration's transaction, like 0010's: it folds what is pending and
counts U and Y for every log already stored (a scan of the table: measured in bench/README.md;
ingestion waits meanwhile and spools after its statement timeout).
"""
from django.db import migrations

FORWARD = r"""
ALTER TABLE logs_rollup_pending ADD COLUMN log_id uuid;
SELECT logs_rollup_flush(2147483647);

CREATE FUNCTION logs_usage_of(metrics jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT CASE WHEN jsonb_typeof(metrics) = 'object' THEN (
        SELECT jsonb_object_agg(u.k, u.v) FROM (
            SELECT e.k, e.v FROM jsonb_each(metrics) AS e(k, v)
             WHERE jsonb_typeof(e.v) = 'number' AND e.k ~* '(token|cost)' AND length(e.k) <= 64
               AND abs((e.v #>> '{}')::numeric) < 1e300
             ORDER BY e.k LIMIT 10) AS u) END
$fn$;

ALTER TYPE logs_rollup_input ADD ATTRIBUTE usage jsonb;

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
    ), used AS (
        SELECT r.client_id, r.grain, r.bucket, r.category, r.workflow_version, e.k, (e.v #>> '{}')::float8 AS v
          FROM r, jsonb_each(r.usage) AS e(k, v) WHERE r.usage IS NOT NULL
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
    UNION ALL
    SELECT client_id, grain, bucket, 'U', k, category, NULL, -1, count(*), count(*), sum(v), NULL, NULL
      FROM used GROUP BY client_id, grain, bucket, k, category
    UNION ALL
    SELECT client_id, grain, bucket, 'Y', k, workflow_version, NULL, -1, count(*), count(*), sum(v), NULL, NULL
      FROM used GROUP BY client_id, grain, bucket, k, workflow_version
$$;

-- The insert trigger records the log's id; its usage is read when the flusher folds it.
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
                THEN logs_error_fingerprint(workflow_error_type, workflow_error_node, workflow_error) END,
           id
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
                         t.workflow_version, t.workflow_error_type, t.workflow_error_node, t.error_fingerprint,
                         (SELECT logs_usage_of(w.metrics) FROM workflow_logs w
                           WHERE w.client_id = t.client_id AND w.id = t.log_id))::logs_rollup_input)
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
                   w.workflow_version, w.workflow_error_type, w.workflow_error_node,
                   CASE WHEN w.status IN ('FAILED', 'ERROR') OR w.workflow_error_type IS NOT NULL
                        THEN logs_error_fingerprint(w.workflow_error_type, w.workflow_error_node, w.workflow_error)
                   END, logs_usage_of(w.metrics))::logs_rollup_input
        FROM workflow_logs w
        WHERE w.client_id = p_client AND w.executed_at >= day_from AND w.executed_at < day_to));
END
$$;

-- U and Y rows of every log stored so far (the pending table is empty and held).
INSERT INTO logs_rollup (client_id, grain, bucket, kind, dim1, dim2, status, bin, n, time_n, time_sum)
SELECT x.client_id, x.grain, x.bucket, x.kind, x.k, x.dim2, NULL, -1, count(*), count(*), sum(x.v)
  FROM (SELECT w.client_id, g.grain,
               date_trunc(CASE g.grain WHEN 'h' THEN 'hour' ELSE 'day' END, w.executed_at, 'UTC') AS bucket,
               k.kind, e.k, CASE k.kind WHEN 'U' THEN w.category ELSE w.workflow_version END AS dim2,
               (e.v #>> '{}')::float8 AS v
          FROM workflow_logs w
         CROSS JOIN LATERAL jsonb_each(logs_usage_of(w.metrics)) AS e(k, v)
         CROSS JOIN (VALUES ('h'::"char"), ('d'::"char")) AS g(grain)
         CROSS JOIN (VALUES ('U'::"char"), ('Y'::"char")) AS k(kind)) AS x
 GROUP BY 1, 2, 3, 4, 5, 6
 ORDER BY 1, 4, 2, 3, 5, 6;
"""

BACKWARD = r"""
DELETE FROM logs_rollup WHERE kind IN ('U', 'Y');
ALTER TABLE logs_rollup_pending DROP COLUMN log_id;
ALTER TYPE logs_rollup_input DROP ATTRIBUTE usage;
DROP FUNCTION IF EXISTS logs_usage_of(jsonb);
"""


def _functions_of(name: str) -> str:
    """The rows, insert-trigger, flush and recount functions of an earlier migration (run again
    to step back)."""
    import importlib

    module = importlib.import_module(f"logs.migrations.{name}")
    forward = module.FORWARD
    return forward[forward.index("CREATE OR REPLACE FUNCTION logs_rollup_rows"):forward.index("-- The F rows")]


def forward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute(FORWARD)


def backward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(BACKWARD)
        cursor.execute(_functions_of("0010_error_fingerprints"))


class Migration(migrations.Migration):
    dependencies = [("logs", "0011_error_issue_index")]
    operations = [migrations.RunPython(forward, backward)]
