"""The `scrubbed` column (how many values each scrubbing rule replaced; nullable, so adding it
rewrites nothing), and an update trigger that recounts the rollup only for the rows whose
rollup dimensions changed.

Why the trigger changes: `manage.py scrub_logs` rewrites stored logs' JSON and text in
batches. The old trigger recounted every (client, UTC day) an UPDATE touched from the table,
whatever the UPDATE changed: a batch of 500 scrubbed logs of a busy tenant's day would recount
that whole day, batch after batch. An update that leaves client, executed_at,
execution_time_seconds, status, category, workflow_version, workflow_error_type and
workflow_error_node as they were cannot change any count, so it now recounts nothing; a row
whose dimensions did change (scrub_logs may redact an e-mail in a category) still has its old
and new days recounted exactly as before.
"""
from django.db import migrations, models

DIMENSIONS = ("client_id", "executed_at", "execution_time_seconds", "status", "category", "workflow_version",
              "workflow_error_type", "workflow_error_node")


def _changed(a: str, b: str) -> str:
    left = ", ".join(f"{a}.{column}" for column in DIMENSIONS)
    right = ", ".join(f"{b}.{column}" for column in DIMENSIONS)
    return f"{b}.id IS NULL OR ROW({left}) IS DISTINCT FROM ROW({right})"


FORWARD = f"""
CREATE OR REPLACE FUNCTION logs_rollup_on_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    c bigint;
    d timestamptz;
BEGIN
    -- Only rows whose rollup dimensions changed (or whose id did) need their days recounted.
    FOR c IN SELECT o.client_id FROM old_rows o LEFT JOIN new_rows n ON n.id = o.id WHERE {_changed("o", "n")}
             UNION SELECT n.client_id FROM new_rows n LEFT JOIN old_rows o ON o.id = n.id WHERE {_changed("n", "o")}
             ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(727001, (c % 2147483647)::int);
    END LOOP;
    FOR c, d IN SELECT o.client_id, date_trunc('day', o.executed_at, 'UTC') FROM old_rows o
                    LEFT JOIN new_rows n ON n.id = o.id WHERE {_changed("o", "n")}
                UNION SELECT n.client_id, date_trunc('day', n.executed_at, 'UTC') FROM new_rows n
                    LEFT JOIN old_rows o ON o.id = n.id WHERE {_changed("n", "o")}
                ORDER BY 1, 2 LOOP
        PERFORM logs_rollup_recount(c, d, d + interval '1 day');
    END LOOP;
    RETURN NULL;
END
$$;
"""

# The function of migration 0005: every touched day recounted.
BACKWARD = """
CREATE OR REPLACE FUNCTION logs_rollup_on_update() RETURNS trigger
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
"""


class Migration(migrations.Migration):

    dependencies = [
        ("logs", "0009_list_count_function"),
    ]

    operations = [
        migrations.AddField(
            model_name="workflowlog",
            name="scrubbed",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
