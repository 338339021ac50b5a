"""The usage rollup's pending rows summed per (client, hour, category, version, key) by the
insert trigger, instead of one row per log carrying its usage as JSON (0018).

Why: the insert trigger called `logs_usage_of()` per log (a SQL function with a sub-select is
never inlined: its executor starts per call, ~50-80 µs a log here) and appended a JSONB row per
log, which the flusher took apart again with `jsonb_each` per log. Now the trigger reads the
usage keys of its statement's rows set-wise (`logs_usage_each`, a set-returning SQL function
that PostgreSQL inlines into the statement) and appends one row per (client, hour, category,
version, key) of the statement, a few numbers each (1,000 live logs of 30 categories with four
usage keys appended 464, instead of 1,000 JSONB values). The flusher folds them without parsing
JSON.

* `logs_usage_each(metrics)`: the same keys as `logs_usage_of` (0018: numeric members whose key
  contains "token" or "cost" in any case, keys of at most 64 characters, the first 10 in JSONB's
  key order), as rows (key, value numeric).
* `logs_usage_pending`: (client, hour, category, version, key, n, total): n logs carrying the
  key (signed: an UPDATE's old usage counts -1), total the signed sum of its values. `hour` is
  the UTC hour of the logs: every reader asks for pending rows of whole hours or days only
  (metrics.rollup.split_period: the partial hours at a period's edges are read from the logs),
  and a recount deletes whole days, so the hour is all that is needed of the time.
* The update trigger's deltas are summed the same way (a run whose tokens grow in an OpenTelemetry
  export leaves, per key, n = 0 and the difference of the totals).

The metrics rollup's fold (`logs_rollup_rows`, the same rows as before) sums every kind per hour
first and the day rows from the hour rows (the flush of a second's live logs groups each log once
instead of twice).

The rows pending when this migration runs are summed into the new layout (the pending table
locked meanwhile), so nothing is lost or counted twice. Backward folds every pending row into the
rollup first (the old layout cannot hold summed rows), then restores 0018's table and functions.
On a Citus cluster run `manage.py citus_setup` again after it (as after any migration that
replaces a rollup function): it distributes the new pending table and adapts the functions.
"""
import importlib

from django.db import migrations

_USAGE = importlib.import_module("logs.migrations.0018_usage_rollup")

TABLE = r"""
LOCK TABLE logs_rollup_pending IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE logs_usage_pending IN ACCESS EXCLUSIVE MODE;

CREATE FUNCTION logs_usage_each(metrics jsonb) RETURNS TABLE (key text, value numeric)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT e.k, (e.v #>> '{}')::numeric
      FROM jsonb_each(CASE WHEN jsonb_typeof(metrics) = 'object' THEN metrics END) AS e(k, v)
     WHERE e.k ~* '(token|cost)' AND length(e.k) <= 64 AND jsonb_typeof(e.v) = 'number'
     LIMIT 10
$fn$;

CREATE TABLE logs_usage_pending_0020 (
    client_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    category text,
    workflow_version text,
    key text NOT NULL,
    n integer NOT NULL,
    total numeric NOT NULL
);
INSERT INTO logs_usage_pending_0020
SELECT p.client_id, date_trunc('hour', p.executed_at, 'UTC'), p.category, p.workflow_version, e.k,
       sum(p.sign), sum(p.sign * (e.v #>> '{}')::numeric)
  FROM logs_usage_pending p CROSS JOIN LATERAL jsonb_each(p.usage) AS e(k, v)
 GROUP BY 1, 2, 3, 4, 5;
DROP FUNCTION logs_usage_flush(integer);
DROP FUNCTION logs_usage_add(logs_usage_pending[]);
DROP TABLE logs_usage_pending;
ALTER TABLE logs_usage_pending_0020 RENAME TO logs_usage_pending;
COMMENT ON TABLE logs_usage_pending IS
    'Signed usage per client, UTC hour, category, version and key not yet folded into logs_usage_rollup (logs migration 0020).';
CREATE INDEX logs_usage_pending_client_time ON logs_usage_pending (client_id, hour);
"""

