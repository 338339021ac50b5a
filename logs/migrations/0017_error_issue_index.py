"""The runs of one error issue: a partial expression index on the failing logs' fingerprint.

`GET /api/v1/logs?error_issue=<fingerprint>` (the dashboard's "runs of this issue") and the
issue page's examples read it: (client, fingerprint, executed_at DESC, id DESC), newest first,
only over failing logs (FAILED/ERROR or with an error type), so successful runs, the bulk of
ingestion, pay nothing for it. The filter's SQL (logs/filters.py, ErrorIssueFilter) repeats
this predicate and expression word for word, which is what lets the planner use the index.
Built without locking ingestion out (the migration is non-atomic): `workflow_logs` is
partitioned (0014) and PostgreSQL builds no index CONCURRENTLY on a partitioned table, so the
parent's index is made ON ONLY the parent (empty and invalid), each partition's CONCURRENTLY,
and each is attached; once all are, the parent's index is valid and partitions created later
get theirs with the table.
"""
from django.db import migrations

NAME = "wl_client_error_issue"
COLUMNS = ('("client_id", logs_error_fingerprint("workflow_error_type", "workflow_error_node", "workflow_error"), '
           '"executed_at" DESC, "id" DESC) '
           "WHERE \"status\" IN ('FAILED', 'ERROR') OR \"workflow_error_type\" IS NOT NULL")


def create(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute(f'CREATE INDEX IF NOT EXISTS "{NAME}" ON ONLY "workflow_logs" {COLUMNS}')
        cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       "WHERE i.inhparent = 'workflow_logs'::regclass ORDER BY 1")
        for (partition,) in cursor.fetchall():
            child = f"{partition}_error_issue"[:63]
            cursor.execute(f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{child}" ON "{partition}" {COLUMNS}')
            cursor.execute("SELECT 1 FROM pg_inherits WHERE inhrelid = %s::regclass AND inhparent = %s::regclass",
                           [f'"{child}"', f'"{NAME}"'])
            if cursor.fetchone() is None:
                cursor.execute(f'ALTER INDEX "{NAME}" ATTACH PARTITION "{child}"')


def drop(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        # An index of a partitioned table goes with its partitions' (no CONCURRENTLY for it).
        cursor.execute(f'DROP INDEX IF EXISTS "{NAME}"')


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("logs", "0016_error_fingerprints")]
    operations = [migrations.RunPython(create, drop)]
