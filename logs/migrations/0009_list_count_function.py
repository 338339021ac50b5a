"""`logs_list_count()`: the total of a log list from the rollup, with plans PostgreSQL keeps.

The list's total (status / category / workflow_version / date filters) is the rollup's stored
counts plus the pending rows and the raw edges of the period, in one snapshot, exactly like the
metrics (logs/rollups.py). Asked through the metrics' general statement it was planned again on
every request: a prepared statement gets custom plans when the generic one looks costlier, and
that statement's range conditions always look costlier without their values (~0.2 ms of
planning and ~0.5 ms of PostgreSQL CPU per list page, measured). This function holds the count's
three small queries with `plan_cache_mode = force_generic_plan`, so each session plans them once.

STABLE: every query inside sees the calling statement's snapshot, so a log is counted either
in the rollup or pending, never both (the flusher moves it in one transaction). `stored` is
NULL when the client's rollup version equals `p_cached` (the caller kept that sum).
"""
from django.db import migrations

FORWARD = r"""
CREATE FUNCTION logs_list_count(
    p_client bigint, p_kind "char", p_statuses text[], p_dims text[],
    p_d0 timestamptz, p_d1 timestamptz, p_ha0 timestamptz, p_ha1 timestamptz,
    p_hb0 timestamptz, p_hb1 timestamptz, p_ra0 timestamptz, p_ra1 timestamptz,
    p_rb0 timestamptz, p_rb1 timestamptz, p_cached bigint,
    OUT version bigint, OUT stored bigint, OUT live bigint)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    -- p_kind: 'S' (status only), 'C' (p_dims are categories) or 'V' (workflow versions).
    version := coalesce((SELECT v.version FROM logs_rollup_version v WHERE v.client_id = p_client), 0);
    IF version IS DISTINCT FROM p_cached THEN
        stored := coalesce((
            SELECT sum(r.n) FROM logs_rollup r
             WHERE r.client_id = p_client AND r.kind = p_kind
               AND (p_statuses IS NULL OR r.status = ANY(p_statuses))
               AND (p_dims IS NULL OR r.dim1 = ANY(p_dims))
               AND ((r.grain = 'd' AND r.bucket >= p_d0 AND r.bucket < p_d1)
                 OR (r.grain = 'h' AND r.bucket >= p_ha0 AND r.bucket < p_ha1)
                 OR (r.grain = 'h' AND r.bucket >= p_hb0 AND r.bucket < p_hb1))), 0);
    END IF;
    live := (
        SELECT count(*) FROM workflow_logs w
         WHERE w.client_id = p_client AND w.executed_at >= p_ra0 AND w.executed_at < p_ra1
           AND (p_statuses IS NULL OR w.status = ANY(p_statuses))
           AND (p_dims IS NULL OR (CASE p_kind WHEN 'C' THEN w.category ELSE w.workflow_version END) = ANY(p_dims))
    ) + (
        SELECT count(*) FROM workflow_logs w
         WHERE w.client_id = p_client AND w.executed_at >= p_rb0
           AND w.executed_at < coalesce(p_rb1, 'infinity')
           AND (p_statuses IS NULL OR w.status = ANY(p_statuses))
           AND (p_dims IS NULL OR (CASE p_kind WHEN 'C' THEN w.category ELSE w.workflow_version END) = ANY(p_dims))
    ) + (
        SELECT count(*) FROM logs_rollup_pending p
         WHERE p.client_id = p_client
           AND ((p.executed_at >= p_d0 AND p.executed_at < p_d1)
             OR (p.executed_at >= p_ha0 AND p.executed_at < p_ha1)
             OR (p.executed_at >= p_hb0 AND p.executed_at < p_hb1))
           AND (p_statuses IS NULL OR p.status = ANY(p_statuses))
           AND (p_dims IS NULL OR (CASE p_kind WHEN 'C' THEN p.category ELSE p.workflow_version END) = ANY(p_dims))
    );
END
$$;
"""

BACKWARD = "DROP FUNCTION IF EXISTS logs_list_count(bigint, \"char\", text[], text[], timestamptz, timestamptz, " \
           "timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, " \
           "timestamptz, bigint);"


def forward(apps, schema_editor):  # noqa: ANN001, ANN201 - migration signature
    schema_editor.execute(FORWARD)


def backward(apps, schema_editor):  # noqa: ANN001, ANN201 - migration signature
    schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("logs", "0008_rollup_version")]
    operations = [migrations.RunPython(forward, backward)]
