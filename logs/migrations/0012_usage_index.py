"""Index for the token and cost totals of a period (GET /api/v1/metrics/usage): only the runs
that carry usage (received over OpenTelemetry: `metrics.total_tokens`), so the sums read those
runs and no other log, however many a tenant has.

Raw SQL, built CONCURRENTLY so the migration never blocks ingestion (a non-atomic migration).
"""
from django.db import migrations

NAME = "wl_client_usage"


def create(apps, schema_editor):
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {NAME} ON workflow_logs (client_id, executed_at) "
        "WHERE metrics ? 'total_tokens'")


def drop(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("logs", "0011_trace_spans")]
    operations = [migrations.RunPython(create, drop)]
