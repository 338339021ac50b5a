"""Retention: remove each client's logs older than its period, whole partitions where possible.

Precedence: a client's own `retention_days` wins; when it is empty, DEFAULT_RETENTION_DAYS
applies; when that is empty too, the client's logs are kept forever.

Two ways, both safe to run from cron while ingestion continues:

* **Partition drops** (a run over every client): a time partition whose every log is older than
  the cutoff of the client it belongs to (and, if it is empty, older than every client's
  cutoff) is detached with DETACH PARTITION ... CONCURRENTLY and dropped (logs/partitions.py):
  no row is deleted one by one, nothing is left for vacuum. Rows that arrived late for a client
  that keeps them are moved into a partition that covers them first, and the rollup of the
  dropped days is recounted, so metrics stay exact.
* **Deletes within partitions** for what is left (clients with a shorter period than their
  neighbours in a partition): batches, each one short statement in its own transaction
  (logs/tenant_sql/writes.py `delete_older_than`, served by the (client, executed_at) index),
  so locks are held for one batch only and only on the rows being deleted.

The client's OpenTelemetry spans and the log records attached to its traces that started before
the cutoff go by deletes in batches of their own (logs/tenant_sql/traces.py).
"""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from logs import partitions
from logs.tenant_sql import partitions as partition_sql
from logs.tenant_sql import traces, writes
from tenants.models import Client

DEFAULT_BATCH_SIZE = 5_000
RUNNER_WAIT_MS = 30_000  # a maintenance round in progress is waited for this long


@dataclass
class PruneResult:
    client: Client
    retention_days: int
    cutoff: dt.datetime
    deleted: int  # with dry_run: how many would be removed (dropped with partitions included)
    batches: int
    dry_run: bool
    dropped: int = 0  # of `deleted`, the logs removed with whole partitions
    trace_rows: int = 0  # spans and attached log records (with dry_run: would be)


@dataclass
class PartitionDrop:
    partition: partitions.Partition
    logs_by_client: dict[int, int] = field(default_factory=dict)  # slug order is the caller's
    seconds: float = 0.0
    dry_run: bool = False
    steps: dict[str, float] = field(default_factory=dict)  # step of the drop -> seconds


def _cutoffs(clients: list[Client], now: dt.datetime) -> dict[int, dt.datetime]:
    return {c.pk: now - dt.timedelta(days=days) for c in clients
            if (days := c.effective_retention_days) is not None}


def droppable_partitions(cutoffs: dict[int, dt.datetime], clients: int, *, now: dt.datetime) -> list[partitions.Partition]:
    """The partitions that retention may drop whole: ended before `now`, and every log in them
    older than its client's cutoff (an empty one: older than every client's, all `clients`
    having one)."""
    out = []
    for part in partitions.partitions():
        if part.hi is None or part.hi > now:
            continue
        inside = partition_sql.dangerously_clients_in(part.name)
        if inside:
            allowed = all(c in cutoffs and cutoffs[c] >= part.hi for c in inside)
        else:
            allowed = len(cutoffs) == clients and all(cutoff >= part.hi for cutoff in cutoffs.values())
        if allowed:
            out.append(part)
    return out


def partitions_prune(*, dry_run: bool, now: dt.datetime, clients: list[Client],
                     on_drop: Callable[[PartitionDrop], None] | None = None) -> list[PartitionDrop]:
    """Drop (or, with `dry_run`, list) the partitions retention allows; one result each.

    Holds the partition runner lock (one maintenance at a time across processes); when a
    maintenance round keeps it past RUNNER_WAIT_MS, no partition is dropped this time (the
    deletes within partitions still remove what is due)."""
    cutoffs = _cutoffs(clients, now)
    drops: list[PartitionDrop] = []
    if not cutoffs:
        return drops
    with partitions.runner(wait_ms=RUNNER_WAIT_MS) as held:
        if not held:
            return drops
        for part in droppable_partitions(cutoffs, len(clients), now=now):
            drop = PartitionDrop(part, dry_run=dry_run)
            started = time.monotonic()
            if dry_run:
                drop.logs_by_client = partition_sql.dangerously_counts_by_client(part.name)
            else:
                settled = partitions.detach_and_settle(part, cutoffs, now=now)
                drop.logs_by_client, drop.steps = settled.removed, settled.seconds
            drop.seconds = time.monotonic() - started
            drops.append(drop)
            if on_drop is not None:
                on_drop(drop)
    return drops


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
               now: dt.datetime | None = None, on_result: Callable[[PruneResult], None] | None = None,
               on_drop: Callable[[PartitionDrop], None] | None = None) -> list[PruneResult]:
    """Prune every client with a retention period (or just `client`); one result per such client.

    A run over every client first drops the partitions it may (`partitions_prune`); then each
    client's older logs left are deleted in batches. Clients without a period are skipped (not
    in the result). `on_drop` and `on_result` are called as each partition and each client
    finishes, so a long run reports progress."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    now = now or timezone.now()
    everyone = list(Client.objects.order_by("slug"))
    dropped: dict[int, int] = {}
    if client is None:  # one client's run never drops a partition others share
        for drop in partitions_prune(dry_run=dry_run, now=now, clients=everyone, on_drop=on_drop):
            for client_id, count in drop.logs_by_client.items():
                dropped[client_id] = dropped.get(client_id, 0) + count
    results = []
    for each in [client] if client is not None else everyone:
        days = each.effective_retention_days
        if days is None:
            continue
        cutoff = now - dt.timedelta(days=days)
        if dry_run:  # the rows of the partitions it would drop are still there to count
            result = PruneResult(each, days, cutoff, writes.count_older_than(each, cutoff), 0, True,
                                 dropped=dropped.get(each.pk, 0), trace_rows=traces.count_older_than(each, cutoff))
        else:
            deleted, batches = _in_batches(lambda: writes.delete_older_than(each, cutoff, limit=batch_size), batch_size)
            trace_rows, _ = _in_batches(lambda: traces.delete_older_than(each, cutoff, limit=batch_size), batch_size)
            result = PruneResult(each, days, cutoff, deleted + dropped.get(each.pk, 0), batches, False,
                                 dropped=dropped.get(each.pk, 0), trace_rows=trace_rows)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results

