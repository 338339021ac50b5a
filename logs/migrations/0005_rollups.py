"""Metrics rollups on PostgreSQL: `logs_rollup`, kept exact by statement-level triggers.

Why: the metrics endpoints aggregate a tenant's whole period; at 1M logs that is a scan of
the table (~0.3 s alone, seconds under load). The rollup holds, per client, per UTC hour and
per UTC day ("grain" h / d), the counts, execution-time sums and a log-scale execution-time
histogram of the dimensions the dashboard groups by. See logs/rollups.py for the layout, the
histogram scheme and how a period is answered exactly (days + hours + raw edges).

Every writer keeps it exact because the database does it, not the application:
* AFTER INSERT ... REFERENCING NEW TABLE (statement level): adds the inserted rows. An
  idempotent retry that ON CONFLICT-skips everything has an empty transition table: no-op.
  Takes a SHARED per-client advisory lock (concurrent inserts never block each other).
* AFTER DELETE / UPDATE: recomputes the touched (client, UTC day)s from the table. Takes an
  EXCLUSIVE per-client advisory lock first, so it waits for in-flight inserts of that client
  to commit and its recount (a new snapshot, taken after the lock) sees them; inserts that
  start meanwhile wait and add their rows after it.
* TRUNCATE empties the rollup.
Upserts are ordered by the unique key so concurrent inserts lock rollup rows in one order.
"""
from django.db import migrations