FUNCTIONS = r"""
-- The metrics rollup's rows of a batch (0016's function, same result): every kind summed per
-- hour first, the day rows then from the hour rows, not from the logs again. A flush of live
-- logs (all of one hour or two) groups each log once instead of twice (~half the time); a
-- recount's logs spread over a day pay one more grouping of the hours' rows.
CREATE OR REPLACE FUNCTION logs_rollup_rows(rows logs_rollup_input[])
RETURNS TABLE(client_id bigint, grain "char", bucket timestamptz, kind "char", dim1 text, dim2 text, status text,
              bin smallint, n bigint, time_n bigint, time_sum double precision, first_at timestamptz, last_at timestamptz)
LANGUAGE sql STABLE AS $$
    WITH r AS (
        SELECT u.*, date_trunc('hour', u.executed_at, 'UTC') AS bucket,
               u.status IN ('FAILED', 'ERROR') OR u.workflow_error_type IS NOT NULL AS is_error,
               logs_rollup_bin(u.execution_time_seconds) AS tbin
        FROM unnest(rows) AS u
    ), h AS (
        SELECT client_id, bucket, 'S'::"char" AS kind, NULL::text AS dim1, NULL::text AS dim2, status,
               -1::smallint AS bin, count(*) AS n, count(execution_time_seconds) AS time_n,
               coalesce(sum(execution_time_seconds), 0) AS time_sum, NULL::timestamptz AS first_at,
               NULL::timestamptz AS last_at
          FROM r GROUP BY client_id, bucket, status
        UNION ALL
        SELECT client_id, bucket, 'H', NULL, NULL, NULL, tbin, count(*), count(*), 0, NULL, NULL
          FROM r WHERE tbin IS NOT NULL GROUP BY client_id, bucket, tbin
        UNION ALL
        SELECT client_id, bucket, 'C', category, NULL, status, -1, count(*),
               count(execution_time_seconds), coalesce(sum(execution_time_seconds), 0), NULL, NULL
          FROM r GROUP BY client_id, bucket, category, status
        UNION ALL
        SELECT client_id, bucket, 'E', workflow_error_type, workflow_error_node, NULL, -1, count(*),
               0, 0, NULL, max(executed_at)
          FROM r WHERE is_error GROUP BY client_id, bucket, workflow_error_type, workflow_error_node
        UNION ALL
        SELECT client_id, bucket, 'V', workflow_version, NULL, status, -1, count(*),
               count(execution_time_seconds), coalesce(sum(execution_time_seconds), 0), min(executed_at), max(executed_at)
          FROM r GROUP BY client_id, bucket, workflow_version, status
        UNION ALL
        SELECT client_id, bucket, 'W', workflow_version, NULL, NULL, tbin, count(*), count(*), 0, NULL, NULL
          FROM r WHERE tbin IS NOT NULL GROUP BY client_id, bucket, workflow_version, tbin
        UNION ALL
        SELECT client_id, bucket, 'F', error_fingerprint, workflow_version, NULL, -1, count(*),
               0, 0, min(executed_at), max(executed_at)
          FROM r WHERE is_error GROUP BY client_id, bucket, error_fingerprint, workflow_version
    )
    SELECT client_id, 'h'::"char", bucket, kind, dim1, dim2, status, bin, n, time_n, time_sum, first_at, last_at FROM h
    UNION ALL
    SELECT client_id, 'd'::"char", date_trunc('day', bucket, 'UTC'), kind, dim1, dim2, status, bin, sum(n)::bigint,
           sum(time_n)::bigint, sum(time_sum), min(first_at), max(last_at)
      FROM h GROUP BY client_id, date_trunc('day', bucket, 'UTC'), kind, dim1, dim2, status, bin
$$;

-- Fold summed rows into the rollup; rows that come to nothing are removed.
CREATE FUNCTION logs_usage_add(rows logs_usage_pending[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    empty tid[];
BEGIN
    -- Summed per (hour, category, version, key) first, then spread over the grains and kinds.
    WITH x AS (
        SELECT u.client_id, u.hour, u.category, u.workflow_version, u.key, sum(u.n) AS n, sum(u.total) AS v
          FROM unnest(rows) AS u
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
    SELECT array_agg(ROW(t.client_id, t.hour, t.category, t.workflow_version, t.key, t.n, t.total)::logs_usage_pending)
      INTO moved FROM taken t;
    PERFORM logs_usage_add(moved);
    RETURN coalesce(cardinality(moved), 0);
END
$$;

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
    -- the statement's usage summed per (client, hour, category, version, key) (migration 0020)
    INSERT INTO logs_usage_pending
    SELECT n.client_id, date_trunc('hour', n.executed_at, 'UTC'), n.category, n.workflow_version, u.key,
           count(*), sum(u.value)
      FROM new_rows n CROSS JOIN LATERAL logs_usage_each(n.metrics) AS u
     GROUP BY 1, 2, 3, 4, 5;
    RETURN NULL;
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
    DELETE FROM logs_usage_rollup WHERE client_id = p_client AND bucket >= day_from AND bucket < day_to;
    DELETE FROM logs_usage_pending WHERE client_id = p_client AND hour >= day_from AND hour < day_to;
    PERFORM logs_usage_add(ARRAY(
        SELECT ROW(w.client_id, date_trunc('hour', w.executed_at, 'UTC'), w.category, w.workflow_version, u.key,
                   count(*)::integer, sum(u.value))::logs_usage_pending
          FROM workflow_logs w CROSS JOIN LATERAL logs_usage_each(w.metrics) AS u
         WHERE w.client_id = p_client AND w.executed_at >= day_from AND w.executed_at < day_to
         GROUP BY w.client_id, date_trunc('hour', w.executed_at, 'UTC'), w.category, w.workflow_version, u.key));
END
$$;
"""

