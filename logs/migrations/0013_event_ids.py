"""Event ids get a table of their own, `logs_event_ids`: step one of partitioning the log table.

Why: a unique index of a partitioned table must contain the partition key, so `(client_id,
event_id)` could only be unique per `executed_at` once `workflow_logs` is partitioned (0014): a
retry with another executed_at would be stored twice. `logs_event_ids` keeps `(client_id,
event_id)` unique across every partition; the insert statement claims a log's event id there in
the same statement that inserts the log (logs/tenant_sql/writes.py), and a statement trigger
deletes the keys of deleted logs.

Two migrations so a rolling upgrade never fails a request: after this one the table is still the
plain one with its unique (client_id, event_id), so servers of the previous release keep working
(two triggers mirror their inserts and deletes into `logs_event_ids`) beside servers of this
release (which claim event ids in `logs_event_ids`). Run `migrate logs 0013` during the rollout,
`migrate` (0014, the partitioning) once every server runs this release; a single server simply
runs `migrate`. The copy of existing event ids goes on while the service runs, in batches of
20,000, with progress printed.
"""
from __future__ import annotations

import sys
import time

from django.db import migrations

BATCH = 20_000

FUNCTIONS = r"""
CREATE TABLE IF NOT EXISTS logs_event_ids (
    client_id bigint NOT NULL,
    event_id varchar(200) NOT NULL,
    log_id uuid NOT NULL,
    executed_at timestamptz NOT NULL,
    CONSTRAINT logs_event_ids_pkey PRIMARY KEY (client_id, event_id)
);
COMMENT ON TABLE logs_event_ids IS
    'Idempotency keys of stored logs, unique per client across partitions (logs/tenant_sql/writes.py).';

CREATE OR REPLACE FUNCTION logs_event_ids_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM logs_event_ids e USING old_rows o
     WHERE o.event_id IS NOT NULL AND e.client_id = o.client_id AND e.event_id = o.event_id AND e.log_id = o.id;
    RETURN NULL;
END
$$;

-- Only while the migration copies the event ids of an existing table.
CREATE OR REPLACE FUNCTION logs_event_ids_copy() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO logs_event_ids (client_id, event_id, log_id, executed_at)
    SELECT client_id, event_id, id, executed_at FROM new_rows WHERE event_id IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION logs_rollup_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE logs_rollup, logs_rollup_pending, logs_event_ids;
    RETURN NULL;
END
$$;
"""



def _say(message: str) -> None:
    sys.stdout.write(f"\n  logs_event_ids: {message}")
    sys.stdout.flush()


def forward(apps, schema_editor) -> None:  # noqa: ANN001 - migration signature
    """The table and its triggers; then, outside any transaction, the event ids copied in
    batches (the trigger copies those of logs inserted meanwhile)."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = 'workflow_logs'::regclass")
        if cursor.fetchone()[0] == "p":
            return  # partitioned already (0014 applied by hand before this one): nothing to mirror
        cursor.execute(FUNCTIONS)
        cursor.execute("SET statement_timeout = 0")
        for trigger, when, function in (("logs_event_ids_copy", "INSERT", "logs_event_ids_copy"),
                                        ("logs_event_ids_delete", "DELETE", "logs_event_ids_on_delete")):
            table = "NEW TABLE AS new_rows" if when == "INSERT" else "OLD TABLE AS old_rows"
            cursor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON workflow_logs")
            cursor.execute(f"CREATE TRIGGER {trigger} AFTER {when} ON workflow_logs REFERENCING {table} "
                           f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()")
        cursor.execute("SELECT count(*) FROM workflow_logs WHERE event_id IS NOT NULL")
        total, done, key = cursor.fetchone()[0], 0, (-1, "")
        started = time.monotonic()
        while True:
            cursor.execute("SELECT client_id, event_id FROM workflow_logs WHERE event_id IS NOT NULL "
                           "AND (client_id, event_id) > (%s, %s) ORDER BY client_id, event_id OFFSET %s LIMIT 1",
                           [*key, BATCH - 1])
            last = cursor.fetchone()
            # The next BATCH keys in index order (ORDER BY ... LIMIT: read through the unique
            # index; a range condition alone was planned as a scan of the client's rows).
            cursor.execute(
                "INSERT INTO logs_event_ids (client_id, event_id, log_id, executed_at) "
                "SELECT client_id, event_id, id, executed_at FROM workflow_logs WHERE event_id IS NOT NULL "
                "AND (client_id, event_id) > (%s, %s) ORDER BY client_id, event_id LIMIT %s "
                "ON CONFLICT DO NOTHING", [*key, BATCH])
            done = min(total, done + BATCH)
            if last is None:
                break
            key = last
            _say(f"event ids copied: {done}/{total}")
        if total:
            _say(f"{total} event ids copied in {time.monotonic() - started:.1f} s\n")
        cursor.execute("RESET statement_timeout")


def backward(apps, schema_editor) -> None:  # noqa: ANN001 - migration signature
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("""
            DROP TRIGGER IF EXISTS logs_event_ids_copy ON workflow_logs;
            DROP TRIGGER IF EXISTS logs_event_ids_delete ON workflow_logs;
            CREATE OR REPLACE FUNCTION logs_rollup_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN TRUNCATE logs_rollup, logs_rollup_pending; RETURN NULL; END $$;
            DROP FUNCTION IF EXISTS logs_event_ids_copy();
            DROP FUNCTION IF EXISTS logs_event_ids_on_delete();
            DROP TABLE IF EXISTS logs_event_ids;""")


class Migration(migrations.Migration):
    atomic = False  # batches that commit as they go
    dependencies = [("logs", "0012_usage_index")]
    operations = [migrations.RunPython(forward, backward)]
