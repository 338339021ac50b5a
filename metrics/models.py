"""The metrics rollup's tables, as models (unmanaged: migrations 0005-0009 of the logs app create
them, with the triggers that keep them exact; metrics/rollup.py explains the layout).

The request path reads them through logs/tenant_sql/rollup.py; these models make them visible in
code, to the ORM (tests, maintenance) and to operators in the console (metrics/admin.py).
"""
from __future__ import annotations

from django.db import models

from tenants.models import Client


class RollupKind(models.TextChoices):
    STATUS = "S", "per status"
    HISTOGRAM = "H", "execution-time histogram"
    CATEGORY = "C", "per category and status"
    ERROR = "E", "per error type and node"
    VERSION = "V", "per workflow version and status"
    VERSION_HISTOGRAM = "W", "per workflow version histogram"
    ERROR_ISSUE = "F", "per error fingerprint and workflow version"


class RollupRow(models.Model):
    """One row of `logs_rollup`: a client's counts for one hour or day and one kind's dimensions.

    The table's key (logs_rollup_key, UNIQUE NULLS NOT DISTINCT) also covers the nullable dim1,
    dim2 and status, which Django refuses in a composite primary key: this model is for reading
    rows in bulk (aggregates), not for the identity of one row."""

    pk = models.CompositePrimaryKey("client_id", "kind", "grain", "bucket", "bin")
    client = models.ForeignKey(Client, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    grain = models.CharField(max_length=1, help_text="h: UTC hour, d: UTC day")
    bucket = models.DateTimeField(help_text="Start of the hour or day (UTC).")
    kind = models.CharField(max_length=1, choices=RollupKind.choices)
    dim1 = models.TextField(null=True, help_text="C: category; E: error type; V, W: workflow version; "
                                                 "F: error fingerprint.")
    dim2 = models.TextField(null=True, help_text="E: error node; F: workflow version.")
    status = models.TextField(null=True)
    bin = models.SmallIntegerField(help_text="H, W: histogram bin of execution_time_seconds; else -1.")
    n = models.BigIntegerField(help_text="Logs.")
    time_n = models.BigIntegerField(help_text="Logs with an execution time.")
    time_sum = models.FloatField()
    first_at = models.DateTimeField(null=True, help_text="V, F: min(executed_at).")
    last_at = models.DateTimeField(null=True, help_text="E, V, F: max(executed_at).")

    class Meta:
        managed = False
        db_table = "logs_rollup"


class PendingLog(models.Model):
    """One row of `logs_rollup_pending`: an inserted log not yet folded into the rollup (the
    insert trigger appends it; the flusher moves it about once a second). The table has no key:
    rows are only ever read in bulk, and this model's primary key is nominal."""

    pk = models.CompositePrimaryKey("client_id", "executed_at")
    client = models.ForeignKey(Client, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    executed_at = models.DateTimeField()
    execution_time_seconds = models.FloatField(null=True)
    status = models.TextField(null=True)
    category = models.TextField(null=True)
    workflow_version = models.TextField(null=True)
    workflow_error_type = models.TextField(null=True)
    workflow_error_node = models.TextField(null=True)
    error_fingerprint = models.TextField(null=True, help_text="Failing logs only (migration 0010).")

    class Meta:
        managed = False
        db_table = "logs_rollup_pending"


class RollupVersion(models.Model):
    """`logs_rollup_version`: per client, a new number at every change of its rollup rows (the
    readers' cache of summed rows is exact for as long as the number is unchanged)."""

    client = models.OneToOneField(Client, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False,
                                  related_name="+")
    version = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "logs_rollup_version"
        verbose_name = "metrics rollup state"
        verbose_name_plural = "metrics rollup state"
