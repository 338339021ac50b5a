"""Tokens and cost in a rollup of their own, kept exact by signed deltas: `/metrics/usage?group=`
answers from it instead of reading every log's `metrics` (1-10 s at a million logs, bench/README).

Why signed deltas: OpenTelemetry runs (otel/storage.py) rewrite a stored log's `metrics` as its
spans arrive, so a log's tokens and cost change after it was counted. The metrics rollup
recounts a day when a counted column changes (0010_scrubbed); for usage that would be a recount
of the run's day on every export (2 s at 20,000 logs a day). Instead an UPDATE appends two
pending rows in its own transaction: the old row's usage with sign -1 and the new row's with
sign +1; the flusher folds them like any insert. Inserts, deletes and recounts use the metrics
rollup's machinery unchanged: the same insert trigger appends to a pending table, the same
flusher folds it (`logs_usage_flush`, called next to `logs_rollup_flush`), the same advisory
lock (727001, shared to append and fold, exclusive to recount), and `logs_rollup_recount`
(DELETE of logs, retention's partition drop, `rebuild_rollups`) recounts the usage of its days
from the table as well.

* `logs_usage_of(metrics)`: the numeric members of `metrics` whose key contains "token" or
  "cost" (any case), keys of at most 64 characters; at most 10 of a log (the first in JSONB's key
  order: shortest names first), which bounds the rollup rows one log can make (a 1 MB log could
  otherwise name 50,000 keys). Used by the triggers, the recount and the readers of the rollup.
  The filtered scan (logs/tenant_sql/metric_stats.py) applies the same test to the keys it sums
  but not the cap of 10: it reads only the keys it sums (a call of this function per log costs
  ~50 µs, twenty times the scan's own work); the two differ only for logs carrying more than 10
  usage keys.
* `logs_usage_rollup`: per client, UTC hour (grain h) and day (grain d), kind T (the bucket),
  C (dim1 = category) or V (dim1 = workflow version), usage key: n = logs carrying the key
  (signed deltas summed), total = the sum of its values, as `numeric` (exact under + and -: the
  answer equals a scan's to the last digit). A row folded to n = 0 and total = 0 is deleted.
* `logs_usage_pending`: (client, executed_at, category, version, sign, usage) not yet folded.

Readers add the pending rows and the raw edges of the period in the same statement
(logs/tenant_sql/usage_rollup.py), as the metrics rollup's do.

The backfill runs in this migration's transaction (a scan of every log's `metrics`: see
bench/README.md), holding the pending table first, like 0016: a log whose insert was already past
its trigger at that instant may be missing; `manage.py rebuild_rollups` recounts exactly.
"""
import importlib

from django.db import migrations

_FINGERPRINTS = importlib.import_module("logs.migrations.0016_error_fingerprints")

