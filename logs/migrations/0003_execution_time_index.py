"""Index for "which tickets took longest": ordering=-execution_time_seconds, and scanned backwards,
ordering=execution_time_seconds (logs without a time sort as the smallest value either way).

Raw SQL: the index is built CONCURRENTLY so the migration never blocks ingestion on a large
table (hence a non-atomic migration).
"""
from django.db import migrations

NAME = "wl_client_exec_time"


def create(apps, schema_editor):
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {NAME} ON workflow_logs "
        "(client_id, execution_time_seconds DESC NULLS LAST, id DESC)")


def drop(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("logs", "0002_lz4_json_compression")]
    operations = [migrations.RunPython(create, drop)]
