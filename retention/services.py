"""Retention: delete each client's logs older than its period, in small batches.

Precedence: a client's own `retention_days` wins; when it is empty, DEFAULT_RETENTION_DAYS
applies; when that is empty too, the client's logs are kept forever.

Safe to run from cron while ingestion continues: each batch is one short statement in its own
transaction (logs/tenant_sql/writes.py `delete_older_than`, served by the (client, executed_at)
index), so locks are held for one batch only and only on the rows being deleted; new logs
(executed_at after the cutoff) are never touched. The client's OpenTelemetry spans and the log
records attached to its traces that started before the cutoff go the same way, in batches of
their own (logs/tenant_sql/traces.py).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from logs.tenant_sql import traces, writes
from tenants.models import Client

DEFAULT_BATCH_SIZE = 5_000


@dataclass
class PruneResult:
    client: Client
    retention_days: int
    cutoff: dt.datetime
    deleted: int  # with dry_run: how many would be deleted
    batches: int
    dry_run: bool
    trace_rows: int = 0  # spans and attached log records (with dry_run: would be)


def _in_batches(delete_batch: Callable[[], int], batch_size: int) -> tuple[int, int]:
    """Run `delete_batch` (one statement, its own transaction) until it deletes less than a full
    batch; (rows deleted, batches)."""
    deleted = batches = 0
    while True:
        with transaction.atomic():
            count = delete_batch()
        if count == 0:
            break
        deleted += count
        batches += 1
        if count < batch_size:
            break
    return deleted, batches


def logs_prune(*, client: Client | None = None, dry_run: bool = False, batch_size: int = DEFAULT_BATCH_SIZE,
               now: dt.datetime | None = None,
               on_result: Callable[[PruneResult], None] | None = None) -> list[PruneResult]:
    """Prune every client with a retention period (or just `client`); one result per such client.

    Clients without a period are skipped (not in the result). `on_result` is called as each
    client finishes, so a long run reports progress.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    now = now or timezone.now()
    clients = [client] if client is not None else list(Client.objects.order_by("slug"))
    results = []
    for each in clients:
        days = each.effective_retention_days
        if days is None:
            continue
        cutoff = now - dt.timedelta(days=days)
        if dry_run:
            result = PruneResult(each, days, cutoff, writes.count_older_than(each, cutoff), 0, True,
                                 traces.count_older_than(each, cutoff))
        else:
            deleted, batches = _in_batches(lambda: writes.delete_older_than(each, cutoff, limit=batch_size), batch_size)
            trace_rows, _ = _in_batches(lambda: traces.delete_older_than(each, cutoff, limit=batch_size), batch_size)
            result = PruneResult(each, days, cutoff, deleted, batches, False, trace_rows)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