TABLES = r"""
LOCK TABLE logs_rollup_pending IN SHARE ROW EXCLUSIVE MODE;

CREATE FUNCTION logs_usage_of(metrics jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT CASE WHEN jsonb_typeof(metrics) = 'object' THEN (
        SELECT jsonb_object_agg(u.k, metrics -> u.k) FROM (
            SELECT k FROM jsonb_object_keys(metrics) AS k
             WHERE k ~* '(token|cost)' AND length(k) <= 64 AND jsonb_typeof(metrics -> k) = 'number'
             LIMIT 10) AS u) END
$fn$;

CREATE TABLE logs_usage_rollup (
    client_id bigint NOT NULL,
    grain "char" NOT NULL,
    bucket timestamptz NOT NULL,
    kind "char" NOT NULL,
    dim1 text,
    key text NOT NULL,
    n bigint NOT NULL,
    total numeric NOT NULL,
    CONSTRAINT logs_usage_rollup_key UNIQUE NULLS NOT DISTINCT (client_id, kind, grain, bucket, dim1, key)
);
COMMENT ON TABLE logs_usage_rollup IS
    'Numeric token/cost metrics per client, hour/day, kind T/C/V and key (logs migration 0018).';

CREATE TABLE logs_usage_pending (
    client_id bigint NOT NULL,
    executed_at timestamptz NOT NULL,
    category text,
    workflow_version text,
    sign smallint NOT NULL,
    usage jsonb NOT NULL
);
COMMENT ON TABLE logs_usage_pending IS 'Signed usage deltas not yet folded into logs_usage_rollup.';
CREATE INDEX logs_usage_pending_client_time ON logs_usage_pending (client_id, executed_at);

-- Fold signed rows into the rollup; rows that come to nothing are removed.
CREATE FUNCTION logs_usage_add(rows logs_usage_pending[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    empty tid[];
BEGIN
    -- Summed per (hour, category, version, key) first, then spread over the grains and kinds:
    -- a day's recount adds up a few thousand cells six times, not every log's keys six times.
    WITH x AS (
        SELECT u.client_id, date_trunc('hour', u.executed_at, 'UTC') AS hour, u.category, u.workflow_version,
               e.k AS key, sum(u.sign) AS n, sum(u.sign * (e.v #>> '{}')::numeric) AS v
          FROM unnest(rows) AS u CROSS JOIN LATERAL jsonb_each(u.usage) AS e(k, v)
         GROUP BY 1, 2, 3, 4, 5
    ), e AS (
        SELECT x.client_id, g.grain, CASE g.grain WHEN 'h' THEN x.hour ELSE date_trunc('day', x.hour, 'UTC') END AS bucket,
               k.kind, CASE k.kind WHEN 'C' THEN x.category WHEN 'V' THEN x.workflow_version END AS dim1,
               x.key, x.n, x.v
          FROM x
         CROSS JOIN (VALUES ('h'::"char"), ('d'::"char")) AS g(grain)
         CROSS JOIN (VALUES ('T'::"char"), ('C'::"char"), ('V'::"char")) AS k(kind)
    ), up AS (
        INSERT INTO logs_usage_rollup AS t (client_id, grain, bucket, kind, dim1, key, n, total)
        SELECT client_id, grain, bucket, kind, dim1, key, sum(n), sum(v) FROM e
         GROUP BY client_id, kind, grain, bucket, dim1, key
         ORDER BY client_id, kind, grain, bucket, dim1, key
        ON CONFLICT ON CONSTRAINT logs_usage_rollup_key DO UPDATE
           SET n = t.n + excluded.n, total = t.total + excluded.total
        RETURNING t.ctid AS row_id, t.n, t.total
    )
    SELECT array_agg(row_id) INTO empty FROM up WHERE n = 0 AND total = 0;
    IF empty IS NOT NULL THEN
        -- The client too: on a Citus cluster a ctid is unique only within one shard.
        DELETE FROM logs_usage_rollup
         WHERE client_id = ANY(ARRAY(SELECT DISTINCT u.client_id FROM unnest(rows) AS u)) AND ctid = ANY(empty);
    END IF;
END
$$;

CREATE FUNCTION logs_usage_flush(max_rows integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    clients bigint[];
    c bigint;
    moved logs_usage_pending[];
BEGIN
    SELECT array_agg(DISTINCT client_id ORDER BY client_id) INTO clients FROM logs_usage_pending;
    IF clients IS NULL THEN
        RETURN 0;
    END IF;
    FOREACH c IN ARRAY clients LOOP
        PERFORM pg_advisory_xact_lock_shared(727001, (c % 2147483647)::int);
    END LOOP;
    WITH taken AS (
        DELETE FROM logs_usage_pending p
         WHERE p.ctid = ANY(ARRAY(SELECT q.ctid FROM logs_usage_pending q WHERE q.client_id = ANY(clients)
                                  LIMIT max_rows FOR UPDATE SKIP LOCKED))
        RETURNING p.*
    )
    SELECT array_agg(ROW(t.client_id, t.executed_at, t.category, t.workflow_version, t.sign,
                         t.usage)::logs_usage_pending)
      INTO moved FROM taken t;
    PERFORM logs_usage_add(moved);
    RETURN coalesce(cardinality(moved), 0);
END
$$;
"""

INSERT_TRIGGER = r"""
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
    INSERT INTO logs_usage_pending
    SELECT client_id, executed_at, category, workflow_version, 1, usage
      FROM (SELECT client_id, executed_at, category, workflow_version, logs_usage_of(metrics) AS usage
              FROM new_rows) AS u
     WHERE usage IS NOT NULL;
    RETURN NULL;
END
$$;
"""

RECOUNT = r"""
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
    DELETE FROM logs_usage_rollup WHERE client_id = p_client AND bucket >= day_from AND bucket < day_to;
    DELETE FROM logs_usage_pending
     WHERE client_id = p_client AND executed_at >= day_from AND executed_at < day_to;
    PERFORM logs_usage_add(ARRAY(
        SELECT ROW(u.client_id, u.executed_at, u.category, u.workflow_version, 1, u.usage)::logs_usage_pending
          FROM (SELECT w.client_id, w.executed_at, w.category, w.workflow_version, logs_usage_of(w.metrics) AS usage
                  FROM workflow_logs w
                 WHERE w.client_id = p_client AND w.executed_at >= day_from AND w.executed_at < day_to) AS u
         WHERE u.usage IS NOT NULL));
END
$$;

CREATE OR REPLACE FUNCTION logs_rollup_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE logs_rollup, logs_rollup_pending, logs_event_ids, logs_usage_rollup, logs_usage_pending;
    RETURN NULL;
END
$$;
"""

