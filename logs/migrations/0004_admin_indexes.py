"""Indexes for the operator console (admin), which lists logs across all tenants.

They are built CONCURRENTLY (the migration is non-atomic), so adding them to a
table that already holds millions of logs does not block ingestion while they build.

Also a trigram index over the error text of failed runs, for the admin's
error-text search (`UPPER(workflow_error) LIKE '%TIMEOUT%'`). It is partial (only rows that carry an error), so
successful runs, the bulk of ingestion, pay nothing for it. Skipped when the pg_trgm extension
cannot be created (no privilege); the search then still works, only slower.
"""
from django.db import migrations, models

EXECUTED = models.Index(fields=["-executed_at", "-id"], name="wl_executed")
TICKET = models.Index(fields=["ticket_id"], name="wl_ticket_pattern", opclasses=["varchar_pattern_ops"])


def create(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute('CREATE INDEX CONCURRENTLY IF NOT EXISTS "wl_executed" '
                       'ON "workflow_logs" ("executed_at" DESC, "id" DESC)')
        cursor.execute('CREATE INDEX CONCURRENTLY IF NOT EXISTS "wl_ticket_pattern" '
                       'ON "workflow_logs" ("ticket_id" varchar_pattern_ops)')
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        if cursor.fetchone() is None:
            return
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception:  # no privilege: keep the (slower) sequential error search
            return
        # Django's icontains is UPPER(col) LIKE UPPER('%term%'): index that expression.
        cursor.execute('CREATE INDEX CONCURRENTLY IF NOT EXISTS "wl_error_trgm" ON "workflow_logs" '
                       'USING gin (UPPER("workflow_error") gin_trgm_ops) WHERE "workflow_error" IS NOT NULL')


def drop(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for name in ("wl_error_trgm", "wl_ticket_pattern", "wl_executed"):
            cursor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("logs", "0003_execution_time_index")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(model_name="workflowlog", index=EXECUTED),
                migrations.AddIndex(model_name="workflowlog", index=TICKET),
            ],
            database_operations=[migrations.RunPython(create, drop)],
        ),
    ]