# 0018's deltas of an UPDATE (the changed rows found the same way), as summed per-key rows: the
# old usage with n -1 and minus its values, the new with +1; a key that comes to nothing in a
# group (the same value before and after) appends no row.
USAGE_DELTAS = """
    WITH p AS (
        SELECT o.client_id AS oc, o.executed_at AS oe, o.category AS ocat, o.workflow_version AS ov,
               logs_usage_of(o.metrics) AS ou,
               n.client_id AS nc, n.executed_at AS ne, n.category AS ncat, n.workflow_version AS nv,
               logs_usage_of(n.metrics) AS nu
          FROM old_rows o FULL JOIN new_rows n ON n.id = o.id
    ), changed AS (
        SELECT * FROM p WHERE ROW(oc, oe, ocat, ov, ou) IS DISTINCT FROM ROW(nc, ne, ncat, nv, nu)
    ), signed AS (
        -- (named apart from the function's variable `c`)
        SELECT oc AS sc, date_trunc('hour', oe, 'UTC') AS sh, ocat AS scat, ov AS sv, e.k AS sk, -1 AS sn,
               -(e.v #>> '{}')::numeric AS stotal
          FROM changed CROSS JOIN LATERAL jsonb_each(ou) AS e(k, v)
        UNION ALL
        SELECT nc, date_trunc('hour', ne, 'UTC'), ncat, nv, e.k, 1, (e.v #>> '{}')::numeric
          FROM changed CROSS JOIN LATERAL jsonb_each(nu) AS e(k, v)
    )
    SELECT array_agg(x.d) INTO deltas FROM (
        SELECT ROW(sc, sh, scat, sv, sk, sum(sn)::integer, sum(stotal))::logs_usage_pending AS d
          FROM signed GROUP BY sc, sh, scat, sv, sk
        HAVING sum(sn) <> 0 OR sum(stotal) <> 0) AS x;
    IF deltas IS NOT NULL THEN
        FOR c IN SELECT DISTINCT client_id FROM unnest(deltas) ORDER BY 1 LOOP
            PERFORM pg_advisory_xact_lock_shared(727001, (c % 2147483647)::int);
        END LOOP;
        INSERT INTO logs_usage_pending SELECT * FROM unnest(deltas);
    END IF;
"""


def _update_trigger() -> str:
    sql = _USAGE._update_trigger()
    assert sql.count(_USAGE.USAGE_DELTAS) == 1, "0018's update trigger changed: place the deltas again"
    return sql.replace(_USAGE.USAGE_DELTAS, USAGE_DELTAS)


BACKWARD = r"""
LOCK TABLE logs_rollup_pending IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE logs_usage_pending IN ACCESS EXCLUSIVE MODE;
SELECT logs_usage_flush(2147483647);
DROP FUNCTION logs_usage_flush(integer);
DROP FUNCTION logs_usage_add(logs_usage_pending[]);
DROP TABLE logs_usage_pending;
DROP FUNCTION logs_usage_each(jsonb);
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
"""


_FINGERPRINTS = importlib.import_module("logs.migrations.0016_error_fingerprints")


def _rollup_rows_of_0016() -> str:
    forward = _FINGERPRINTS.FORWARD
    return forward[forward.index("CREATE OR REPLACE FUNCTION logs_rollup_rows"):
                   forward.index("-- The fingerprint is computed")]


def _functions_of_0018() -> str:
    """0018's fold and flush (its TABLES after the pending table's index)."""
    tables = _USAGE.TABLES
    return tables[tables.index("-- Fold signed rows into the rollup"):]


def forward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(TABLE)
        cursor.execute(FUNCTIONS)
        cursor.execute(_update_trigger())


def backward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(BACKWARD)
        cursor.execute(_functions_of_0018())
        cursor.execute(_USAGE.INSERT_TRIGGER)
        cursor.execute(_USAGE.RECOUNT)
        cursor.execute(_USAGE._update_trigger())
        cursor.execute(_rollup_rows_of_0016())


class Migration(migrations.Migration):
    dependencies = [("logs", "0019_search")]
    operations = [migrations.RunPython(forward, backward)]
