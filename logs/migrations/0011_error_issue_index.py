"""The runs of one error issue: a partial expression index on the failing logs' fingerprint.

`GET /api/v1/logs?error_issue=<fingerprint>` (the dashboard's "runs of this issue") and the
issue page's examples read it: (client, fingerprint, executed_at DESC, id DESC), newest first,
only over failing logs (FAILED/ERROR or with an error type), so successful runs, the bulk of
ingestion, pay nothing for it. The filter's SQL (logs/filters.py, ErrorIssueFilter) repeats
this predicate and expression word for word, which is what lets the planner use the index.
Built CONCURRENTLY (the migration is non-atomic): no lock on ingestion while it builds.
"""
from django.db import migrations

INDEX = ('CREATE INDEX CONCURRENTLY IF NOT EXISTS "wl_client_error_issue" ON "workflow_logs" '
         '("client_id", logs_error_fingerprint("workflow_error_type", "workflow_error_node", "workflow_error"), '
         '"executed_at" DESC, "id" DESC) '
         "WHERE \"status\" IN ('FAILED', 'ERROR') OR \"workflow_error_type\" IS NOT NULL")


def create(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute(INDEX)


def drop(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute('DROP INDEX CONCURRENTLY IF EXISTS "wl_client_error_issue"')


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("logs", "0010_error_fingerprints")]
    operations = [migrations.RunPython(create, drop)]
