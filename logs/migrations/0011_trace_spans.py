"""The OpenTelemetry tables of a tenant: `trace_spans` and `trace_log_records` (otel/ writes them,
logs/tenant_sql/traces.py holds every statement over them). Their JSON columns use lz4 where
the server has it, as workflow_logs' do (0002)."""

import django.db.models.deletion
from django.db import migrations, models


JSON_COLUMNS = {"trace_spans": ("error", "attributes", "events", "links", "resource", "scope"),
                "trace_log_records": ("body", "attributes", "resource", "scope")}


def use_lz4(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)")
        if cursor.fetchone() is None:  # server built without lz4: keep pglz
            return
        for table, columns in JSON_COLUMNS.items():
            for column in columns:
                cursor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4")


class Migration(migrations.Migration):

    dependencies = [
        ('logs', '0010_scrubbed'),
        ('tenants', '0002_membership'),
    ]

    operations = [
        migrations.CreateModel(
            name='TraceLogRecord',
            fields=[
                ('pk', models.CompositePrimaryKey('client', 'trace_id', 'record_id', blank=True, editable=False, primary_key=True, serialize=False)),
                ('trace_id', models.CharField(max_length=32)),
                ('record_id', models.CharField(max_length=32)),
                ('span_id', models.CharField(blank=True, max_length=16, null=True)),
                ('time_ns', models.BigIntegerField()),
                ('severity_number', models.SmallIntegerField(default=0)),
                ('severity_text', models.TextField(blank=True, null=True)),
                ('event_name', models.TextField(blank=True, null=True)),
                ('body', models.JSONField(blank=True, null=True)),
                ('attributes', models.JSONField(default=dict)),
                ('resource', models.JSONField(default=dict)),
                ('scope', models.JSONField(default=dict)),
                ('received_at', models.DateTimeField()),
                ('client', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.client')),
            ],
            options={
                'db_table': 'trace_log_records',
                'indexes': [models.Index(fields=['client', 'time_ns'], name='tlr_client_time')],
            },
        ),
        migrations.CreateModel(
            name='TraceSpan',
            fields=[
                ('pk', models.CompositePrimaryKey('client', 'trace_id', 'span_id', blank=True, editable=False, primary_key=True, serialize=False)),
                ('trace_id', models.CharField(max_length=32)),
                ('span_id', models.CharField(max_length=16)),
                ('parent_span_id', models.CharField(blank=True, max_length=16, null=True)),
                ('name', models.TextField()),
                ('kind', models.SmallIntegerField(default=0)),
                ('start_ns', models.BigIntegerField()),
                ('end_ns', models.BigIntegerField()),
                ('status_code', models.SmallIntegerField(default=0)),
                ('status_message', models.TextField(blank=True, null=True)),
                ('root_rank', models.SmallIntegerField(blank=True, null=True)),
                ('operation', models.CharField(blank=True, max_length=16, null=True)),
                ('model', models.CharField(blank=True, max_length=255, null=True)),
                ('input_tokens', models.BigIntegerField(blank=True, null=True)),
                ('output_tokens', models.BigIntegerField(blank=True, null=True)),
                ('error', models.JSONField(blank=True, null=True)),
                ('attributes', models.JSONField(default=dict)),
                ('events', models.JSONField(default=list)),
                ('links', models.JSONField(default=list)),
                ('resource', models.JSONField(default=dict)),
                ('scope', models.JSONField(default=dict)),
                ('received_at', models.DateTimeField()),
                ('client', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.client')),
            ],
            options={
                'db_table': 'trace_spans',
                'indexes': [models.Index(fields=['client', 'start_ns'], name='ts_client_start')],
            },
        ),
        migrations.RunPython(use_lz4, migrations.RunPython.noop),
    ]