# The usage deltas of an UPDATE: every old row whose usage, or whose place in the usage rollup
# (client, time, category, version), changed leaves with sign -1; its new row enters with +1.
# Each row's usage is computed once (`p`, inlined into `changed`, which is read twice, so
# materialized).
# Appended before the recounts of the same trigger: a recounted day drops its pending rows and
# counts the table as it now is, these included.
USAGE_DELTAS = """
    WITH p AS (
        SELECT o.client_id AS oc, o.executed_at AS oe, o.category AS ocat, o.workflow_version AS ov,
               logs_usage_of(o.metrics) AS ou,
               n.client_id AS nc, n.executed_at AS ne, n.category AS ncat, n.workflow_version AS nv,
               logs_usage_of(n.metrics) AS nu
          FROM old_rows o FULL JOIN new_rows n ON n.id = o.id
    ), changed AS (
        SELECT * FROM p WHERE ROW(oc, oe, ocat, ov, ou) IS DISTINCT FROM ROW(nc, ne, ncat, nv, nu)
    )
    SELECT array_agg(x.d) INTO deltas FROM (
        SELECT ROW(oc, oe, ocat, ov, -1, ou)::logs_usage_pending AS d FROM changed WHERE ou IS NOT NULL
        UNION ALL
        SELECT ROW(nc, ne, ncat, nv, 1, nu)::logs_usage_pending FROM changed WHERE nu IS NOT NULL) AS x;
    IF deltas IS NOT NULL THEN
        FOR c IN SELECT DISTINCT client_id FROM unnest(deltas) ORDER BY 1 LOOP
            PERFORM pg_advisory_xact_lock_shared(727001, (c % 2147483647)::int);
        END LOOP;
        INSERT INTO logs_usage_pending SELECT * FROM unnest(deltas);
    END IF;
"""


def _update_trigger() -> str:
    """0016's update trigger (exclusive locks of the clients to recount, then the recounts) with
    the usage deltas between the two: shared locks after the exclusive ones of the same
    transaction (no upgrade to wait for), and the deltas before any recount of their day."""
    sql = _FINGERPRINTS._update_trigger()
    marker, declare = "    FOR c, d IN", "    d timestamptz;\nBEGIN"
    assert sql.count(marker) == 1 and sql.count(declare) == 1, "0016's update trigger changed: place the deltas again"
    sql = sql.replace(declare, "    d timestamptz;\n    deltas logs_usage_pending[];\nBEGIN")
    return sql.replace(marker, USAGE_DELTAS + marker)


BACKFILL = r"""
INSERT INTO logs_usage_rollup (client_id, grain, bucket, kind, dim1, key, n, total)
SELECT x.client_id, g.grain, CASE g.grain WHEN 'h' THEN x.hour ELSE date_trunc('day', x.hour, 'UTC') END,
       k.kind, CASE k.kind WHEN 'C' THEN x.category WHEN 'V' THEN x.workflow_version END, x.key, sum(x.n), sum(x.v)
  FROM (SELECT u.client_id, date_trunc('hour', u.executed_at, 'UTC') AS hour, u.category, u.workflow_version,
               e.k AS key, count(*) AS n, sum((e.v #>> '{}')::numeric) AS v
          FROM (SELECT w.client_id, w.executed_at, w.category, w.workflow_version, logs_usage_of(w.metrics) AS usage
                  FROM workflow_logs w) AS u
         CROSS JOIN LATERAL jsonb_each(u.usage) AS e(k, v)
         GROUP BY 1, 2, 3, 4, 5) AS x
 CROSS JOIN (VALUES ('h'::"char"), ('d'::"char")) AS g(grain)
 CROSS JOIN (VALUES ('T'::"char"), ('C'::"char"), ('V'::"char")) AS k(kind)
 GROUP BY 1, 2, 3, 4, 5, 6;
ANALYZE logs_usage_rollup;
"""


def _previous_functions() -> str:
    """0016's insert trigger and recount, and 0013's truncate (run again to step back)."""
    forward = _FINGERPRINTS.FORWARD
    functions = forward[forward.index("-- The fingerprint is computed"):forward.index("-- The F rows")]
    functions = functions.replace(functions[functions.index("CREATE OR REPLACE FUNCTION logs_rollup_flush"):
                                            functions.index("CREATE OR REPLACE FUNCTION logs_rollup_recount")], "")
    truncate = ("CREATE OR REPLACE FUNCTION logs_rollup_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN TRUNCATE logs_rollup, logs_rollup_pending, logs_event_ids; RETURN NULL; END $$;")
    return functions + truncate


BACKWARD = r"""
DROP FUNCTION IF EXISTS logs_usage_flush(integer);
DROP FUNCTION IF EXISTS logs_usage_add(logs_usage_pending[]);
DROP TABLE IF EXISTS logs_usage_pending;
DROP TABLE IF EXISTS logs_usage_rollup;
DROP FUNCTION IF EXISTS logs_usage_of(jsonb);
"""


def forward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute(TABLES)
        cursor.execute(INSERT_TRIGGER)
        cursor.execute(RECOUNT)
        cursor.execute(_update_trigger())
        cursor.execute(BACKFILL)


def backward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(_previous_functions())
        cursor.execute(_FINGERPRINTS._update_trigger())
        cursor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("logs", "0017_error_issue_index")]
    operations = [migrations.RunPython(forward, backward)]