FORWARD = r"""
CREATE TABLE logs_rollup (
    -- No foreign key: deleting a client deletes its logs, whose trigger empties its rollup rows;
    -- and Django's test flush TRUNCATEs tenants_client without CASCADE.
    client_id bigint NOT NULL,
    grain "char" NOT NULL,               -- 'h' = UTC hour, 'd' = UTC day
    bucket timestamptz NOT NULL,         -- start of the hour / day (UTC)
    kind "char" NOT NULL,                -- S status, H histogram, C category, E error, V version, W version histogram
    dim1 text,                           -- C: category; E: workflow_error_type; V, W: workflow_version
    dim2 text,                           -- E: workflow_error_node
    status text,                         -- S, C, V
    bin smallint NOT NULL DEFAULT -1,    -- H, W: histogram bin of execution_time_seconds
    n bigint NOT NULL,                   -- logs
    time_n bigint NOT NULL DEFAULT 0,    -- logs with an execution time
    time_sum double precision NOT NULL DEFAULT 0,
    first_at timestamptz,                -- V: min(executed_at)
    last_at timestamptz,                 -- E, V: max(executed_at)
    CONSTRAINT logs_rollup_key UNIQUE NULLS NOT DISTINCT (client_id, kind, grain, bucket, dim1, dim2, status, bin)
);
COMMENT ON TABLE logs_rollup IS 'Metrics rollup of workflow_logs, maintained by triggers (logs/rollups.py).';

CREATE TYPE logs_rollup_input AS (
    client_id bigint, executed_at timestamptz, execution_time_seconds double precision, status text,
    category text, workflow_version text, workflow_error_type text, workflow_error_node text
);

-- Histogram bin: 0 for t < 1 ms, else 1 + floor(log_1.04(t / 1 ms)); see logs/rollups.py.
CREATE FUNCTION logs_rollup_bin(t double precision) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN t IS NULL THEN NULL WHEN t < 0.001 THEN 0
                ELSE least(1 + floor(ln(t / 0.001) / ln(1.04)), 32000) END::smallint
$$;

-- The rollup rows of a set of logs, both grains. Used by the insert trigger, the recount, the
-- rebuild command and, for the partial hours at the edges of a period, by the queries.
CREATE FUNCTION logs_rollup_rows(rows logs_rollup_input[])
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
$$;

CREATE FUNCTION logs_rollup_add(rows logs_rollup_input[]) RETURNS void
LANGUAGE sql VOLATILE AS $$
    INSERT INTO logs_rollup AS t (client_id, grain, bucket, kind, dim1, dim2, status, bin, n, time_n, time_sum, first_at, last_at)
    SELECT * FROM logs_rollup_rows(rows) AS x
    ORDER BY x.client_id, x.kind, x.grain, x.bucket, x.dim1, x.dim2, x.status, x.bin
    ON CONFLICT ON CONSTRAINT logs_rollup_key DO UPDATE SET
        n = t.n + excluded.n,
        time_n = t.time_n + excluded.time_n,
        time_sum = t.time_sum + excluded.time_sum,
        first_at = least(t.first_at, excluded.first_at),
        last_at = greatest(t.last_at, excluded.last_at)
$$;

-- Recount the rollup of one client for the UTC days [day_from, day_to) from workflow_logs.
CREATE FUNCTION logs_rollup_recount(p_client bigint, day_from timestamptz, day_to timestamptz) RETURNS void
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

CREATE FUNCTION logs_rollup_on_insert() RETURNS trigger
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

-- DELETE and UPDATE: recount every touched (client, UTC day) from the table.
CREATE FUNCTION logs_rollup_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    c bigint;
    d timestamptz;
BEGIN
    FOR c IN SELECT DISTINCT client_id FROM old_rows ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(727001, (c % 2147483647)::int);
    END LOOP;
    FOR c, d IN SELECT DISTINCT client_id, date_trunc('day', executed_at, 'UTC') FROM old_rows ORDER BY 1, 2 LOOP
        PERFORM logs_rollup_recount(c, d, d + interval '1 day');
    END LOOP;
    RETURN NULL;
END
$$;

CREATE FUNCTION logs_rollup_on_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    c bigint;
    d timestamptz;
BEGIN
    FOR c IN SELECT client_id FROM old_rows UNION SELECT client_id FROM new_rows ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(727001, (c % 2147483647)::int);
    END LOOP;
    FOR c, d IN SELECT client_id, date_trunc('day', executed_at, 'UTC') FROM old_rows
                UNION SELECT client_id, date_trunc('day', executed_at, 'UTC') FROM new_rows ORDER BY 1, 2 LOOP
        PERFORM logs_rollup_recount(c, d, d + interval '1 day');
    END LOOP;
    RETURN NULL;
END
$$;

CREATE FUNCTION logs_rollup_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE logs_rollup;
    RETURN NULL;
END
$$;

CREATE TRIGGER logs_rollup_insert AFTER INSERT ON workflow_logs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION logs_rollup_on_insert();
CREATE TRIGGER logs_rollup_delete AFTER DELETE ON workflow_logs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION logs_rollup_on_delete();
CREATE TRIGGER logs_rollup_update AFTER UPDATE ON workflow_logs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION logs_rollup_on_update();
CREATE TRIGGER logs_rollup_truncate AFTER TRUNCATE ON workflow_logs
    FOR EACH STATEMENT EXECUTE FUNCTION logs_rollup_on_truncate();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS logs_rollup_insert ON workflow_logs;
DROP TRIGGER IF EXISTS logs_rollup_delete ON workflow_logs;
DROP TRIGGER IF EXISTS logs_rollup_update ON workflow_logs;
DROP TRIGGER IF EXISTS logs_rollup_truncate ON workflow_logs;
DROP FUNCTION IF EXISTS logs_rollup_on_truncate();
DROP FUNCTION IF EXISTS logs_rollup_on_update();
DROP FUNCTION IF EXISTS logs_rollup_on_delete();
DROP FUNCTION IF EXISTS logs_rollup_on_insert();
DROP FUNCTION IF EXISTS logs_rollup_recount(bigint, timestamptz, timestamptz);
DROP FUNCTION IF EXISTS logs_rollup_add(logs_rollup_input[]);
DROP FUNCTION IF EXISTS logs_rollup_rows(logs_rollup_input[]);
DROP FUNCTION IF EXISTS logs_rollup_bin(double precision);
DROP TYPE IF EXISTS logs_rollup_input;
DROP TABLE IF EXISTS logs_rollup;
"""


def forward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        if int(cursor.fetchone()[0]) < 150000:
            raise RuntimeError("Central Logger needs PostgreSQL 15 or newer (UNIQUE NULLS NOT DISTINCT).")
        cursor.execute(FORWARD)


def backward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("logs", "0004_admin_indexes"), ("tenants", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
